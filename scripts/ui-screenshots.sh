#!/usr/bin/env bash
# Screenshots of the built-in page for the README: docs/ui-servers.png, ui-images.png, ui-hosts.png.
# Starts a throwaway novadock (test/helpers/server.ts) and Debian's Chromium; removes what it made.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_docker
ensure_clients busybox-static chromium
ensure_node_modules
build
npx tsc --outDir dist/ui-screenshots --rootDir . --target ES2022 --module commonjs --moduleResolution node \
  --esModuleInterop --resolveJsonModule --skipLibCheck --strict --types node scripts/ui-screenshots.ts
node dist/ui-screenshots/scripts/ui-screenshots.js
