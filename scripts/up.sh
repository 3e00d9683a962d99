#!/usr/bin/env bash
# `npm run up`: bring novadock up on this machine and print the OS_* settings for the clients.
# Installs what is missing (a Docker engine, the Debian OpenStack clients, node_modules), builds,
# migrates, starts the server in the background and waits for its health check. Running it again
# leaves one server: it keeps the running one, or restarts it when the code was rebuilt.
# Log lines go to stderr and the export lines to stdout, so `eval "$(npm run -s up)"` works.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_docker
ensure_clients
ensure_node_modules

# Build only when a source is newer than the build, so an unchanged tree keeps its server.
if [ ! -f dist/src/main.js ] || [ -n "$(find src migrations package-lock.json tsconfig.json tsconfig.build.json -newer dist/src/main.js -print -quit)" ]; then
  build
fi

mkdir -p "$DATA_DIR"
if pid="$(running_pid)"; then
  if [ "$PID_FILE" -nt dist/src/main.js ]; then
    log "novadock is already running (pid $pid)"
  else
    log "the build changed since novadock (pid $pid) started: restarting it"
    bash scripts/down.sh
  fi
fi

if ! running_pid >/dev/null; then
  log "migrating the database in $DATA_DIR"
  NOVADOCK_DATA_DIR="$DATA_DIR" node dist/src/db/migrate-cli.js >&2
  log "starting novadock on $BIND:$PORT (log: $LOG_FILE)"
  # setsid: the server outlives this script and its terminal's signals; down.sh stops it.
  NOVADOCK_DATA_DIR="$DATA_DIR" setsid nohup node --initial-old-space-size=64 dist/src/main.js >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
fi

pid="$(cat "$PID_FILE")"
ready=0
for _ in $(seq 1 120); do
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 40 "$LOG_FILE" >&2 || true
    rm -f "$PID_FILE"
    die "novadock exited during start-up (log above, whole log: $LOG_FILE)"
  fi
  if curl -fsS -m 5 -o /dev/null "$LOCAL_URL/healthcheck" 2>/dev/null; then ready=1; break; fi
  sleep 0.5
done
if [ "$ready" -ne 1 ]; then
  curl -sS -m 5 "$LOCAL_URL/healthcheck" >&2 || true
  die "novadock (pid $pid) did not pass its health check within 60 s (log: $LOG_FILE)"
fi

if [ -n "${NOVADOCK_ADMIN_PASSWORD:-}" ]; then
  password="$NOVADOCK_ADMIN_PASSWORD"
elif [ -f "$DATA_DIR/admin-password" ]; then
  password="$(tr -d '\n' <"$DATA_DIR/admin-password")"
else
  die "no admin password: set NOVADOCK_ADMIN_PASSWORD or look for admin-password in $DATA_DIR"
fi
# Single-quoted for the shell, whatever the password holds.
quoted="'${password//\'/\'\\\'\'}'"

umask 077
cat >"$DATA_DIR/openrc" <<RC
export OS_AUTH_URL=$PUBLIC_URL/identity/v3
export OS_USERNAME=admin
export OS_PASSWORD=$quoted
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=RegionOne
RC
log "novadock is up at $PUBLIC_URL (pid $pid). Use these settings (also in $DATA_DIR/openrc):"
cat "$DATA_DIR/openrc"
registry_host="${PUBLIC_URL#*://}"
log "Docker's own CLI uses it as a registry with the same account (issue 14):"
echo "  . $DATA_DIR/openrc && echo \"\$OS_PASSWORD\" | docker login $registry_host -u admin --password-stdin"
echo "  docker push $registry_host/admin/<name>:<tag>   # then: openstack image list"
