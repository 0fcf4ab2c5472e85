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
. "$here/../lib/demo.sh"
demo="${DEMO_BIN:-$root/bin/demo-service}"

need_tools
need_built demo "$zkfc" "$demo"
workdir zkfc-demo
declare -A svcpid

role_of() { curl -fsS --max-time 2 "http://127.0.0.1:$1/role" 2>/dev/null; }
is_active() { [ "$(role_of "$1")" = active ]; }

say "zkfc demo: automatic failover on one machine"
info "Working directory (configs and logs): $dir"
info "(removed at the end; DEMO_KEEP=1 keeps it)"

# Ports: a quorum client and peer port per member, a control port per zkfc,
# a service port per guarded node.
nodes=(nn1 nn2 witness)
cluster_ports "${nodes[@]}"
service[nn1]=$(free_port)
service[nn2]=$(free_port)

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
finished
