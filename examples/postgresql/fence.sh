#!/bin/sh
# Shell fencing method for one machine (the loopback configuration):
# zkfc runs it when the old primary's zkfc could not demote it. It kills
# every process with the old server's port open (the postmaster and the
# backends serving clients, so no commit can still complete there) and
# succeeds only once nothing listens on it. Across machines use the ssh
# method, whose default command does the same on the target.
set -u
port="${ZKFC_TARGET_PORT:?}"
. "$(dirname "$0")/../lib/fence.sh"
kill_listeners "$port" 30
