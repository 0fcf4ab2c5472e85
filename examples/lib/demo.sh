# Sourced by the guided demos (examples/demo/demo.sh,
# examples/postgresql/demo.sh): what a demo of three zkfc on one machine
# needs besides its own story. Bash only; the caller has `set -euo pipefail`.
#
#   need_tools, need_built TARGET FILE...   say what to install or build
#   workdir PREFIX        a fresh $dir, removed with everything started in
#                         it when the demo ends (Ctrl-C included)
#   start NAME CMD...     run in the background, output to $dir/NAME.log;
#                         forget PID after killing one on purpose
#   wait_for SECONDS WHAT CMD...   poll, bounded, failing early if a
#                         started process died
#   free_port, cluster_ports NODE..., render TEMPLATE NODE ID
#   say, info, zkfc_role NODE ROLE, finished
#
# A demo may define on_cleanup, run after its processes are stopped, and
# set cleanup_also to name what on_cleanup stops.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
zkfc="${ZKFC_BIN:-$root/bin/zkfc}"

need_tools() {
	local tool
	for tool in curl ss fuser; do
		command -v "$tool" >/dev/null || { echo "demo: $tool is needed (Debian: curl, iproute2, psmisc)" >&2; exit 1; }
	done
}

need_built() { # need_built MAKE_TARGET FILE...
	local target=$1 b
	shift
	for b in "$@"; do
		[ -x "$b" ] || { echo "demo: $b not found; run 'make build' first (or 'make $target')" >&2; exit 1; }
	done
}

pids=()
declare -A names # pid -> what it is (its log is $dir/NAME.log)
cleanup_also=""

workdir() { # workdir PREFIX: sets dir and t_start, and the cleanup traps
	dir="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
	t_start=$(date +%s.%N)
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	trap 'exit 129' HUP
	trap 'exit 141' PIPE
}

cleanup() {
	local code=$? f p
	# Nothing may interrupt the cleanup: not a second Ctrl-C, not a failed
	# echo into a closed pipe (demo.sh | head).
	set +e
	trap - EXIT
	trap '' INT TERM HUP PIPE
	if [ "$code" -ne 0 ]; then
		echo
		echo "demo failed (exit $code); last lines of the logs:"
		for f in "$dir"/*.log "$dir"/*/*.log; do
			[ -f "$f" ] && { echo "--- $f"; tail -n 5 "$f"; }
		done
	fi
	echo
	echo "Cleaning up: stopping ${#pids[@]} processes${cleanup_also:+, $cleanup_also}"
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	# Bounded wait (5 s), then SIGKILL whatever is left.
	for _ in $(seq 50); do
		local alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	declare -F on_cleanup >/dev/null && on_cleanup
	if [ "${DEMO_KEEP:-0}" = 1 ]; then
		echo "Kept $dir"
	else
		rm -rf "$dir"
	fi
	exit "$code"
}

bold="" plain=""
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
say() { printf '\n%s%s%s\n' "$bold" "$*" "$plain"; }
info() { printf '   %s\n' "$*"; }

start() { # start NAME COMMAND...: run in the background, log to $dir/NAME.log
	local name=$1
	shift
	"$@" >>"$dir/$name.log" 2>&1 &
	pids+=("$!")
	names[$!]=$name
	disown "$!" # no "Killed" job notices on the terminal; cleanup waits by pid
}

forget() { # forget PID: the demo killed it on purpose; all_alive no longer asks
	local p kept=()
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
	pids=("${kept[@]}")
}

# all_alive: fail at once, with the reason, if a process we started died.
all_alive() {
	local p
	for p in "${pids[@]}"; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "demo: ${names[$p]} (pid $p) exited; its log says:" >&2
			tail -n 3 "$dir/${names[$p]}.log" >&2
			return 1
		fi
	done
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s.
wait_for() {
	local limit=$1 what=$2
	shift 2
	local i=0
	until "$@" >/dev/null 2>&1; do
		all_alive
		i=$((i + 1))
		if [ "$i" -gt $((limit * 5)) ]; then
			echo "demo: timed out after ${limit}s waiting for $what" >&2
			return 1
		fi
		sleep 0.2
	done
}

# free_port: a loopback port nobody listens on, not handed out before,
# below the kernel's range for outgoing connections (which could take it
# between this check and the listen).
used=" "
read -r eph_low _ </proc/sys/net/ipv4/ip_local_port_range
port_top=$((eph_low > 12000 ? eph_low : 32768))
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((10000 + RANDOM % (port_top - 10000)))
		case "$used" in *" $p "*) continue ;; esac
		if [ -z "$(ss -Hltn "sport = :$p")" ]; then
			used="$used$p "
			echo "$p"
			return 0
		fi
	done
	echo "demo: no free port found" >&2
	return 1
}

# cluster_ports NODE...: a quorum client and peer port and a control port
# per node; connect is the quorum's connect string and members its member
# list for @MEMBERS@, ids 1, 2, ... in the order given. The demo adds a
# service port per guarded node (service[NODE]).
declare -A client peer control service
cluster_ports() {
	local n i=0
	connect="" members=""
	for n in "$@"; do
		i=$((i + 1))
		client[$n]=$(free_port)
		peer[$n]=$(free_port)
		control[$n]=$(free_port)
		connect+="${connect:+,}127.0.0.1:${client[$n]}"
		members+="    - {id: $i, peer: \"127.0.0.1:${peer[$n]}\", client: \"127.0.0.1:${client[$n]}\"}"$'\n'
	done
}

render() { # render TEMPLATE NODE ID > config
	local out
	out=$(sed -e "s|@NODE@|$2|g" -e "s|@ID@|$3|g" -e "s|@DIR@|$dir|g" -e "s|@EXAMPLES@|$root/examples|g" \
		-e "s|@CONNECT@|$connect|g" -e "s|@CONTROL_PORT@|${control[$2]}|g" \
		-e "s|@CLIENT_PORT@|${client[$2]}|g" -e "s|@PEER_PORT@|${peer[$2]}|g" \
		-e "s|@SERVICE_PORT@|${service[$2]:-0}|g" "$1")
	printf '%s\n' "${out/@MEMBERS@/${members%$'\n'}}"
}

# zkfc_role NODE ROLE: NODE's zkfc reports ROLE on its control API.
zkfc_role() { [ "$(curl -fsS --max-time 2 "http://127.0.0.1:${control[$1]}/role")" = "$2" ]; }

finished() {
	awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "\n   demo finished in %.1fs\n", b - a }'
}
