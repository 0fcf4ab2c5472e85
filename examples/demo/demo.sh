#!/usr/bin/env bash
# zkfc demo: two copies of a small example service, each guarded by a zkfc,
# plus a witness; the three zkfc processes host a 3-member quorum between
# them. The demo kills the active service and shows, step by step, how the
# standby takes over. Everything runs on 127.0.0.1 and is stopped and
# removed at the end, whatever happens (Ctrl-C included).
#
# Usage: examples/demo/demo.sh   (or: make demo)
# Environment: ZKFC_BIN, DEMO_BIN (default bin/zkfc, bin/demo-service);
# DEMO_KEEP=1 keeps the working directory (configs and logs) afterwards.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
zkfc="${ZKFC_BIN:-$root/bin/zkfc}"
demo="${DEMO_BIN:-$root/bin/demo-service}"

for tool in curl ss fuser; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is needed (Debian: curl, iproute2, psmisc)" >&2; exit 1; }
done
for b in "$zkfc" "$demo"; do
	[ -x "$b" ] || { echo "demo: $b not found; run 'make build' first (or 'make demo')" >&2; exit 1; }
done

dir="$(mktemp -d "${TMPDIR:-/tmp}/zkfc-demo.XXXXXX")"
pids=()
declare -A names # pid -> what it is

cleanup() {
	local code=$?
	# Nothing may interrupt the cleanup: not a second Ctrl-C, not a failed
	# echo into a closed pipe (demo.sh | head).
	set +e
	trap - EXIT
	trap '' INT TERM HUP PIPE
	if [ "$code" -ne 0 ]; then
		echo
		echo "demo failed (exit $code); last lines of the logs:"
		for f in "$dir"/*.log; do
			[ -f "$f" ] && { echo "--- $f"; tail -n 5 "$f"; }
		done
	fi
	echo
	echo "Cleaning up: stopping ${#pids[@]} processes"
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	# Bounded wait (5 s), then SIGKILL whatever is left.
	for _ in $(seq 50); do
		local alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	if [ "${DEMO_KEEP:-0}" = 1 ]; then
		echo "Kept $dir (configs and logs)"
	else
		rm -rf "$dir"
	fi
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

bold="" plain=""
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
say() { printf '\n%s%s%s\n' "$bold" "$*" "$plain"; }
info() { printf '   %s\n' "$*"; }

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

start() { # start NAME COMMAND...: run in the background, log to $dir/NAME.log
	local name=$1
	shift
	"$@" >"$dir/$name.log" 2>&1 &
	pids+=("$!")
	names[$!]=$name
	disown "$!" # no "Killed" job notices on the terminal; cleanup waits by pid
}

role_of() { curl -fsS --max-time 2 "http://127.0.0.1:$1/role" 2>/dev/null; }
is_active() { [ "$(role_of "$1")" = active ]; }

t_start=$(date +%s.%N)
say "zkfc demo: automatic failover on one machine"
info "Working directory (configs and logs): $dir"
info "(removed at the end; DEMO_KEEP=1 keeps it)"

# Ports: a quorum client and peer port per member, a control port per zkfc,
# a service port per guarded node.
nodes=(nn1 nn2 witness)
declare -A client peer control service svcpid
for n in "${nodes[@]}"; do
	client[$n]=$(free_port); peer[$n]=$(free_port); control[$n]=$(free_port)
done
service[nn1]=$(free_port); service[nn2]=$(free_port)
connect="127.0.0.1:${client[nn1]},127.0.0.1:${client[nn2]},127.0.0.1:${client[witness]}"
members=""
for i in 0 1 2; do
	n=${nodes[$i]}
	members+="    - {id: $((i + 1)), peer: \"127.0.0.1:${peer[$n]}\", client: \"127.0.0.1:${client[$n]}\"}"$'\n'
done

render() { # render TEMPLATE NODE ID > config
	local out
	out=$(sed -e "s|@NODE@|$2|g" -e "s|@ID@|$3|g" -e "s|@DIR@|$dir|g" -e "s|@EXAMPLES@|$root/examples|g" \
		-e "s|@CONNECT@|$connect|g" -e "s|@CONTROL_PORT@|${control[$2]}|g" \
		-e "s|@CLIENT_PORT@|${client[$2]}|g" -e "s|@PEER_PORT@|${peer[$2]}|g" \
		-e "s|@SERVICE_PORT@|${service[$2]:-0}|g" "$1")
	printf '%s\n' "${out/@MEMBERS@/${members%$'\n'}}"
}

say "1. Two copies of the example service (each starts as standby)"
for n in nn1 nn2; do
	start "$n-service" "$demo" --listen "127.0.0.1:${service[$n]}" --roles-file "$dir/roles.jsonl" --name "$n"
	svcpid[$n]=${pids[-1]}
	info "$(printf '%-8s demo-service on 127.0.0.1:%-6s pid %s' "$n" "${service[$n]}" "${pids[-1]}")"
done
for n in nn1 nn2; do wait_for 10 "$n's service" role_of "${service[$n]}"; done

say "2. Three zkfc processes; together they host the 3-member quorum"
render "$here/node.yaml.tmpl" nn1 1 >"$dir/nn1.yaml"
render "$here/node.yaml.tmpl" nn2 2 >"$dir/nn2.yaml"
render "$here/witness.yaml.tmpl" witness 3 >"$dir/witness.yaml"
for n in "${nodes[@]}"; do
	start "$n-zkfc" "$zkfc" run --config "$dir/$n.yaml"
	if [ "$n" = witness ]; then
		info "$(printf '%-8s zkfc, quorum member on :%-6s (the third vote; no service, no control API)' "$n" "${client[$n]}")"
	else
		info "$(printf '%-8s zkfc, quorum member on :%-6s control API on :%-6s guards %s'"'"'s service' "$n" "${client[$n]}" "${control[$n]}" "$n")"
	fi
done

say "3. Format the cluster (once per cluster, like hdfs zkfc -formatZK)"
wait_for 30 "the quorum to serve 'zkfc format'" timeout --foreground 10 "$zkfc" format --config "$dir/nn1.yaml" --non-interactive
info "created /zkfc/demo in the quorum; the two zkfc now hold an election"

say "4. Who is active? (each zkfc health-checks its service every 500 ms; the winner of the lock promotes its own)"
active=""
for _ in $(seq 150); do
	for n in nn1 nn2; do is_active "${service[$n]}" && active=$n; done
	[ -n "$active" ] && break
	sleep 0.2
done
[ -n "$active" ] || { echo "demo: no service became active within 30s" >&2; exit 1; }
standby=nn1
[ "$active" = nn1 ] && standby=nn2
# The other zkfc registers and reports standby once it has seen the
# formatted cluster (it re-checks every 2 s): the drill needs both.
zkfc_role() { [ "$(curl -fsS --max-time 2 "http://127.0.0.1:${control[$1]}/role")" = "$2" ]; }
wait_for 30 "$standby's zkfc to report standby" zkfc_role "$standby" standby
info "zkfc status --url http://127.0.0.1:${control[$active]}   (the active's control API)"
"$zkfc" status --url "http://127.0.0.1:${control[$active]}" | sed -e '/^transitions:/,$d' -e 's/^/     /'

say "5. kill -9 the active service ($active, pid ${svcpid[$active]}) and follow the takeover"
info "What should happen: $active's zkfc sees its health check fail and leaves the"
info "election, keeping its breadcrumb (\"I was active\"); $standby's zkfc takes the lock,"
info "reads the breadcrumb, fences $active, then promotes its own service with a"
info "higher fencing token. 'zkfc drill' runs the kill and follows every zkfc's"
info "control API; t=0 is the kill, lines are in time order."
echo
"$zkfc" drill --url "http://127.0.0.1:${control[$standby]}" --mode exec --exec "kill -9 ${svcpid[$active]}" --timeout 30s |
	sed -e 's/^/   /'

say "6. Summary"
fenced_by=$(grep '"msg":"target fenced"' "$dir/$standby-zkfc.log" | tail -n 1 | grep -o '"method":"[a-z]*"' | cut -d'"' -f4 || true)
info "$(printf '%-8s service: %s' "$standby" "$(role_of "${service[$standby]}")")"
info "$(printf '%-8s service: dead (killed); its zkfc reports %s' "$active" \
	"$(curl -fsS --max-time 2 "http://127.0.0.1:${control[$active]}/role")")"
info "fenced by: ${fenced_by:-?} method (the graceful one cannot demote a dead service)"
info "target: an unhealthy active is replaced within 2 health-check intervals (1 s)"
info "plus fence and promote time; the drill above shows each part."
info "role history with fencing tokens, as the services wrote it ($dir/roles.jsonl):"
# One line per interval (a closed one is written again with its end).
sed -E -e 's/.*"role":"([a-z]+)","token":([0-9]+),"start":"[^T]*T([0-9:]{8}\.[0-9]{3})[^"]*","end":("[^T]*T([0-9:]{8}\.[0-9]{3})[^"]*"|null).*"name":"([^"]*)".*/\6 \1 \2 \3 \5/' \
	"$dir/roles.jsonl" | awk '{ end[$1" "$3] = $5; if (!(($1" "$3) in start)) { order[n++] = $1" "$3; start[$1" "$3] = $4; role[$1" "$3] = $2 } }
	END { for (i = 0; i < n; i++) { k = order[i]; split(k, a, " ")
		printf "     %-4s %-7s token %-3s from %s to %s\n", a[1], role[k], a[2], start[k], (end[k] == "" ? "(open: killed or still active)" : end[k]) } }'
awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "\n   demo finished in %.1fs\n", b - a }'
