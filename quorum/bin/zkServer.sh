#!/usr/bin/env bash
# zkServer.sh: drop-in for Apache ZooKeeper's bin/zkServer.sh that runs a
# member of zkfc's ZooKeeper-compatible quorum instead of the JVM server.
#
#   zkServer.sh [--config <dir>] {start|start-foreground|stop|restart|status|version|print-cmd} [zoo.cfg]
#
# The member is `zkfc quorum --zoo-cfg <cfg>`; SERVER_JVMFLAGS and JVMFLAGS
# reach it through the environment (it reads -Dkey=value from them).
# The binary is $ZKFC_BIN, else ../../bin/zkfc next to this script's real
# location, else zkfc on PATH.
#
# Configuration is found as ZooKeeper finds it: the [zoo.cfg] argument (a
# bare name is looked up in the config dir), else $ZOOCFGDIR/$ZOOCFG
# (ZOOCFG defaults to zoo.cfg), else ../conf/zoo.cfg next to this script.
#
# Environment: ZOO_LOG_DIR (daemon output, default ../logs next to this
# script), ZOOPIDFILE (default <dataDir>/zookeeper_server.pid),
# ZOO_START_TIMEOUT and ZOO_STOP_TIMEOUT (seconds, default 30),
# ZOO_QUORUM_WAIT (seconds start waits for an ensemble member's port,
# default 5).

set -u

script=$(readlink -f -- "${BASH_SOURCE[0]}")
ZOOBINDIR=$(dirname -- "$script")

if [ "${1:-}" = "--config" ]; then
    if [ $# -lt 2 ]; then
        echo "zkServer.sh: --config needs a directory" >&2
        exit 2
    fi
    ZOOCFGDIR=$2
    shift 2
fi
ZOOCFGDIR=${ZOOCFGDIR:-$(dirname -- "$ZOOBINDIR")/conf}
ZOOCFG="$ZOOCFGDIR/${ZOOCFG:-zoo.cfg}"
if [ -n "${2:-}" ]; then
    # As ZooKeeper: a bare name lives in the config dir, a path is used as is.
    case $2 in
        */*) ZOOCFG=$2 ;;
        *) ZOOCFG="$ZOOCFGDIR/$2" ;;
    esac
fi

find_zkfc() {
    if [ -n "${ZKFC_BIN:-}" ]; then
        echo "$ZKFC_BIN"
    elif [ -x "$ZOOBINDIR/../../bin/zkfc" ]; then
        readlink -f -- "$ZOOBINDIR/../../bin/zkfc"
    else
        command -v zkfc
    fi
}

usage() {
    echo "Usage: $0 [--config <conf-dir>] {start|start-foreground|stop|restart|status|version|print-cmd} [zoo.cfg]" >&2
}

if [ $# -lt 1 ]; then
    usage
    exit 2
fi

ZKFC=$(find_zkfc) || true
if [ -z "$ZKFC" ] || [ ! -x "$ZKFC" ]; then
    echo "zkServer.sh: zkfc binary not found; set ZKFC_BIN, build bin/zkfc (make build), or put zkfc on PATH" >&2
    exit 1
fi
export SERVER_JVMFLAGS="${SERVER_JVMFLAGS:-}" JVMFLAGS="${JVMFLAGS:-}"

# resolve reads the settings the member will use (the real parser decides,
# including myid and server.N client addresses) into cfg_* variables.
resolve() {
    local out line
    if ! out=$(timeout 30 "$ZKFC" quorum --zoo-cfg "$ZOOCFG" --check 2>&1); then
        echo "$out" >&2
        return 1
    fi
    while IFS= read -r line; do
        case $line in
            dataDir=*) cfg_dataDir=${line#dataDir=} ;;
            clientHost=*) cfg_clientHost=${line#clientHost=} ;;
            clientPort=*) cfg_clientPort=${line#clientPort=} ;;
            mode=*) cfg_mode=${line#mode=} ;;
        esac
    done <<< "$out"
    ZOOPIDFILE=${ZOOPIDFILE:-$cfg_dataDir/zookeeper_server.pid}
    # Where to ask: the bound address, or IPv4 loopback when bound to all
    # (not "localhost", which may resolve to ::1 first).
    case ${cfg_clientHost:-} in
        "" | 0.0.0.0 | "::" | "[::]") cfg_askHost=127.0.0.1 ;;
        *) cfg_askHost=$cfg_clientHost ;;
    esac
}

# srvr HOST PORT prints the member's answer to the srvr four-letter word
# (always whitelisted), using bash's /dev/tcp so no nc is needed.
srvr() {
    timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf srvr >&3 && cat <&3' _ "$1" "$2" 2>/dev/null
}

running_pid() {
    local pid
    [ -f "$ZOOPIDFILE" ] || return 1
    pid=$(cat "$ZOOPIDFILE" 2>/dev/null)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
    local pid i out
    echo "Using config: $ZOOCFG" >&2
    resolve || exit 1
    if pid=$(running_pid); then
        echo "zkfc quorum already running as process $pid."
        exit 1
    fi
    ZOO_LOG_DIR=${ZOO_LOG_DIR:-$(dirname -- "$ZOOBINDIR")/logs}
    if ! mkdir -p "$ZOO_LOG_DIR" 2>/dev/null || [ ! -w "$ZOO_LOG_DIR" ]; then
        echo "zkServer.sh: log directory $ZOO_LOG_DIR is not writable; set ZOO_LOG_DIR" >&2
        exit 1
    fi
    out="$ZOO_LOG_DIR/zookeeper-${USER:-$(id -un)}-server-$(hostname).out"
    mkdir -p "$(dirname -- "$ZOOPIDFILE")"
    echo -n "Starting zookeeper ... "
    nohup "$ZKFC" quorum --zoo-cfg "$ZOOCFG" > "$out" 2>&1 < /dev/null &
    pid=$!
    if ! echo "$pid" > "$ZOOPIDFILE"; then
        echo "FAILED TO WRITE PID FILE $ZOOPIDFILE"
        kill -TERM "$pid"
        exit 1
    fi
    # Wait until the client port answers, or the process dies. A member of
    # an ensemble may only open its port once a majority is up, and the
    # members are started one by one: for those, a live process after
    # ZOO_QUORUM_WAIT seconds counts as started.
    local start_wait=${ZOO_START_TIMEOUT:-30}
    if [ "${cfg_mode:-}" = quorum ]; then
        start_wait=${ZOO_QUORUM_WAIT:-5}
    fi
    for ((i = 0; i < start_wait * 4; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "FAILED TO START"
            tail -n 20 "$out" >&2
            rm -f "$ZOOPIDFILE"
            exit 1
        fi
        if srvr "$cfg_askHost" "$cfg_clientPort" | grep -q .; then
            echo "STARTED"
            return 0
        fi
        sleep 0.25
    done
    if [ "${cfg_mode:-}" = quorum ]; then
        echo "STARTED (port $cfg_clientPort answers once a majority of the ensemble is up)"
        return 0
    fi
    echo "FAILED TO START (port $cfg_clientPort did not answer within ${start_wait}s; see $out)"
    kill -TERM "$pid" 2>/dev/null
    rm -f "$ZOOPIDFILE"
    exit 1
}

stop() {
    local pid i
    echo "Using config: $ZOOCFG" >&2
    resolve || exit 1
    echo -n "Stopping zookeeper ... "
    if [ ! -f "$ZOOPIDFILE" ]; then
        echo "no zookeeper to stop (could not find file $ZOOPIDFILE)"
        return 0
    fi
    if ! pid=$(running_pid); then
        rm -f "$ZOOPIDFILE"
        echo "STOPPED (process was not running)"
        return 0
    fi
    # SIGTERM lets the member finish acknowledged writes; no SIGKILL here.
    kill -TERM "$pid"
    for ((i = 0; i < ${ZOO_STOP_TIMEOUT:-30} * 4; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$ZOOPIDFILE"
            echo "STOPPED"
            return 0
        fi
        sleep 0.25
    done
    echo "FAILED TO STOP (process $pid still running after ${ZOO_STOP_TIMEOUT:-30}s)"
    exit 1
}

status() {
    local out mode
    echo "Using config: $ZOOCFG" >&2
    resolve || exit 1
    echo "Client port found: $cfg_clientPort. Client address: $cfg_askHost. Client SSL: false."
    out=$(srvr "$cfg_askHost" "$cfg_clientPort")
    mode=$(printf '%s\n' "$out" | sed -n 's/^Mode: //p')
    if [ -z "$mode" ]; then
        echo "Error contacting service. It is probably not running."
        exit 1
    fi
    echo "Mode: $mode"
}

case $1 in
    start)
        start
        ;;
    start-foreground)
        # exec: signals (and the exit status) go straight to the member.
        exec "$ZKFC" quorum --zoo-cfg "$ZOOCFG"
        ;;
    print-cmd)
        printf 'SERVER_JVMFLAGS=%q JVMFLAGS=%q %q quorum --zoo-cfg %q\n' "$SERVER_JVMFLAGS" "$JVMFLAGS" "$ZKFC" "$ZOOCFG"
        ;;
    stop)
        stop
        ;;
    restart)
        shift
        "$0" ${ZOOCFGDIR:+--config "$ZOOCFGDIR"} stop "$@"
        sleep 1
        "$0" ${ZOOCFGDIR:+--config "$ZOOCFGDIR"} start "$@"
        ;;
    status)
        status
        ;;
    version)
        echo "zkfc quorum (Apache ZooKeeper 3.8 compatible): $(timeout 10 "$ZKFC" version)"
        ;;
    *)
        usage
        exit 2
        ;;
esac
