#!/bin/sh
# Creates this node's PostgreSQL data directory, once, before zkfc runs:
#   bootstrap.sh primary                      initdb, replication settings, start
#   bootstrap.sh standby PRIMARY_HOST PORT    pg_basebackup from the primary, start streaming
# Settings come from the same environment as the actions (common.sh), plus
#   PG_TRUST_NETS  space-separated networks whose clients are trusted
#                  without a password (default 127.0.0.1/32). Only for
#                  loopback and test networks: between machines, use
#                  scram-sha-256 and a ~/.pgpass (README.md).
#   ZKFC_NODE_ID   this node's zkfc id: the standby's application_name.
. "$(dirname "$0")/common.sh"

case "${1:-}" in
primary)
	[ -e "$PGDATA/PG_VERSION" ] && { echo "bootstrap.sh: $PGDATA already holds a cluster" >&2; exit 1; }
	as_pg "$PGBIN/initdb" -D "$PGDATA" -U "$PG_SUPERUSER" --auth=reject -E UTF8 --locale=C.UTF-8 >/dev/null || exit 1
	# The same on every node (pg_rewind copies these files from the
	# active): what replication and pg_rewind need, nothing node-specific.
	cat >>"$PGDATA/postgresql.conf" <<CONF

# --- zkfc example (examples/postgresql/README.md) ---
wal_level = replica
wal_log_hints = on            # pg_rewind needs it (or data checksums)
full_page_writes = on
hot_standby = on
max_wal_senders = 10
wal_keep_size = 512MB         # WAL a rewound or lagging standby may still need
wal_sender_timeout = 10s
wal_receiver_timeout = 10s
wal_retrieve_retry_interval = 1s   # a standby reconnects within 1 s (not 5) after its primary restarted: in durable mode, commits wait for it
synchronous_commit = on       # with synchronous_standby_names set: wait for the standby's flush
max_connections = 60
logging_collector = off
log_line_prefix = '%m [%p] '
CONF
	{
		echo "# --- zkfc example: trusted networks (PG_TRUST_NETS) ---"
		for net in ${PG_TRUST_NETS:-127.0.0.1/32}; do
			echo "host all all $net trust"
			echo "host replication all $net trust"
		done
	} >"$PGDATA/pg_hba.conf"
	start || exit 1
	;;
standby)
	host="${2:?usage: bootstrap.sh standby PRIMARY_HOST PRIMARY_PORT}" port="${3:?usage: bootstrap.sh standby PRIMARY_HOST PRIMARY_PORT}"
	: "${ZKFC_NODE_ID:?ZKFC_NODE_ID names this node (the standby's application_name)}"
	[ -e "$PGDATA/PG_VERSION" ] && { echo "bootstrap.sh: $PGDATA already holds a cluster" >&2; exit 1; }
	as_pg "$PGBIN/pg_basebackup" -D "$PGDATA" -h "$host" -p "$port" -U "$PG_REPL_USER" -X stream -c fast || exit 1
	echo "primary_conninfo = 'host=$host port=$port user=$PG_REPL_USER application_name=$ZKFC_NODE_ID connect_timeout=2'" |
		as_pg tee -a "$PGDATA/postgresql.auto.conf" >/dev/null
	as_pg touch "$PGDATA/standby.signal"
	start || exit 1
	;;
*)
	echo "usage: bootstrap.sh primary | standby PRIMARY_HOST PRIMARY_PORT" >&2
	exit 2
	;;
esac
