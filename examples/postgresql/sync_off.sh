#!/bin/sh
# actions.sync_off: commits stop waiting for any standby. zkfc records
# "nobody in sync" in the quorum before it runs this, so the standby can
# no longer be promoted on the strength of commits it may not have.
. "$(dirname "$0")/common.sh"
q 'ALTER SYSTEM RESET synchronous_standby_names' >/dev/null && q 'SELECT pg_reload_conf()' >/dev/null
