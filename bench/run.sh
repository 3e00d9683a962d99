#!/usr/bin/env bash
# Runs a benchmark against raw Docker in the same run: upload | boot | list | kill-lag | scale | all.
#   bash bench/run.sh upload [--size-mib 1024] [--rounds 5] [--settle-ms 2000]
#   bash bench/run.sh boot [--repeats 20] [--concurrent 50]
#   bash bench/run.sh list [--servers 1000] [--requests 200]
#   bash bench/run.sh kill-lag [--repeats 20]
#   bash bench/run.sh scale [--servers 1000] [--requests 200] [--seconds 15] [--connections 8] [--rounds 3]
#     (two processes over a throwaway PostgreSQL; installs postgresql, nginx-light, wrk, curl)
#   bash bench/run.sh multihost [--concurrent 40] [--rounds 3]
#     (two more engines in network namespaces, in a swarm: scripts/engines.sh; removed afterwards)
#   bash bench/run.sh scheduler [--hosts 100] [--servers 1000] [--decisions 500]
#     (placement decisions over fake hosts on SQLite; no engine involved)
#   bash bench/run.sh resize [--repeats 30]
#     (live resize → VERIFY_RESIZE against the engine's update call plus one API round trip)
#   bash bench/run.sh console [--rounds 5] [--keys 100]
#     (keystroke round trip: the serial console's websocket vs docker exec -it, one python3 client
#      for both; installs python3-websocket)
#   bash bench/run.sh login-spam [--seconds 10] [--spammers 8]
#     (GET /servers p50 by curl while quiet and while 8 clients guess passwords; needs curl)
#   bash bench/run.sh metrics [--requests 20000]
#     (what the request metrics add per request: the same app with and without, alternating)
#   bash bench/run.sh registry [--layer-mib 256] [--layers 4] [--rounds 3]
#     (docker push / pull of a 1 GiB image to novadock's /v2/ and to Debian's docker-registry,
#      and a re-push with one changed layer; installs docker-registry)
#   bash bench/run.sh network [--repeats 9] [--associations 9] [--rounds 3] [--size-mib 1024]
#     (boot on a named network + security group vs the default one; floating IP associate → first
#      reply; 1 GiB through a floating IP vs the fixed IP: a bridge on 10.250.20.0/24, removed
#      afterwards; needs curl)
# Figures print as a table and are kept in bench/out/<name>.json. Never part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

which="${1:-}"
case "$which" in
  upload|boot|list|kill-lag|scale|multihost|scheduler|resize|console|login-spam|metrics|registry|network|all) shift ;;
  *) die "usage: bash bench/run.sh upload|boot|list|kill-lag|scale|multihost|scheduler|resize|console|login-spam|metrics|registry|network|all [options]" ;;
esac
ensure_docker
ensure_node_modules
build
log "compiling bench/"
npx tsc -p bench/tsconfig.json
if [ "$which" = scale ]; then
  missing=()
  for p in nginx-light wrk curl; do pkg_installed "$p" || missing+=("$p"); done
  apt_install "${missing[@]}"
  start_test_postgres
  trap stop_test_postgres EXIT
fi
if [ "$which" = console ] && ! pkg_installed python3-websocket; then
  apt_install python3-websocket
fi
if [ "$which" = registry ]; then
  pkg_installed docker-registry || apt_install docker-registry
fi
if [ "$which" = network ]; then
  pkg_installed curl || apt_install curl
fi
if [ "$which" = multihost ]; then
  ensure_host_tools
  NOVADOCK_BENCH_ENGINES="$(bash scripts/engines.sh up 2 --swarm | tail -n 1)"
  export NOVADOCK_BENCH_ENGINES
  trap 'bash scripts/engines.sh down' EXIT
fi
if [ "$which" = all ]; then
  for b in upload boot kill-lag list scheduler login-spam; do node "dist/bench/bench/$b.js" "$@"; done
else
  node "dist/bench/bench/$which.js" "$@"
fi
