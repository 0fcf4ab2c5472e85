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
. "$here/../lib/demo.sh"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"

need_tools
need_built demo-postgres "$zkfc"
[ -x "$PGBIN/postgres" ] || { echo "demo: PostgreSQL 15 not found in $PGBIN (apt-get install -y postgresql-15)" >&2; exit 1; }
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
	echo "demo: as root, PostgreSQL runs as the postgres account, which does not exist" >&2
	exit 1
fi

workdir zkfc-pgdemo
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
writer_pid=""
declare -A zpid

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

# After the zkfc processes are stopped (so that none starts a server
# again): the writer and both PostgreSQL servers.
cleanup_also="the writer, both PostgreSQL servers"
on_cleanup() {
	local n
	[ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null
	for n in pg1 pg2; do
		[ -n "${service[$n]:-}" ] && [ -d "$dir/$n/pgdata" ] && env $(pg_env "$n") sh -c ". '$here/common.sh'; stop"
	done
}

start_zkfc() { # start_zkfc NODE
	start "$1-zkfc" "$zkfc" run --config "$dir/$1.yaml"
	zpid[$1]=${pids[-1]}
}
streaming() { # streaming STANDBY PRIMARY: STANDBY streams from PRIMARY
	[ "$(sql "$2" "SELECT state FROM pg_stat_replication WHERE application_name = '$1'")" = streaming ]
}
# in_sync STANDBY ACTIVE: ACTIVE's zkfc recorded STANDBY as its synchronous
# standby (PostgreSQL says sync a moment before zkfc saw it catch up; only
# zkfc's record makes STANDBY a candidate).
in_sync() { curl -fsS --max-time 2 "http://127.0.0.1:${control[$2]}/status" | grep -q "\"sync\":\"in sync with $1"; }

say "zkfc demo: PostgreSQL 15 primary and standby, automatic failover and rejoin"
info "Working directory (configs, data, logs): $dir (removed at the end; DEMO_KEEP=1 keeps it)"

cluster_ports pg1 pg2 witness
service[pg1]=$(free_port)
service[pg2]=$(free_port)

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
forget "${zpid[pg1]}"
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
finished
