#!/usr/bin/env bash
# npm run lab: on a fresh Debian/Ubuntu machine with Node 20, install what is missing,
# build, start NATS and the four services, boot the demo guest and show its console.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true

bash scripts/ensure-deps.sh lab   # Node 20, nats-server, node_modules: the one list in scripts/needs.list
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
