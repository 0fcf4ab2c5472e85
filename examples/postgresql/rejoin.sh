#!/bin/sh
# actions.rejoin: make this server a streaming standby of the active node
# (ZKFC_ACTIVE_HOST:ZKFC_ACTIVE_PORT). Already a standby of it: done.
# Otherwise stop it, rewind it onto the active's timeline with pg_rewind
# (which only copies what diverged; "no rewind required" when nothing
# did), point primary_conninfo at the active with application_name set to
# this node's id (what synchronous_standby_names names), and start it in
# standby mode.
. "$(dirname "$0")/common.sh"
: "${ZKFC_ACTIVE_HOST:?}" "${ZKFC_ACTIVE_PORT:?}" "${ZKFC_NODE_ID:?}"
if running && [ "$(q 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]; then
	# primary_conninfo, not pg_stat_wal_receiver: a standby whose
	# receiver is reconnecting (the primary restarted in place) must not
	# be stopped and rewound for that.
	case " $(q "SELECT current_setting('primary_conninfo')" 2>/dev/null) " in
	*" host=$ZKFC_ACTIVE_HOST port=$ZKFC_ACTIVE_PORT "*) exit 0 ;;
	esac
fi
stop || { echo "rejoin.sh: cannot stop the server of $PGDATA" >&2; exit 1; }
# pg_rewind reads the source's timeline from its control file, which only
# a checkpoint updates after a promotion: without one it may find "no
# rewind required" on a diverged server (pg_rewind's documentation asks
# for it). Taken here rather than in promote.sh, off the promotion's path.
(PG_HOST="$ZKFC_ACTIVE_HOST" PG_PORT="$ZKFC_ACTIVE_PORT" PG_STATEMENT_TIMEOUT=60000 && q 'CHECKPOINT' >/dev/null) ||
	{ echo "rejoin.sh: CHECKPOINT on the active $ZKFC_ACTIVE_HOST:$ZKFC_ACTIVE_PORT failed" >&2; exit 1; }
as_pg "$PGBIN/pg_rewind" -D "$PGDATA" \
	--source-server="host=$ZKFC_ACTIVE_HOST port=$ZKFC_ACTIVE_PORT user=$PG_SUPERUSER dbname=postgres connect_timeout=5" ||
	{ echo "rejoin.sh: pg_rewind from $ZKFC_ACTIVE_HOST:$ZKFC_ACTIVE_PORT failed" >&2; exit 1; }
# pg_rewind copied the active's postgresql.auto.conf: drop what only
# makes sense on a primary, and point this standby at the active.
auto="$PGDATA/postgresql.auto.conf"
grep -v -e '^primary_conninfo' -e '^synchronous_standby_names' "$auto" >"$auto.new" 2>/dev/null
echo "primary_conninfo = 'host=$ZKFC_ACTIVE_HOST port=$ZKFC_ACTIVE_PORT user=$PG_REPL_USER application_name=$ZKFC_NODE_ID connect_timeout=2'" >>"$auto.new"
mv "$auto.new" "$auto" && chown "$PG_OS_USER" "$auto" 2>/dev/null
as_pg touch "$PGDATA/standby.signal"
start || { echo "rejoin.sh: the standby of $PGDATA did not start" >&2; exit 1; }
