#!/bin/sh
# Shell fencing method for one machine (the loopback configuration):
# zkfc runs it when the old primary's zkfc could not demote it. It kills
# every process with the old server's port open (the postmaster and the
# backends serving clients, so no commit can still complete there) and
# succeeds only once nothing listens on it. Across machines use the ssh
# method, whose default command does the same on the target.
set -u
port="${ZKFC_TARGET_PORT:?}"
i=0
while [ "$i" -lt 30 ]; do
	fuser -s -k -KILL -n tcp "$port"
	if [ -z "$(ss -Hltn "sport = :$port")" ]; then
		echo "fence.sh: nothing listens on port $port any more"
		exit 0
	fi
	i=$((i + 1))
	sleep 0.1
done
echo "fence.sh: port $port still has a listener" >&2
exit 1
