#!/bin/sh
# actions.position: the replication position in bytes of WAL: what a
# primary has written, or what a standby has received and flushed (all
# of which it replays before a promotion completes).
. "$(dirname "$0")/common.sh"
q "SELECT CASE WHEN pg_is_in_recovery()
  THEN pg_wal_lsn_diff(greatest(coalesce(pg_last_wal_receive_lsn(), '0/0'), coalesce(pg_last_wal_replay_lsn(), '0/0')), '0/0')
  ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END::bigint"
