#!/bin/sh
# actions.restart: restart in place after a crash, keeping the role the
# data directory has (standby.signal present or not): whatever is left of
# the old server is stopped for certain first, then PostgreSQL's crash
# recovery runs as it starts.
. "$(dirname "$0")/common.sh"
stop || { echo "restart.sh: the old server of $PGDATA still runs" >&2; exit 1; }
start
