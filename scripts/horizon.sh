#!/usr/bin/env bash
# `npm run horizon`: Debian's OpenStack dashboard (Horizon, package openstack-dashboard) against the
# novadock that `npm run up` started, on http://127.0.0.1:${NOVADOCK_HORIZON_PORT:-8090}/ until ^C.
# The system's Apache and /etc/openstack-dashboard are left alone: Django's own server runs Horizon
# with deploy/horizon/novadock_horizon_settings.py, which imports Debian's settings and points them at
# novadock (sessions in memory). --insecure lets that server hand out the static files, including
# the bundles Debian compressed offline.
# Environment: NOVADOCK_HORIZON_PORT (8090), NOVADOCK_HORIZON_KEYSTONE_URL (default: this
# machine's novadock, as scripts/lib.sh resolves it, + /identity/v3).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_clients openstack-dashboard

HORIZON_PORT="${NOVADOCK_HORIZON_PORT:-8090}"
export NOVADOCK_HORIZON_KEYSTONE_URL="${NOVADOCK_HORIZON_KEYSTONE_URL:-$PUBLIC_URL/identity/v3}"
if ! curl -fsS -m 5 -o /dev/null "${NOVADOCK_HORIZON_KEYSTONE_URL%/v3}/v3" 2>/dev/null; then
  die "no Keystone answers at $NOVADOCK_HORIZON_KEYSTONE_URL: start novadock first (npm run up)"
fi

export PYTHONPATH="$PWD/deploy/horizon${PYTHONPATH:+:$PYTHONPATH}"
export DJANGO_SETTINGS_MODULE=novadock_horizon_settings
log "Horizon on http://127.0.0.1:$HORIZON_PORT/ against $NOVADOCK_HORIZON_KEYSTONE_URL (^C stops it)"
# Debian's python3: the dashboard's modules are installed for it, not for a python3 earlier on PATH.
exec /usr/bin/python3 -m django runserver --insecure --noreload "127.0.0.1:$HORIZON_PORT"
