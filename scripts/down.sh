#!/usr/bin/env bash
# `npm run down`: stop the novadock that `npm run up` started, gracefully: SIGTERM lets it finish
# in-flight requests and close the database. Containers of servers keep running.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if ! pid="$(running_pid)"; then
  rm -f "$PID_FILE"
  log "novadock is not running"
  exit 0
fi
log "stopping novadock (pid $pid)"
kill -TERM "$pid"
# main.ts closes lingering connections after 30 s; give it a little more than that.
for _ in $(seq 1 80); do
  kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped"; exit 0; }
  sleep 0.5
done
log "novadock (pid $pid) did not stop within 40 s of SIGTERM: killing it"
kill -KILL "$pid" 2>/dev/null || true
rm -f "$PID_FILE"
