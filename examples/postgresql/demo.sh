#!/usr/bin/env bash
# zkfc guarding PostgreSQL 15 on one machine: a primary and a streaming
# standby, each guarded by a zkfc, plus a witness; the three zkfc host the
# 3-member quorum. A writer commits numbered rows; the demo kills the
# primary's machine (its PostgreSQL and its zkfc, kill -9), shows the
# standby taking over, brings the old machine back and shows it rejoin as
# a standby of the new primary, then proves no acknowledged commit was
# lost. Everything runs on 127.0.0.1 and is stopped and removed at the end.
#
# Usage: examples/postgresql/demo.sh   (or: make demo-postgres)
# Needs postgresql-15 (Debian); as root, PostgreSQL runs as the postgres
# account. ZKFC_BIN (default bin/zkfc); DEMO_KEEP=1 keeps the directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
zkfc="${ZKFC_BIN:-$root/bin/zkfc}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"

for tool in curl ss fuser; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is needed (Debian: curl, iproute2, psmisc)" >&2; exit 1; }
done
[ -x "$zkfc" ] || { echo "demo: $zkfc not found; run 'make build' first (or 'make demo-postgres')" >&2; exit 1; }
[ -x "$PGBIN/postgres" ] || { echo "demo: PostgreSQL 15 not found in $PGBIN (apt-get install -y postgresql-15)" >&2; exit 1; }
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
	echo "demo: as root, PostgreSQL runs as the postgres account, which does not exist" >&2
	exit 1
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/zkfc-pgdemo.XXXXXX")"
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
pids=()
writer_pid=""

pg_env() { # pg_env NODE: the environment the action scripts get for NODE
	echo "PGDATA=$dir/$1/pgdata PG_HOST=127.0.0.1 PG_PORT=${service[$1]} ZKFC_NODE_ID=$1"
}
pg() { # pg NODE SCRIPT [ARGS]: run an example script for NODE
	local n=$1 s=$2
	shift 2
	env $(pg_env "$n") "$here/$s.sh" "$@"
}
sql() { # sql NODE STATEMENT
	PGCONNECT_TIMEOUT=2 "$PGBIN/psql" -h 127.0.0.1 -p "${service[$1]}" -U postgres -d postgres -XAtq -c "$2"
}

cleanup() {
	local code=$?
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
	echo "Cleaning up: the writer, ${#pids[@]} zkfc processes, both PostgreSQL servers"
	[ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 50); do
		local alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for n in pg1 pg2; do
		[ -n "${service[$n]:-}" ] && [ -d "$dir/$n/pgdata" ] && env $(pg_env "$n") sh -c ". '$here/common.sh'; stop"
	done
	if [ "${DEMO_KEEP:-0}" = 1 ]; then
		echo "Kept $dir (configs, data and logs)"
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

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.2 s
	local limit=$1 what=$2
	shift 2
	local i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt $((limit * 5)) ]; then
			echo "demo: timed out after ${limit}s waiting for $what" >&2
			return 1
		fi
		sleep 0.2
	done
}

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

start_zkfc() { # start_zkfc NODE
	"$zkfc" run --config "$dir/$1.yaml" >>"$dir/$1-zkfc.log" 2>&1 &
	pids+=("$!")
	zpid[$1]=$!
	disown "$!"
}
zkfc_role() { [ "$(curl -fsS --max-time 2 "http://127.0.0.1:${control[$1]}/role")" = "$2" ]; }
streaming() { # streaming STANDBY PRIMARY: STANDBY streams from PRIMARY
	[ "$(sql "$2" "SELECT state FROM pg_stat_replication WHERE application_name = '$1'")" = streaming ]
}
# in_sync STANDBY ACTIVE: ACTIVE's zkfc recorded STANDBY as its synchronous
# standby (PostgreSQL says sync a moment before zkfc saw it catch up; only
# zkfc's record makes STANDBY a candidate).
in_sync() { curl -fsS --max-time 2 "http://127.0.0.1:${control[$2]}/status" | grep -q "\"sync\":\"in sync with $1"; }

t_start=$(date +%s.%N)
say "zkfc demo: PostgreSQL 15 primary and standby, automatic failover and rejoin"
info "Working directory (configs, data, logs): $dir (removed at the end; DEMO_KEEP=1 keeps it)"

nodes=(pg1 pg2 witness)
declare -A client peer control service zpid
for n in "${nodes[@]}"; do client[$n]=$(free_port); peer[$n]=$(free_port); control[$n]=$(free_port); done
service[pg1]=$(free_port)
service[pg2]=$(free_port)
connect="127.0.0.1:${client[pg1]},127.0.0.1:${client[pg2]},127.0.0.1:${client[witness]}"
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

say "1. pg1: a new PostgreSQL primary; pg2: a streaming standby made from it (bootstrap.sh)"
for n in pg1 pg2; do
	mkdir -p "$dir/$n"
	[ "$(id -u)" = 0 ] && chown postgres "$dir/$n"
done
pg pg1 bootstrap primary
sql pg1 "CREATE TABLE demo_rows (id bigint PRIMARY KEY, server text NOT NULL, token bigint NOT NULL)" >/dev/null
pg pg2 bootstrap standby 127.0.0.1 "${service[pg1]}"
info "pg1 on 127.0.0.1:${service[pg1]} ($(pg pg1 role)), pg2 on 127.0.0.1:${service[pg2]} ($(pg pg2 role))"

say "2. Three zkfc (pg1's, pg2's, a witness's) hosting the quorum; durable mode (examples/postgresql/node.yaml.tmpl)"
render "$here/node.yaml.tmpl" pg1 1 >"$dir/pg1.yaml"
render "$here/node.yaml.tmpl" pg2 2 >"$dir/pg2.yaml"
render "$here/witness.yaml.tmpl" witness 3 >"$dir/witness.yaml"
start_zkfc witness
start_zkfc pg1
wait_for 60 "the quorum to serve 'zkfc format'" timeout --foreground 10 "$zkfc" format --config "$dir/pg1.yaml" --non-interactive
wait_for 60 "pg1's zkfc to make pg1 active" zkfc_role pg1 active
start_zkfc pg2
wait_for 60 "pg2's zkfc to report standby" zkfc_role pg2 standby
wait_for 60 "pg1's zkfc to record pg2 as its synchronous standby" in_sync pg2 pg1
info "pg1 active (fencing token $(sql pg1 'SELECT token FROM zkfc.fencing')); pg2 its synchronous standby:"
sql pg1 "SELECT '     pg_stat_replication: ' || application_name || ' ' || state || ', ' || sync_state FROM pg_stat_replication"

say "3. A writer commits numbered rows to whichever server holds the current fencing token"
info "Each INSERT takes the token from zkfc.fencing (written by promote.sh) and only"
info "succeeds on the server the token names, never below a token already seen."
acks="$dir/acks.txt"
: >"$acks"
(
	i=0 seen=0
	while :; do
		for n in pg1 pg2; do
			tok=$(sql "$n" "INSERT INTO demo_rows SELECT $i, '$n', token FROM zkfc.fencing WHERE node = '$n' AND token >= $seen RETURNING token" 2>/dev/null) || continue
			if [ -n "$tok" ]; then
				echo "$i $n $tok $(date +%s.%N)" >>"$acks"
				seen=$tok
				i=$((i + 1))
			fi
		done
		sleep 0.02
	done
) &
writer_pid=$!
disown "$writer_pid"
wait_for 30 "the first commits" test -s "$acks"
sleep 2
info "$(wc -l <"$acks") commits acknowledged so far, all by pg1"

say "4. pg1's machine dies: kill -9 of its PostgreSQL and of its zkfc"
t_fault=$(date +%s.%N)
env $(pg_env pg1) sh -c ". '$here/common.sh'; pid=\$(postmaster_pid); pkill -KILL -P \$pid; kill -KILL \$pid"
kill -KILL "${zpid[pg1]}"
info "pg2's zkfc waits for pg1's session to expire (4 s), checks pg2 is the recorded"
info "synchronous standby (durable mode), fences pg1, promotes pg2 with a higher token."
wait_for 60 "pg2 to become active" zkfc_role pg2 active
t_active=$(date +%s.%N)
wait_for 30 "commits on pg2" grep -q ' pg2 ' "$acks"
awk -v a="$t_fault" -v b="$t_active" 'BEGIN { printf "   pg2 active %.1f s after the kill; ", b - a }'
awk -v f="$t_fault" '$4 <= f { last = $4 } $4 > f && !first { first = $4 } END { printf "the writer saw no commit for %.1f s\n", first - last }' "$acks"
"$zkfc" status --url "http://127.0.0.1:${control[pg2]}" | grep -E '^(role|reason|fencing|eligibility|sync|position)' | sed 's/^/     /' || true

say "5. pg1's machine comes back: only its zkfc is started; it rewinds pg1 and starts it as pg2's standby"
t_back=$(date +%s.%N)
start_zkfc pg1
wait_for 90 "pg1 to stream from pg2" streaming pg1 pg2
awk -v a="$t_back" -v b="$(date +%s.%N)" 'BEGIN { printf "   pg1 streams from pg2 %.1f s after its zkfc started (rejoin.sh: pg_rewind, then standby)\n", b - a }'
info "pg1 is now: $(pg pg1 role); pg2's pg_stat_replication:"
sql pg2 "SELECT '     ' || application_name || ' ' || state || ', ' || sync_state FROM pg_stat_replication"

say "6. No acknowledged commit lost"
kill "$writer_pid" 2>/dev/null
wait_for 10 "the writer to stop" sh -c "! kill -0 $writer_pid"
writer_pid=""
sql pg2 "SELECT id FROM demo_rows" | sort -n >"$dir/present.txt"
cut -d' ' -f1 "$acks" | sort -n >"$dir/acked.txt"
missing=$(comm -23 "$dir/acked.txt" "$dir/present.txt" | wc -l)
info "$(wc -l <"$dir/acked.txt") commits acknowledged (by pg1 under token 1, then pg2 under token $(sql pg2 'SELECT token FROM zkfc.fencing')); $(wc -l <"$dir/present.txt") rows on pg2"
if [ "$missing" -ne 0 ]; then
	echo "demo: $missing acknowledged commits are missing on the new primary" >&2
	exit 1
fi
info "every acknowledged commit is on the new primary"
awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "\n   demo finished in %.1fs\n", b - a }'
