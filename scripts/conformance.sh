#!/usr/bin/env bash
# Conformance: runs OpenStack's own API test suite (Debian's tempest 33.0.0) against a fresh novadock.
#
# Starts novadock on a free loopback port with a fresh data directory, seeds pre-provisioned accounts
# (two non-admin accounts in projects of their own and one admin per worker), uploads two
# docker-format busybox images built locally, renders a tempest.conf (identity v3 only,
# pre-provisioned credentials, compute + image + network on, everything else off, SSH validation
# off) and runs the selection in test/conformance/include-list.txt with CONFORMANCE_WORKERS workers
# (default 2: Tempest's classes spend their time waiting on servers, so two at a time halve the
# phase on two cores; each worker locks accounts of its own, as Tempest's parallel gate runs do).
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
  # Snapshots' engine images: their project label is emptied, so they are this run's by server id.
  if [ -f "$DATA/novadock.sqlite" ]; then
    python3 -c 'import sqlite3, sys; print("\n".join(r[0] for r in sqlite3.connect(sys.argv[1]).execute("select id from servers")))' \
      "$DATA/novadock.sqlite" > "$WORK/server-ids" 2>/dev/null || true
    imgs=$(docker images -q --filter label=org.openstack.server.id | sort -u || true)
    if [ -n "$imgs" ] && [ -s "$WORK/server-ids" ]; then
      # shellcheck disable=SC2086
      docker image inspect --format '{{.Id}} {{index .Config.Labels "org.openstack.server.id"}}' $imgs 2>/dev/null \
        | grep -F -w -f "$WORK/server-ids" | cut -d' ' -f1 | xargs -r docker rmi -f >/dev/null 2>&1 || true
    fi
  fi
  # The two uploaded archives' engine images (novadock loaded them; nothing of the run uses them now).
  if [ -s "$WORK/engine-images" ]; then xargs -r docker rmi <"$WORK/engine-images" >/dev/null 2>&1 || true; fi
  if [ "$rc" -ne 0 ] && [ -f "$WORK/server.log" ]; then
    log "server log tail ($WORK/server.log):"
    tail -n 40 "$WORK/server.log" | cut -c1-400 || true
  fi
  # The workspace (~15 MB: Tempest's, the server's data and log) is kept only when the run failed.
  if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else log "kept for inspection: $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

WORKERS=${CONFORMANCE_WORKERS:-2}
# Accounts in slots: slot i holds a primary and an alt (members) and an admin, each in a project of
# its own. Slots 1..WORKERS are the parallel workers'; one more is the network pass's (below).
MEMBERS=() ADMINS=()
for i in $(seq 1 $((WORKERS + 1))); do MEMBERS+=("tempest-m$((2 * i - 1))" "tempest-m$((2 * i))"); ADMINS+=("tempest-admin$i"); done
ACCOUNTS=("${MEMBERS[@]}" "${ADMINS[@]}")
account_json() { # name role
  printf '{"name": "%s", "password": "%s", "project": "%s", "roles": ["%s"]}' "$1" "$PASSWORD" "$1" "$2"
}
{
  printf '{\n  "projects": ['
  sep=""; for a in "${ACCOUNTS[@]}"; do printf '%s{"name": "%s"}' "$sep" "$a"; sep=", "; done
  printf '],\n  "users": [\n'
  sep=""
  for a in "${MEMBERS[@]}"; do printf '%s    %s' "$sep" "$(account_json "$a" member)"; sep=$',\n'; done
  for a in "${ADMINS[@]}"; do printf '%s    %s' "$sep" "$(account_json "$a" admin)"; done
  printf '\n  ],\n  "quotas": {"instances": 100, "cores": 200, "ram": 512000}\n}\n'
} > "$WORK/novadock.json"

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
ADMIN_TOKEN=$(token_for tempest-admin1)
PROJECT_IDS=""
for a in "${ACCOUNTS[@]}"; do PROJECT_IDS="$PROJECT_IDS $(project_of "$a")"; done

upload_image() { # name variant -> image id (public, docker format, active)
  local name=$1 variant=$2 archive=$WORK/$2.tar id
  bash scripts/build-test-image.sh "$archive" "$variant" >>"$WORK/engine-images"
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

# Tempest workspaces of their own, so nothing of the user's ~/.tempest is read or written: one for
# the parallel and host-wide passes, one for the network pass that runs beside the parallel one.
export HOME=$WORK/home
mkdir -p "$HOME"
render() { # workspace template
  sed -e "s#@WORKSPACE@#$1#g" -e "s#@URL@#$URL#g" -e "s#@IMAGE_REF@#$IMAGE_REF#g" \
      -e "s#@IMAGE_REF_ALT@#$IMAGE_REF_ALT#g" -e "s#@MAX_MICROVERSION@#$MAX_MICROVERSION#g" \
      -e "s#@PASSWORD@#$PASSWORD#g" "$2"
}
# Pre-provisioned credentials (use_dynamic_credentials = false): Tempest locks one account per role a
# test class needs (primary, alt, admin) for as long as the class runs; each workspace has its slots'.
account_yaml() { # name role
  printf -- "- username: '%s'\n  project_name: '%s'\n  password: '%s'\n  domain_name: 'Default'\n  roles: ['%s']\n" "$1" "$1" "$PASSWORD" "$2"
}
workspace() { # name first-slot last-slot
  local dir=$WORK/$1 i
  ( cd "$WORK" && tempest init "$1" >/dev/null )
  render "$dir" test/conformance/tempest.conf.in > "$dir/etc/tempest.conf"
  for i in $(seq "$2" "$3"); do
    account_yaml "tempest-m$((2 * i - 1))" member; account_yaml "tempest-m$((2 * i))" member; account_yaml "tempest-admin$i" admin
  done > "$dir/etc/accounts.yaml"
}
TW=$WORK/tempest
TW_NET=$WORK/tempest-net
workspace tempest 1 "$WORKERS"
workspace tempest-net $((WORKERS + 1)) $((WORKERS + 1))

INCLUDE=$WORK/include-list.txt
if [ -n "${CONFORMANCE_REGEX:-}" ]; then echo "$CONFORMANCE_REGEX" > "$INCLUDE"; else grep -v '^\s*#' test/conformance/include-list.txt | grep -v '^\s*$' > "$INCLUDE"; fi
# Three passes. The network tests ask for fixed subnet ranges (10.100.0.0/28 and the next ones)
# while every project's subnets share one address space here (Docker engines cannot hold
# overlapping networks: README), so they run one at a time, in a workspace of their own, beside the
# parallel pass (they boot no server; Tempest's own subnet delete waits 10 s each time). Then,
# alone and serially, the classes that change the one compute host for everybody (its service
# disabled, its availability zone through an aggregate, the default quotas, a migration's view of
# it), which beside another worker's boots would refuse them or be refused ("the host already has
# 1 instance(s)") as Nova refuses them on a shared host.
NETWORK='tempest\\\.api\\\.network\\\.'
HOST_WIDE='tempest\\\.api\\\.compute\\\.admin\\\.test_(services|aggregates|availability_zone|quotas|migrations)'
grep -E "$NETWORK" "$INCLUDE" > "$INCLUDE.network" || true
grep -E "$HOST_WIDE" "$INCLUDE" > "$INCLUDE.host-wide" || true
grep -vE "$NETWORK|$HOST_WIDE" "$INCLUDE" > "$INCLUDE.parallel" || true

# Each pass's results are kept (stestr keeps only a workspace's last run): the report reads them all.
SUBUNIT=$WORK/last.subunit
TEMPEST_RC=0
tempest_pass() { # label workspace list-file output tempest-run-options...
  local label=$1 ws=$2 list=$3 out=$4 rc=0
  shift 4
  [ -s "$list" ] || return 0
  log "running tempest ($label)"
  ( cd "$ws" && tempest run "$@" --include-list "$list" ) >> "$out" 2>&1 || rc=$?
  ( cd "$ws" && stestr last --subunit ) > "$out.subunit" 2>/dev/null || true
  return "$rc"
}
tempest_pass "the network tests, serially, beside the next pass" "$TW_NET" "$INCLUDE.network" "$WORK/tempest-network.out" --serial &
NETWORK_PID=$!
tempest_pass "$WORKERS workers" "$TW" "$INCLUDE.parallel" "$WORK/tempest-parallel.out" --concurrency "$WORKERS" || TEMPEST_RC=$?
wait "$NETWORK_PID" || TEMPEST_RC=$?
tempest_pass "the host-wide classes, serially" "$TW" "$INCLUDE.host-wide" "$WORK/tempest-host-wide.out" --serial || TEMPEST_RC=$?
cat "$WORK"/tempest-{parallel,network,host-wide}.out > "$WORK/tempest.out" 2>/dev/null || true
cat "$WORK"/tempest-{parallel,network,host-wide}.out.subunit > "$SUBUNIT" 2>/dev/null || true
# subunit-trace's per-test lines, then the totals.
grep -E '^\{0\} |^(Totals|=+|Ran:| - )' "$WORK/tempest.out" | sed -n '1,2000p' | grep -E 'FAILED|SKIPPED|Totals|Passed|Failed|Skipped|Ran:' || true

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
if [ "$TEMPEST_RC" -ne 0 ]; then
  log "tempest failed (exit $TEMPEST_RC); full tempest output: $WORK/tempest.out; tempest log: $TW/logs/tempest.log"
  tail -n 60 "$WORK/tempest.out" | cut -c1-300
  exit 1
fi
# The workspace goes with the EXIT trap (cleanup, above): removed on success, kept on failure.
