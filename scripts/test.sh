#!/usr/bin/env bash
# `npm test`: the whole suite, on a fresh Debian 12 machine with Node 20 as on a developer's.
# Installs what is missing (a Docker engine, busybox-static for the test images, the Debian
# OpenStack clients and tempest, node_modules), builds, then runs every jest project (unit,
# integration, docker, e2e; then the dashboard walk alone), the integration project once more on a throwaway PostgreSQL (the
# second database backend), the e2e and cluster projects against two processes over it, and, when present, the Tempest conformance run (scripts/conformance.sh).
# Exits non-zero if anything failed, or if any test was skipped: a skipped test is not a pass.
# Extra arguments go to jest (e.g. `npm test -- test/e2e/images.test.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_docker
ensure_clients busybox-static tempest
ensure_clients python3-prometheus-client  # /metrics is read with the Prometheus project's own parser (issue 18)
ensure_clients openstack-dashboard chromium  # the Horizon walk in a real browser (issue 18, test/dashboard); the built-in page too (test/e2e/ui.test.ts)
ensure_host_tools
ensure_node_modules
build

status=0
# Layering by lint (knex only in src/db, dockerode only in src/virt/docker, express only in routers).
log "lint (eslint src)"
npx eslint src || status=1
summary="$(mktemp)"
engines_up=0
# The OpenStack clients' HOMEs (test/helpers/clients.ts), removed with the run: jest's --forceExit
# ends workers before their own exit handlers could.
NOVADOCK_TEST_TMPDIR="$(mktemp -d /tmp/novadock-test.XXXXXX)"
export NOVADOCK_TEST_TMPDIR
trap 'stop_test_postgres; [ "$engines_up" -eq 0 ] || bash scripts/engines.sh down; remove_test_images; rm -rf "$NOVADOCK_TEST_TMPDIR"; rm -f "$summary" "$summary".{dashboard,pg,e2e-cluster,cluster,multihost,resilience,conformance}' EXIT
# Two workers on two cores: the unit and integration files are quick, and the docker and e2e files
# spend their time waiting on the engine and the CLIs rather than on the CPU, so two at a time
# keeps both cores busy without starving either. --forceExit: a leaked handle must not hold CI
# until its time limit; the run's verdict is already known by then.
log "jest (unit, integration, docker, e2e)"
# ("$@" first: after --reporters, jest would take a path for one more reporter.)
whole=0
if [ "$#" -eq 0 ]; then whole=1; set -- --selectProjects unit integration docker e2e; fi
NOVADOCK_TEST_SUMMARY="$summary" npx jest "$@" --ci --maxWorkers=2 --forceExit \
  --reporters=default --reporters=./test/reporter/strict-reporter.js || status=1

# The Horizon walk (issue 18): a real Chromium driving Django's development server, alone. Beside
# another test file on two cores its pages missed their waits in two full runs of 2026-12-06 (a
# request of the launch wizard unanswered, then its image list not shown within 60 s), while it
# passed alone every time, also beside three busy loops. Whole-suite runs only.
if [ "$whole" -eq 1 ]; then
  log "jest (dashboard, alone)"
  NOVADOCK_TEST_SUMMARY="$summary.dashboard" npx jest --selectProjects dashboard --ci --runInBand --forceExit \
    --reporters=default --reporters=./test/reporter/strict-reporter.js || status=1
fi

# Several compute hosts (issue 13): two more Docker engines, each in a network namespace of its
# own, joined into one swarm (scripts/engines.sh), shared by the multihost files, run serially as
# they stop and start those engines. Removed afterwards (namespaces, data, bridge).
# They run beside the PostgreSQL phases below, in the background: the multihost files drive only
# their own engines (never the machine's), and both spend most of their time waiting on engines
# and CLIs, so running them side by side saves CI most of the multihost phase's eight minutes.
# Their output is printed when they finish, as a block of its own.
multihost_pid=""
multihost_log="$(mktemp)"
if [ "$whole" -eq 1 ]; then
  log "jest (multihost: two engines in network namespaces, serial; in the background beside PostgreSQL's)"
  (
    rc=0
    if engines_json="$(bash scripts/engines.sh up 2 --swarm | tail -n 1)"; then
      NOVADOCK_TEST_ENGINES="$engines_json" NOVADOCK_TEST_SUMMARY="$summary.multihost" npx jest --selectProjects multihost --ci --runInBand --forceExit \
        --reporters=default --reporters=./test/reporter/strict-reporter.js || rc=1
      bash scripts/engines.sh down || rc=1
    else
      rc=1
    fi
    exit "$rc"
  ) >"$multihost_log" 2>&1 &
  multihost_pid=$!
  engines_up=1
fi

# The same integration tests on PostgreSQL: a throwaway cluster on 127.0.0.1, a fresh schema per
# test-services instance (test/helpers/postgres.ts). Whole-suite runs only.
if [ "$whole" -eq 1 ]; then
  log "jest (integration on PostgreSQL)"
  # No cluster, no summary file: the closing line counts one failure.
  if start_test_postgres; then
    NOVADOCK_TEST_SUMMARY="$summary.pg" npx jest --selectProjects integration --ci --maxWorkers=2 --forceExit \
      --reporters=default --reporters=./test/reporter/strict-reporter.js || status=1
    # Several processes over that PostgreSQL (issue 16): every e2e scenario with the CLIs against two
    # processes behind a round-robin balancer (two files at a time, as in the first phase: each
    # started cluster has a database of its own), then the cluster suite (kill -9 of a process during
    # boots, conflicting actions across processes, revocations, uploads): serially, as they kill
    # processes and print the recovery times they measure.
    # Issue 15's single-server verbs (resize, shelve, tags and diagnostics, quotas, usage, restart
    # policy) run against one process above; what they share across processes (quota limits, the
    # console's one-time tokens) is tested on PostgreSQL with two processes in the integration
    # files and here (console). Left out to keep CI under its time limit. So is the registry's
    # docker CLI walk (issue 14): its protocol runs on PostgreSQL in the integration files above.
    # So are the built-in page in Chromium and the security-group CLI walk (issues 18, 17): their
    # records are shared through the database the integration files above run on PostgreSQL.
    # So is the network traffic walk (issue 17): it drives the host's networking (a bridge, NAT
    # chains, floating addresses) and runs once above, on one process.
    log "jest (e2e against two processes over PostgreSQL)"
    NOVADOCK_TEST_CLUSTER=2 NOVADOCK_TEST_SUMMARY="$summary.e2e-cluster" npx jest --selectProjects e2e --ci --maxWorkers=2 --forceExit \
      --testPathIgnorePatterns '/test/e2e/(resize|shelve|server-extras|quotas|usage|restart-policy|registry|ui|security-groups|network-traffic)\.test\.ts$' \
      --reporters=default --reporters=./test/reporter/strict-reporter.js || status=1
    log "jest (cluster, serial)"
    NOVADOCK_TEST_SUMMARY="$summary.cluster" npx jest --selectProjects cluster --ci --runInBand --forceExit \
      --reporters=default --reporters=./test/reporter/strict-reporter.js || status=1
    stop_test_postgres
  else
    status=1
  fi
fi

# The conformance step (Tempest) is another engineer's; it runs only for a whole-suite run. It runs
# beside the multihost phase's tail (on the machine's engine; the multihost files use only their
# own), and before the resilience files, which restart the machine's engine.
conformance_ran=0
if [ "$whole" -eq 1 ] && [ -f scripts/conformance.sh ]; then
  log "conformance (scripts/conformance.sh)"
  conformance_ran=1
  conformance_rc=0
  bash scripts/conformance.sh 2>&1 | tee "$summary.conformance" || conformance_rc=1
  [ "$conformance_rc" -eq 0 ] || status=1
fi


# The multihost phase started above: wait for it, then show what it printed.
if [ -n "$multihost_pid" ]; then
  log "jest (multihost): waiting for the background run"
  wait "$multihost_pid" || status=1
  engines_up=0
  cat "$multihost_log"
fi
rm -f "$multihost_log"

# Crashes, engine restarts and hostile input on a real engine: alone and serially, because
# restarting the engine would break any test running beside it. Whole-suite runs only.
if [ "$whole" -eq 1 ]; then
  log "jest (resilience, serial)"
  NOVADOCK_TEST_SUMMARY="$summary.resilience" npx jest --selectProjects resilience --ci --runInBand --forceExit \
    --reporters=default --reporters=./test/reporter/strict-reporter.js || status=1
fi

# One closing line for the whole run (CI reads it): jest's counts (SQLite, PostgreSQL, two
# processes, resilience, the dashboard walk)
# plus Tempest's, when it ran.
read -r passed failed skipped < <(node -e '
  const fs = require("fs");
  let j = { passed: 0, failed: 1, skipped: 0 };
  try { j = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch {}
  let p = j.passed, f = j.failed, s = j.skipped;
  if (process.argv[4] === "1") {
    for (const part of [".dashboard", ".pg", ".e2e-cluster", ".cluster", ".multihost", ".resilience"]) {
      let r = { passed: 0, failed: 1, skipped: 0 };
      try { r = JSON.parse(fs.readFileSync(process.argv[1] + part, "utf8")); } catch {}
      p += r.passed; f += r.failed; s += r.skipped;
    }
  }
  if (process.argv[2] === "1") {
    const text = fs.existsSync(process.argv[1] + ".conformance") ? fs.readFileSync(process.argv[1] + ".conformance", "utf8") : "";
    const m = /conformance: selected \d+ \/ passed (\d+) \/ failed (\d+) \/ skipped (\d+)/.exec(text);
    if (m) { p += +m[1]; f += +m[2]; s += +m[3]; }
    if (!m || (process.argv[3] !== "0" && +m[2] === 0)) f += 1; // it failed without a count: one failure
  }
  console.log(p, f, s);' "$summary" "$conformance_ran" "${conformance_rc:-0}" "$whole")
echo
if [ "$skipped" -gt 0 ]; then echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"; else echo "tests: ${passed} passed, ${failed} failed"; fi
if [ "$status" -ne 0 ]; then log "FAILED after ${SECONDS} s"; else log "all passed in ${SECONDS} s"; fi
exit "$status"
