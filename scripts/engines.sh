#!/usr/bin/env bash
# Extra Docker engines on this machine, each a compute host of its own as far as networking goes:
# one network namespace per engine, linked to the others by veth pairs on one bridge (a private
# /24 with no route anywhere else), with its own data root, exec root, pid file and socket.
#
#   bash scripts/engines.sh up [N] [--swarm]  start N engines (default 2); print the compute_hosts
#                                             entries for NOVADOCK_CONFIG; --swarm joins them into
#                                             one swarm (the first is the manager) for overlay networks
#   bash scripts/engines.sh down               stop them and remove everything they made
#   bash scripts/engines.sh hosts              print the compute_hosts entries of the running ones
#   bash scripts/engines.sh stop I             stop engine I as a host going down would (its
#                                             containers stop; namespace and data stay)
#   bash scripts/engines.sh crash I            lose engine I as a host that loses power would: every
#                                             process of it (engine, containerd, shims, containers)
#                                             is killed at once, so nothing reports the containers'
#                                             end (namespace and data stay)
#   bash scripts/engines.sh remove I           remove engine I and everything it made
#   bash scripts/engines.sh start I            start engine I again (or a new one alone, with its
#                                             namespace), keeping its data and swarm membership
#
# Engine i: namespace novadock-h<i>, address 10.251.0.<10+i>/24 on bridge ndhosts0 (10.251.0.1),
# socket unix:///run/novadock-engines/h<i>.sock, data /var/lib/novadock-engines/h<i>, log
# /var/log/novadock-engine-h<i>.log. The engines are started with nsenter --net (ip netns exec
# remounts /sys and the engine then finds no devices cgroup) and --ip-masq=false: containers get no
# route out of the namespace. They take plain-HTTP registries on the hosts' /24 (--insecure-registry):
# novadock's registry at the bridge's address (10.251.0.1), where they pull pushed images from. Idempotent: `up` first removes what an earlier run left.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

BRIDGE=ndhosts0
NET_PREFIX=10.251.0
RUN_DIR=/run/novadock-engines
DATA_DIR=/var/lib/novadock-engines

engine_sock() { echo "$RUN_DIR/h$1.sock"; }
engine_addr() { echo "$NET_PREFIX.$((10 + $1))"; }
ns_name() { echo "novadock-h$1"; }
edocker() { local i=$1; shift; docker -H "unix://$(engine_sock "$i")" "$@"; }

# The engines whose namespaces exist, by number.
existing() {
  ip netns list 2>/dev/null | sed -n 's/^novadock-h\([0-9]\+\).*/\1/p' | sort -n
}

hosts_json() {
  local first=1 i
  printf '['
  for i in "$@"; do
    [ "$first" -eq 1 ] || printf ','
    first=0
    printf '{"name":"host%s","docker_host":"unix://%s"}' "$i" "$(engine_sock "$i")"
  done
  printf ']\n'
}

# Stops a dockerd (by its pid file: SIGTERM, which stops its containers, then SIGKILL after 20 s)
# and whatever still runs from its exec root (containerd, shims).
halt_engine() {
  local i=$1 pidfile="$RUN_DIR/h$1/dockerd.pid" pid
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if [ -d "/proc/$pid" ]; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do [ -d "/proc/$pid" ] || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    # A dockerd killed after the grace period leaves its pid file, and the next one would refuse it.
    rm -f "$pidfile"
  fi
  # containerd and its shims started for this engine name its exec root on their command line.
  local p
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "$RUN_DIR/h$i/"; then kill -9 "${p#/proc/}" 2>/dev/null || true; fi
  done
}

# Kills engine i and its containers at once (SIGKILL), as a host losing power would: no event
# reports the containers' end. Their pids are read first; a container's init is the first process
# of its pid namespace, and killing it ends the rest.
crash_engine() {
  local i=$1 pids
  pids=$(timeout 10 docker -H "unix://$(engine_sock "$i")" ps -q 2>/dev/null \
    | xargs -r timeout 10 docker -H "unix://$(engine_sock "$i")" inspect -f '{{.State.Pid}}' 2>/dev/null || true)
  local pidfile="$RUN_DIR/h$i/dockerd.pid"
  if [ -f "$pidfile" ]; then kill -9 "$(cat "$pidfile")" 2>/dev/null || true; fi
  halt_engine "$i"
  local pid
  for pid in $pids; do [ "$pid" -gt 1 ] 2>/dev/null && kill -9 "$pid" 2>/dev/null || true; done
}

# Removes an engine and everything it made: process, mounts, namespace, veth, data.
stop_engine() {
  local i=$1
  # Leave the swarm first so the next `up` starts clean (no-op when not in one).
  timeout 20 docker -H "unix://$(engine_sock "$i")" swarm leave --force >/dev/null 2>&1 || true
  halt_engine "$i"
  local m
  for m in $(awk -v a="$RUN_DIR/h$i" -v b="$DATA_DIR/h$i" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  ip netns del "$(ns_name "$i")" 2>/dev/null || true
  ip link del "ndh$i" 2>/dev/null || true
  rm -rf "${RUN_DIR:?}/h$i" "$(engine_sock "$i")" "${DATA_DIR:?}/h$i"
}

down() {
  local i
  for i in $(existing); do stop_engine "$i"; done
  # Engines whose namespace went but whose files stayed (a half-finished earlier run).
  for i in $(ls "$RUN_DIR" 2>/dev/null | sed -n 's/^h\([0-9]\+\)$/\1/p'); do stop_engine "$i"; done
  ip link del "$BRIDGE" 2>/dev/null || true
  while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; do :; done
}

add_bridge() {
  ip link show "$BRIDGE" >/dev/null 2>&1 && return 0
  # The bridge holds the hosts' /24 and nothing else: no address outside it is reachable from the
  # namespaces (they have no default route).
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET_PREFIX.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # The engine on this machine sets FORWARD's policy to DROP and bridged frames go through
  # iptables (br_netfilter): let the hosts' bridge carry traffic between the hosts, and only that.
  iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
}

# Starts engine i's dockerd, first making its namespace and veth when they do not exist.
# Containers must not reach the swarm's own ports on any host: VXLAN (4789/udp) takes frames for any
# overlay from any sender (a container could inject into another project's network, on its own host
# or, masqueraded through its way out, on another), and the manager API and the gossip
# (2377/tcp, 7946/tcp+udp) are none of theirs. The engine's own traffic is not forwarded and does not
# come in on a container bridge, so overlays work as before. (README: "What real machines need".)
guard_swarm_ports() {
  local ns
  ns=$(ns_name "$1")
  local chain dev
  for chain in INPUT DOCKER-USER; do
    # docker_gwbridge: overlay containers' way out; docker0 and br-*: bridge networks' containers.
    for dev in docker_gwbridge docker0 br-+; do
      local rule
      for rule in "-p udp -m multiport --dports 4789,7946" "-p tcp -m multiport --dports 2377,7946"; do
        # shellcheck disable=SC2086 # the rule is words
        ip netns exec "$ns" iptables -C "$chain" -i "$dev" $rule -j DROP 2>/dev/null \
          || ip netns exec "$ns" iptables -I "$chain" -i "$dev" $rule -j DROP
      done
    done
  done
}

start_engine() {
  local i=$1 ns addr
  ns=$(ns_name "$i")
  addr=$(engine_addr "$i")
  if [ ! -e "/var/run/netns/$ns" ]; then
    add_bridge
    ip netns add "$ns"
    ip link add "ndh$i" type veth peer name eth0 netns "$ns"
    ip link set "ndh$i" master "$BRIDGE" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr add "$addr/24" dev eth0
    ip netns exec "$ns" ip link set eth0 up
  fi
  mkdir -p "$RUN_DIR/h$i" "$DATA_DIR/h$i"
  nsenter --net="/var/run/netns/$ns" setsid dockerd \
    --data-root "$DATA_DIR/h$i" --exec-root "$RUN_DIR/h$i" --pidfile "$RUN_DIR/h$i/dockerd.pid" \
    -H "unix://$(engine_sock "$i")" --ip-masq=false --insecure-registry "$NET_PREFIX.0/24" \
    >"/var/log/novadock-engine-h$i.log" 2>&1 </dev/null &
}

wait_engine() {
  local i=$1
  for _ in $(seq 1 60); do
    timeout 10 docker -H "unix://$(engine_sock "$i")" version >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  tail -n 30 "/var/log/novadock-engine-h$i.log" >&2
  die "engine h$i did not answer within 30 s"
}

up() {
  local n=2 swarm=0 i
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --swarm) swarm=1 ;;
      [0-9]*) n=$1 ;;
      *) die "unknown argument: $1" ;;
    esac
    shift
  done
  [ "$(id -u)" -eq 0 ] || die "engines.sh needs root (network namespaces, dockerd)"
  command -v dockerd >/dev/null 2>&1 || ensure_docker
  down
  add_bridge
  for i in $(seq 1 "$n"); do start_engine "$i"; done
  for i in $(seq 1 "$n"); do wait_engine "$i"; guard_swarm_ports "$i"; done
  if [ "$swarm" -eq 1 ]; then
    edocker 1 swarm init --advertise-addr "$(engine_addr 1)" --listen-addr "$(engine_addr 1):2377" >/dev/null
    local token
    token=$(edocker 1 swarm join-token -q worker)
    for i in $(seq 2 "$n"); do
      edocker "$i" swarm join --advertise-addr "$(engine_addr "$i")" --listen-addr "$(engine_addr "$i"):2377" \
        --token "$token" "$(engine_addr 1):2377" >/dev/null
    done
  fi
  log "$n engines up (sockets under $RUN_DIR)"
  hosts_json $(seq 1 "$n")
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  hosts) hosts_json $(existing) ;;
  remove) [ -n "${2:-}" ] || die "usage: engines.sh remove I"; stop_engine "$2" ;;
  stop) [ -n "${2:-}" ] || die "usage: engines.sh stop I"; halt_engine "$2" ;;
  crash) [ -n "${2:-}" ] || die "usage: engines.sh crash I"; crash_engine "$2" ;;
  start) [ -n "${2:-}" ] || die "usage: engines.sh start I"; start_engine "$2"; wait_engine "$2"; guard_swarm_ports "$2"; hosts_json "$2" ;;
  *) die "usage: engines.sh up [N] [--swarm] | down | hosts | stop I | crash I | start I | remove I" ;;
esac
