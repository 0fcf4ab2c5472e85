#!/bin/sh
# actions.promote: end recovery and wait until the server accepts writes,
# then store zkfc's fencing token in the database, so that a client can
# refuse a server whose token is older than one it has seen. A server
# that is already primary (zkfc starting on it) only gets the token.
#
# One psql session does all of it: this script is the last step of every
# failover's write outage, and on a loaded host each psql costs a process
# start and a new backend.
#  - pg_promote(false) and a 10 ms poll of pg_is_in_recovery(), not
#    pg_promote(true): that one polls every 100 ms. The DO block's
#    transaction stays read-only; the token is written by the next one.
#  - synchronous_commit = local: the token must not wait for a
#    synchronous standby that may be the very server this promotion
#    replaces.
. "$(dirname "$0")/common.sh"
: "${ZKFC_FENCING_TOKEN:?zkfc sets ZKFC_FENCING_TOKEN}"
got="$(PG_STATEMENT_TIMEOUT=35000 q "DO \$\$
DECLARE
  polls int := 0;
BEGIN
  IF pg_is_in_recovery() THEN
    PERFORM pg_promote(false);
    WHILE pg_is_in_recovery() LOOP
      polls := polls + 1;
      IF polls > 3000 THEN
        RAISE EXCEPTION 'promotion did not finish within 30 s';
      END IF;
      PERFORM pg_sleep(0.01);
    END LOOP;
  END IF;
END \$\$" "SET synchronous_commit = local;
CREATE SCHEMA IF NOT EXISTS zkfc;
CREATE TABLE IF NOT EXISTS zkfc.fencing (id int PRIMARY KEY CHECK (id = 1), token bigint NOT NULL, node text NOT NULL, at timestamptz NOT NULL);
INSERT INTO zkfc.fencing VALUES (1, $ZKFC_FENCING_TOKEN, '${ZKFC_NODE_ID:-}', now())
  ON CONFLICT (id) DO UPDATE SET token = excluded.token, node = excluded.node, at = excluded.at
  WHERE zkfc.fencing.token < excluded.token;
SELECT token FROM zkfc.fencing")" ||
	{ echo "promote.sh: promoting the server on $PG_HOST:$PG_PORT or storing token $ZKFC_FENCING_TOKEN failed" >&2; exit 1; }
[ "$got" -ge "$ZKFC_FENCING_TOKEN" ] 2>/dev/null || { echo "promote.sh: stored token '$got' < $ZKFC_FENCING_TOKEN" >&2; exit 1; }
