#!/bin/sh
# actions.demote: a primary cannot turn into a standby while it runs, so
# demoting it means stopping it (stop in common.sh: fast, immediate, then
# SIGKILL). The rejoin action later brings it back as a standby of the new
# primary. A standby, or a stopped server, is left as it is: zkfc demotes
# its service when it starts, and a streaming standby must keep streaming.
. "$(dirname "$0")/common.sh"
if running && [ "$(q 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]; then
	exit 0
fi
# Not answering, or primary: it must be stopped for certain.
stop || { echo "demote.sh: the server of $PGDATA still runs" >&2; exit 1; }
