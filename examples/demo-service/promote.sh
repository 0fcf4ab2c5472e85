#!/bin/sh
# zkfc promote action for demo-service. zkfc sets ZKFC_FENCING_TOKEN; the
# service address comes from DEMO_ADDR (actions.promote.env in zkfc.yaml).
# curl's --max-time keeps the action inside zkfc's own deadline.
set -eu
exec curl -fsS --max-time 5 -X POST "http://${DEMO_ADDR:?set DEMO_ADDR=host:port}/promote?token=${ZKFC_FENCING_TOKEN:?}"
