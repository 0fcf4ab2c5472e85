#!/bin/sh
# health.exec: healthy while the server answers a query over TCP, as a
# client would reach it. A frozen postmaster accepts no new connection,
# so the connect timeout (PGCONNECT_TIMEOUT, 2 s) turns a hang into a failure.
. "$(dirname "$0")/common.sh"
[ "$(q 'SELECT 1')" = 1 ]
