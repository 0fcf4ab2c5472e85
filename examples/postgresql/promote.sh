#!/bin/sh
# actions.promote: end recovery (pg_promote waits until the server accepts
# writes), then store zkfc's fencing token in the database, so that a
# client can refuse a server whose token is older than one it has seen.
# A server that is already primary (zkfc starting on it) only gets the
# token.
. "$(dirname "$0")/common.sh"
: "${ZKFC_FENCING_TOKEN:?zkfc sets ZKFC_FENCING_TOKEN}"
r="$(q 'SELECT pg_is_in_recovery()')" || { echo "promote.sh: server on $PG_HOST:$PG_PORT does not answer" >&2; exit 1; }
if [ "$r" = t ]; then
	[ "$(q 'SELECT pg_promote(true, 30)')" = t ] || { echo "promote.sh: pg_promote did not finish within 30 s" >&2; exit 1; }
fi
# synchronous_commit=local: the token must not wait for a synchronous
# standby that may be the very server this promotion replaces.
q "SET synchronous_commit = local;
CREATE SCHEMA IF NOT EXISTS zkfc;
CREATE TABLE IF NOT EXISTS zkfc.fencing (id int PRIMARY KEY CHECK (id = 1), token bigint NOT NULL, node text NOT NULL, at timestamptz NOT NULL);
INSERT INTO zkfc.fencing VALUES (1, $ZKFC_FENCING_TOKEN, '${ZKFC_NODE_ID:-}', now())
  ON CONFLICT (id) DO UPDATE SET token = excluded.token, node = excluded.node, at = excluded.at
  WHERE zkfc.fencing.token < excluded.token;" >/dev/null || exit 1
got="$(q 'SELECT token FROM zkfc.fencing')"
[ "$got" -ge "$ZKFC_FENCING_TOKEN" ] || { echo "promote.sh: stored token $got < $ZKFC_FENCING_TOKEN" >&2; exit 1; }
