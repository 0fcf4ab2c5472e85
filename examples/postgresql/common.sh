# Sourced by every action script of the PostgreSQL example. zkfc passes
# the node's settings through actions.*.env (see README.md):
#   PGDATA         the data directory (required)
#   PG_HOST        address the server listens on and is reached at (default 127.0.0.1)
#   PG_PORT        its port (default 5432)
#   PGBIN          PostgreSQL's programs (default /usr/lib/postgresql/15/bin)
#   PG_OS_USER     the account the server runs as when zkfc runs as root (default postgres)
#   PG_SUPERUSER   database role for these scripts and pg_rewind's source connection (default postgres)
#   PG_REPL_USER   role the standby streams as (default: PG_SUPERUSER)
#   PG_STOP_TIMEOUT  seconds a fast shutdown may take before an immediate one (default 5);
#                  0: immediate at once, for a demote that must fit a
#                  self-fencing margin (lease_expired)
# zkfc adds ZKFC_NODE_ID (the standby's application_name), and per action
# ZKFC_FENCING_TOKEN, ZKFC_ACTIVE_* or ZKFC_SYNC_STANDBY.
set -u
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_OS_USER="${PG_OS_USER:-postgres}"
PG_SUPERUSER="${PG_SUPERUSER:-postgres}"
PG_REPL_USER="${PG_REPL_USER:-$PG_SUPERUSER}"
PG_STOP_TIMEOUT="${PG_STOP_TIMEOUT:-5}"
: "${PGDATA:?PGDATA must name the data directory (actions.*.env)}"
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-2}"

# as_pg runs a server-side program as PG_OS_USER: PostgreSQL refuses to
# run as root, and zkfc may well be root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$PG_OS_USER" -- "$@"
	else
		"$@"
	fi
}

# q runs SQL on the local server, each argument in its own transaction
# but all in one session (one psql, one connection: on a loaded host each
# costs a process start and a backend), and prints the unaligned results.
# statement_timeout keeps a query behind a stuck lock from outliving the
# action's own deadline.
q() {
	n=$#
	for s; do set -- "$@" -c "$s"; done
	shift "$n"
	PGOPTIONS="-c statement_timeout=${PG_STATEMENT_TIMEOUT:-3000} -c client_min_messages=warning" \
		"$PGBIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"
}

# running: the postmaster of PGDATA is alive (postmaster.pid names it).
running() {
	as_pg "$PGBIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

postmaster_pid() {
	head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null
}

# start starts the server with this node's address and port on the
# command line rather than in postgresql.conf: pg_rewind copies the
# configuration files from the other node, so nothing node-specific may
# live there. No Unix socket: every script connects over TCP.
start() {
	as_pg "$PGBIN/pg_ctl" start -D "$PGDATA" -w -t "${PG_START_TIMEOUT:-60}" -l "$PGDATA/../$(basename "$PGDATA").log" \
		-o "-c listen_addresses=$PG_HOST -c port=$PG_PORT -c unix_socket_directories=''" >/dev/null
}

# gone PID SECONDS: the postmaster PID has exited (its postmaster.pid
# removed, or the process gone), polled every 20 ms for about SECONDS.
# pg_ctl stop -w polls every 100 ms, which a switchover's write outage
# would wait out; and only builtins but sleep, since on a loaded host
# every fork counts.
gone() {
	i=0
	while [ "$i" -lt $(($2 * 50)) ]; do
		p=
		read -r p 2>/dev/null <"$PGDATA/postmaster.pid"
		[ "$p" = "$1" ] && kill -0 "$1" 2>/dev/null || return 0
		sleep 0.02
		i=$((i + 1))
	done
	return 1
}

# stop shuts the server down: fast (clients disconnected, a clean
# checkpoint, which pg_rewind prefers), then immediate, then SIGKILL of
# the postmaster and every process it forked, which also works on a
# postmaster frozen by SIGSTOP. It returns only once nothing of the
# server runs, so a caller may rely on it as a fence.
stop() {
	running || return 0
	pid="$(postmaster_pid)"
	# A frozen postmaster (SIGSTOP, a hung host) would make pg_ctl wait
	# out both timeouts for nothing: go straight to SIGKILL.
	# A fast shutdown also waits for the WAL senders to pass the shutdown
	# checkpoint on, which a standby behind a partition never takes.
	if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != T ]; then
		if [ "$PG_STOP_TIMEOUT" -gt 0 ]; then
			as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -W >/dev/null 2>&1 && gone "$pid" "$PG_STOP_TIMEOUT" && return 0
		fi
		as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m immediate -W >/dev/null 2>&1 && gone "$pid" 2 && return 0
	fi
	if [ -n "$pid" ]; then
		# Children first: a backend outliving its postmaster could still
		# finish a commit for its client.
		pkill -KILL -P "$pid" 2>/dev/null
		kill -KILL "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		pkill -KILL -P "$pid" 2>/dev/null
	fi
	! running
}
