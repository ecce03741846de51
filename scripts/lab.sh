#!/usr/bin/env bash
# npm run lab: on a fresh Debian/Ubuntu machine with Node 20, install what is missing,
# build, start NATS and the four services, boot the demo guest and show its console.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then echo "lab: Node $major is too old: Splitvisor needs Node 20 or newer" >&2; exit 1; fi

if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server
  else
    echo "lab: nats-server is missing and I may not install it. Install it with" >&2
    echo "       sudo apt-get install nats-server" >&2
    echo "     (or put a nats-server binary on PATH, or set SPLITVISOR_NATS_SERVER), then run npm run lab again." >&2
    exit 1
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
npm run build

mkdir -p .lab
if npx splitvisor list >/dev/null 2>&1; then
  echo "lab: a lab is already running; using it"
else
  echo "lab: starting NATS and the four services (log: .lab/lab.log)"
  nohup npx splitvisor up > .lab/lab.log 2>&1 &
  for _ in $(seq 1 150); do
    npx splitvisor list >/dev/null 2>&1 && break
    sleep 0.2
  done
  npx splitvisor list >/dev/null || { echo "lab: the lab did not come up; see .lab/lab.log" >&2; tail -20 .lab/lab.log >&2; exit 1; }
fi
echo "lab: booting the demo guest (examples/hello.yaml)"
npx splitvisor run examples/hello.yaml
echo
echo "lab: the lab keeps running. Try: npx splitvisor list | npx splitvisor run examples/echo.yaml | npx splitvisor down"
