#!/bin/sh
# zkfc demote action for demo-service (see promote.sh).
set -eu
exec curl -fsS --max-time 5 -X POST "http://${DEMO_ADDR:?set DEMO_ADDR=host:port}/demote"
