#!/bin/sh
# actions.role: "active" for a primary, "standby" for a server in
# recovery. A server that does not answer prints nothing and fails: zkfc
# then leaves its role as it was (a stopped server is the health check's
# business).
. "$(dirname "$0")/common.sh"
r="$(q 'SELECT pg_is_in_recovery()')" || exit 1
case "$r" in
t) echo standby ;;
f) echo active ;;
*) echo "role.sh: pg_is_in_recovery() returned '$r'" >&2; exit 1 ;;
esac
