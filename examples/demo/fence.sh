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
i=0
while [ "$i" -lt 20 ]; do
	fuser -k -n tcp "$port" >/dev/null 2>&1
	if [ -z "$(ss -Hltn "sport = :$port")" ]; then
		echo "fence.sh: nothing listens on port $port any more"
		exit 0
	fi
	i=$((i + 1))
	sleep 0.1
done
echo "fence.sh: port $port still has a listener" >&2
exit 1
