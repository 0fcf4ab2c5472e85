#!/bin/sh
# zkfc role action for demo-service: prints active or standby.
set -eu
exec curl -fsS --max-time 5 "http://${DEMO_ADDR:?set DEMO_ADDR=host:port}/role"
