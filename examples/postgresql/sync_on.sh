#!/bin/sh
# actions.sync_on: commits wait until ZKFC_SYNC_STANDBY (the standby's
# application_name, its zkfc node id) has flushed them. Reloaded, not
# restarted: synchronous_standby_names takes effect on pg_reload_conf().
. "$(dirname "$0")/common.sh"
: "${ZKFC_SYNC_STANDBY:?zkfc sets ZKFC_SYNC_STANDBY}"
q "ALTER SYSTEM SET synchronous_standby_names = '\"$ZKFC_SYNC_STANDBY\"'" >/dev/null && q 'SELECT pg_reload_conf()' >/dev/null
