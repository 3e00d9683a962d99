# shellcheck shell=bash
# Shared by scripts/up.sh and scripts/test.sh: make a fresh Debian 12 machine with Node 20 ready for
# novadock. Each step checks first and installs only what is missing, so a second run does nothing.
# Sourced, not run: expects `set -euo pipefail` and the working directory at the repository root.

log() { printf '==> [%s s] %s\n' "${SECONDS}" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Root runs commands as they are; anyone else goes through sudo (non-interactively: CI has no stdin).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

APT_UPDATED=0
# Installs Debian packages; `apt-get update` runs once per script run, and only if something is missing.
apt_install() {
  [ "$#" -gt 0 ] || return 0
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install these by hand: $*"
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# The Debian OpenStack clients run on Debian's own python3 (a python3 earlier on PATH, e.g. pyenv's,
# does not have openstacksdk), so the SDK check names /usr/bin/python3.
ensure_clients() {
  local missing=()
  for p in python3-openstackclient python3-novaclient python3-glanceclient python3-openstacksdk "$@"; do
    pkg_installed "$p" || missing+=("$p")
  done
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  apt_install "${missing[@]}"
}

# What scripts/engines.sh needs to make network namespaces and veths (iproute2), let the hosts'
# bridge forward (iptables) and enter a namespace (nsenter, util-linux).
ensure_host_tools() {
  local missing=()
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  # Gratuitous ARP when a floating IP lands on a host (it moved with its server): src/virt/nat-iptables.ts.
  command -v arping >/dev/null 2>&1 || missing+=(iputils-arping)
  # Connections through a floating IP are cut off when it goes or moves: src/virt/nat-iptables.ts.
  command -v conntrack >/dev/null 2>&1 || missing+=(conntrack)
  apt_install "${missing[@]}"
}

engine_answers() { timeout 20 docker version >/dev/null 2>&1; }

# A dockerd process exists (procps may be missing on a minimal machine: read /proc).
dockerd_running() {
  local c
  for c in /proc/[0-9]*/comm; do
    [ "$(cat "$c" 2>/dev/null)" = dockerd ] && return 0
  done
  return 1
}

# A Docker engine that answers `docker version`: the one at DOCKER_HOST, else the local socket;
# when neither answers, Debian's docker.io is installed and dockerd started in the background.
ensure_docker() {
  command -v docker >/dev/null 2>&1 && engine_answers && return 0
  if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]; then
    die "DOCKER_HOST=${DOCKER_HOST} does not answer 'docker version'; start that engine or unset DOCKER_HOST"
  fi
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    # Keep the package's init script from starting dockerd with Debian's flags (policy-rc.d 101 =
    # "action forbidden"); we start it below with ours.
    local policy=/usr/sbin/policy-rc.d placed=0
    if [ ! -e "$policy" ]; then
      as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" && placed=1
    fi
    local ok=1
    apt_install docker.io || ok=0
    if [ "$placed" -eq 1 ]; then as_root rm -f "$policy"; fi
    [ "$ok" -eq 1 ] || die "could not install docker.io"
  fi
  if engine_answers; then return 0; fi
  if dockerd_running; then
    log "dockerd is running but not answering yet: waiting for it"
  else
    # A pid file left by a dockerd that died (machine restarted) would stop the new one.
    as_root rm -f /var/run/docker.pid
    # Containers like this one have no systemd: start the daemon ourselves. --ip-masq=false keeps
    # the engine from rewriting the host's NAT rules (instances talk to their project network only).
    # A non-root user gets the socket through its own group.
    local group_flag=""
    if [ "$(id -u)" -ne 0 ]; then group_flag="--group $(id -gn)"; fi
    log "starting dockerd (log: /var/log/novadock-dockerd.log)"
    as_root sh -c "nohup dockerd --ip-masq=false $group_flag >/var/log/novadock-dockerd.log 2>&1 &"
  fi
  for _ in $(seq 1 60); do
    engine_answers && { log "Docker engine is up"; return 0; }
    sleep 1
  done
  tail -n 30 /var/log/novadock-dockerd.log >&2 2>/dev/null || true
  die "dockerd did not answer within 60 s (log: /var/log/novadock-dockerd.log)"
}

# node_modules as package-lock.json says; npm ci writes node_modules/.package-lock.json, so its
# age tells whether the lock file changed since.
ensure_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

build() {
  log "npm run build"
  npm run build --silent
}

# Where the server keeps its data and how to reach it, resolved as src/config.ts does.
DATA_DIR_RAW="${NOVADOCK_DATA_DIR:-./data}"
case "$DATA_DIR_RAW" in /*) DATA_DIR="$DATA_DIR_RAW" ;; *) DATA_DIR="$PWD/${DATA_DIR_RAW#./}" ;; esac
PORT="${NOVADOCK_PORT:-8080}"
BIND="${NOVADOCK_BIND:-127.0.0.1}"
case "$BIND" in 0.0.0.0|::) LOCAL_HOST=127.0.0.1 ;; *:*) LOCAL_HOST="[$BIND]" ;; *) LOCAL_HOST="$BIND" ;; esac
LOCAL_URL="http://${LOCAL_HOST}:${PORT}"
PUBLIC_URL="${NOVADOCK_PUBLIC_URL:-$LOCAL_URL}"
PUBLIC_URL="${PUBLIC_URL%/}"
PID_FILE="$DATA_DIR/novadock.pid"
export LOG_FILE="$DATA_DIR/novadock.log"

# The pid of the novadock server started from this data dir, if it is still running.
running_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null)"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  # A recycled pid belongs to someone else: only a node running our main.js counts.
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'dist/src/main.js' || return 1
  echo "$pid"
}

# PostgreSQL's server binaries (initdb, pg_ctl): Debian's postgresql package, installed when missing.
# The package's own cluster is not used (nor started here): tests get a throwaway one.
ensure_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    # As for docker.io: keep the package's init script from starting its default cluster.
    local policy=/usr/sbin/policy-rc.d placed=0
    if [ ! -e "$policy" ]; then
      as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" && placed=1
    fi
    local ok=1
    apt_install postgresql || ok=0
    if [ "$placed" -eq 1 ]; then as_root rm -f "$policy"; fi
    [ "$ok" -eq 1 ] || die "could not install postgresql"
  fi
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
}

# The server refuses to run as root: root runs it as the postgres user, anyone else as themselves.
as_pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The engine images of this clone's test archives (test/.cache/*.id): test files load what they
# need when it is absent, so the run ends by removing them and a machine that runs the suite again
# and again keeps none (an image a container still uses stays; the engine says why, quietly).
remove_test_images() {
  local f ids=()
  for f in test/.cache/*.id; do [ -f "$f" ] && ids+=("$(cat "$f")"); done
  [ "${#ids[@]}" -eq 0 ] || docker rmi "${ids[@]}" >/dev/null 2>&1 || true
}

# A throwaway PostgreSQL cluster for the tests: a fresh data directory, UTF-8 with the C locale,
# trust authentication, listening on 127.0.0.1 only (first free port from 55432) with its socket
# inside the directory. Exports NOVADOCK_TEST_PG_URL (the admin URL test/helpers/services.ts uses
# to give each test its own schema). Returns non-zero when the cluster does not start. Callers trap
# stop_test_postgres on exit.
start_test_postgres() {
  ensure_postgres
  TEST_PG_DIR="$(mktemp -d /tmp/novadock-pg.XXXXXX)"
  chmod 755 "$TEST_PG_DIR"
  mkdir -p "$TEST_PG_DIR/data"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$TEST_PG_DIR"; fi
  as_pg_owner "$PG_BIN/initdb" -D "$TEST_PG_DIR/data" -U postgres -E UTF8 --locale=C --auth=trust >"$TEST_PG_DIR/initdb.log" 2>&1 \
    || { cat "$TEST_PG_DIR/initdb.log" >&2; log "initdb failed"; stop_test_postgres; return 1; }
  local port
  for port in $(seq 55432 55532); do
    # Someone answers on the port: try the next.
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    if as_pg_owner "$PG_BIN/pg_ctl" -D "$TEST_PG_DIR/data" -l "$TEST_PG_DIR/server.log" -w -t 30 \
         -o "-c listen_addresses=127.0.0.1 -p $port -k $TEST_PG_DIR -c fsync=off -c max_connections=200" start >/dev/null; then
      export NOVADOCK_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
      log "test PostgreSQL at $NOVADOCK_TEST_PG_URL (data: $TEST_PG_DIR)"
      return 0
    fi
  done
  tail -n 20 "$TEST_PG_DIR/server.log" >&2 2>/dev/null || true
  log "could not start the test PostgreSQL"
  stop_test_postgres
  return 1
}

stop_test_postgres() {
  [ -n "${TEST_PG_DIR:-}" ] && [ -d "$TEST_PG_DIR" ] || return 0
  as_pg_owner "$PG_BIN/pg_ctl" -D "$TEST_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$TEST_PG_DIR"
  unset TEST_PG_DIR NOVADOCK_TEST_PG_URL
}
