#!/usr/bin/env bash
# Conformance: runs OpenStack's own API test suite (Debian's tempest 33.0.0) against a fresh novadock.
#
# Starts novadock on a free loopback port with a fresh data directory, seeds two non-admin accounts
# in two projects (plus an admin), uploads two docker-format busybox images built locally, renders
# a tempest.conf (identity v3 only, pre-provisioned credentials, compute + image on, everything else
# off, SSH validation off) and runs the selection in test/conformance/include-list.txt serially.
# Prints the selected/passed/failed/skipped counts and every skipped test with its reason.
# Exits non-zero if any selected test fails or errors. Only 127.0.0.1 is ever contacted.
#
# Requires: a Docker engine, tempest, busybox-static, a built tree (npm run build) — scripts/test.sh
# provides all of them. Env: CONFORMANCE_REGEX to run a subset while developing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

WORK=$(mktemp -d /tmp/novadock-conformance.XXXXXX)
DATA=$WORK/data
mkdir -p "$DATA"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
SERVER_PID=""

log() { printf 'conformance: %s\n' "$*"; }

cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  # Containers this run's projects left behind (only ours: labelled and of these projects).
  for p in ${PROJECT_IDS:-}; do
    ids=$(docker ps -aq --filter label=novadock.managed=true --filter "label=novadock.project_id=$p" || true)
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
    docker network rm "novadock-net-$p" >/dev/null 2>&1 || true
  done
  if [ "$rc" -ne 0 ] && [ -f "$WORK/server.log" ]; then
    log "server log tail ($WORK/server.log):"
    tail -n 40 "$WORK/server.log" | cut -c1-400 || true
  fi
  exit "$rc"
}
trap cleanup EXIT

cat > "$WORK/novadock.json" <<EOF
{
  "projects": [{"name": "tempest-a"}, {"name": "tempest-b"}, {"name": "tempest-admin"}],
  "users": [
    {"name": "tempest-a", "password": "$PASSWORD", "project": "tempest-a", "roles": ["member"]},
    {"name": "tempest-b", "password": "$PASSWORD", "project": "tempest-b", "roles": ["member"]},
    {"name": "tempest-admin", "password": "$PASSWORD", "project": "tempest-admin", "roles": ["admin"]}
  ],
  "quotas": {"instances": 100, "cores": 200, "ram": 512000}
}
EOF

[ -f dist/src/main.js ] || npm run build --silent
log "starting novadock on $URL (data in $DATA)"
# Generous allocation ratios: tempest's servers must not be refused for capacity on a small machine
# (with Nova's defaults a 2-CPU engine takes 8 one-vCPU servers).
NOVADOCK_PORT=$PORT NOVADOCK_BIND=127.0.0.1 NOVADOCK_DATA_DIR=$DATA NOVADOCK_CONFIG=$WORK/novadock.json \
  NOVADOCK_CPU_ALLOCATION_RATIO=64 NOVADOCK_RAM_ALLOCATION_RATIO=8 \
  NOVADOCK_ADMIN_PASSWORD=$PASSWORD NOVADOCK_LOG_LEVEL=${NOVADOCK_LOG_LEVEL:-info} \
  node --initial-old-space-size=64 dist/src/main.js > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  curl -sf "$URL/healthcheck" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { log "novadock exited during start-up"; exit 1; }
  sleep 0.5
done
curl -sf "$URL/healthcheck" >/dev/null || { log "novadock did not become healthy"; exit 1; }

token_for() { # user -> token (project of the same name)
  curl -sf -D - -o /dev/null -H 'Content-Type: application/json' "$URL/identity/v3/auth/tokens" -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"name\":\"Default\"},\"password\":\"$PASSWORD\"}}},\"scope\":{\"project\":{\"name\":\"$1\",\"domain\":{\"name\":\"Default\"}}}}}" \
    | awk 'tolower($1)=="x-subject-token:" {print $2}' | tr -d '\r'
}
project_of() {
  curl -sf -H 'Content-Type: application/json' "$URL/identity/v3/auth/tokens" -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"name\":\"Default\"},\"password\":\"$PASSWORD\"}}},\"scope\":{\"project\":{\"name\":\"$1\",\"domain\":{\"name\":\"Default\"}}}}}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"]["project"]["id"])'
}
ADMIN_TOKEN=$(token_for tempest-admin)
PROJECT_IDS="$(project_of tempest-a) $(project_of tempest-b) $(project_of tempest-admin)"

upload_image() { # name variant -> image id (public, docker format, active)
  local name=$1 variant=$2 archive=$WORK/$2.tar id
  bash scripts/build-test-image.sh "$archive" "$variant" >/dev/null
  id=$(curl -sf -H "X-Auth-Token: $ADMIN_TOKEN" -H 'Content-Type: application/json' "$URL/image/v2/images" \
    -d "{\"name\": \"$name\", \"container_format\": \"docker\", \"disk_format\": \"raw\", \"visibility\": \"public\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  curl -sf -X PUT -H "X-Auth-Token: $ADMIN_TOKEN" -H 'Content-Type: application/octet-stream' -T "$archive" \
    "$URL/image/v2/images/$id/file" >/dev/null
  echo "$id"
}
IMAGE_REF=$(upload_image conformance-busybox conformance-a)
IMAGE_REF_ALT=$(upload_image conformance-busybox-alt conformance-b)
log "images: $IMAGE_REF $IMAGE_REF_ALT"
MAX_MICROVERSION=$(curl -sf "$URL/compute/v2.1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"]["version"])')

# A tempest workspace of its own, so nothing of the user's ~/.tempest is read or written.
export HOME=$WORK/home
mkdir -p "$HOME"
( cd "$WORK" && tempest init tempest >/dev/null )
TW=$WORK/tempest
render() {
  sed -e "s#@WORKSPACE@#$TW#g" -e "s#@URL@#$URL#g" -e "s#@IMAGE_REF@#$IMAGE_REF#g" \
      -e "s#@IMAGE_REF_ALT@#$IMAGE_REF_ALT#g" -e "s#@MAX_MICROVERSION@#$MAX_MICROVERSION#g" \
      -e "s#@PASSWORD@#$PASSWORD#g" "$1"
}
render test/conformance/tempest.conf.in > "$TW/etc/tempest.conf"
render test/conformance/accounts.yaml.in > "$TW/etc/accounts.yaml"

INCLUDE=$WORK/include-list.txt
if [ -n "${CONFORMANCE_REGEX:-}" ]; then echo "$CONFORMANCE_REGEX" > "$INCLUDE"; else grep -v '^\s*#' test/conformance/include-list.txt | grep -v '^\s*$' > "$INCLUDE"; fi

log "running tempest (serial)"
set +e
( cd "$TW" && tempest run --serial --include-list "$INCLUDE" ) > "$WORK/tempest.out" 2>&1
TEMPEST_RC=$?
set -e
# subunit-trace's per-test lines, then the totals.
grep -E '^\{0\} |^(Totals|=+|Ran:| - )' "$WORK/tempest.out" | sed -n '1,2000p' | grep -E 'FAILED|SKIPPED|Totals|Passed|Failed|Skipped|Ran:' || true

SUBUNIT=$WORK/last.subunit
( cd "$TW" && stestr last --subunit ) > "$SUBUNIT" 2>/dev/null || true
/usr/bin/python3 - "$SUBUNIT" <<'PY'
import sys, subunit, testtools
from testtools import StreamToDict
results = {}
def on_test(t):
    results[t['id']] = t
stream = subunit.ByteStreamToStreamResult(open(sys.argv[1], 'rb'), non_subunit_name='stdout')
result = testtools.StreamToDict(on_test)
result.startTestRun(); stream.run(result); result.stopTestRun()
tests = {k: v for k, v in results.items() if not k.startswith('setUpClass') and not k.startswith('tearDownClass') and v['status'] != 'exists'}
by = {}
for k, v in tests.items():
    by.setdefault(v['status'], []).append(k)
passed = len(by.get('success', [])); failed = len(by.get('fail', [])); skipped = len(by.get('skip', []))
fixture_fail = [k for k, v in results.items() if (k.startswith('setUpClass') or k.startswith('tearDownClass')) and v['status'] == 'fail']
print(f"conformance: selected {len(tests)} / passed {passed} / failed {failed} / skipped {skipped}")
for k in sorted(by.get('skip', [])):
    reason = results[k]['details'].get('reason')
    text = reason.as_text() if reason is not None else ''
    print(f"conformance: skipped {k.split('[')[0]}: {text.strip()}")
for k in sorted(by.get('fail', [])) + fixture_fail:
    print(f"conformance: FAILED {k.split('[')[0]}")
PY
log "full tempest output: $WORK/tempest.out; tempest log: $TW/logs/tempest.log"
if [ "$TEMPEST_RC" -ne 0 ]; then
  log "tempest failed (exit $TEMPEST_RC)"
  tail -n 60 "$WORK/tempest.out" | cut -c1-300
  exit 1
fi
# The workspace is removed on success; kept for inspection on failure.
rm -rf "$WORK/tempest" "$WORK"/*.tar
