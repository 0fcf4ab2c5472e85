#!/bin/sh
# Shell fencing method of the demo (fencing.methods[1]): zkfc runs it when
# the old active's zkfc could not demote its service. zkfc describes the
# target in ZKFC_TARGET_* variables. Exit 0 means "the old service cannot
# serve any more", so it must only succeed once that is certain: ask the
# service to demote itself, else kill whatever still listens on its port
# and confirm nothing does.
set -u
addr="${ZKFC_TARGET_ADDRESS:?}"
port="${ZKFC_TARGET_PORT:?}"
if curl -fsS --max-time 1 -X POST "http://$addr/demote" >/dev/null 2>&1; then
	echo "fence.sh: $addr demoted itself"
	exit 0
fi
. "$(dirname "$0")/../lib/fence.sh"
kill_listeners "$port" 20
