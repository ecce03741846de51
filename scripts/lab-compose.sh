#!/usr/bin/env bash
# npm run lab:compose: the lab as docker compose runs it (deploy/compose.yaml): an engine and
# the base images (scripts/ensure-docker.sh), the image built, NATS and the four services up
# and healthy, the demo guest booted from this machine's CLI through dom0's published port,
# and how to reach it. Prints each step's time with the load average beside it.
# The lab is secure (compose.yaml's pki service: mutual TLS, NATS users); the host CLI's
# certificate is copied out of the pki-cli volume into .lab/compose-<project>/tls.
#
#   bash scripts/lab-compose.sh cli-cert DIR   only that: the running lab's CLI certificate
#                                              (ca.crt, cli.crt, cli.key) into DIR, for
#                                              SPLITVISOR_TLS_DIR=DIR
#
# Uses `docker compose` (v2) when the docker CLI has it, else Debian's docker-compose 1.29.
#   SPLITVISOR_COMPOSE="docker-compose"   pick one
#   SPLITVISOR_COMPOSE_CLUSTER=1          NATS as a three-node cluster (deploy/compose.cluster.yaml)
#   COMPOSE_PROJECT_NAME=name             another lab beside the default `splitvisor`
#   SPLITVISOR_DOM0_PORT / SPLITVISOR_NATS_MONITOR_PORT   host ports (50051 / 8222)
#   SPLITVISOR_LAB_COMPOSE_NO_HELLO=1     stop after up (no demo guest)
#   SPLITVISOR_LAB_COMPOSE_HOST_BUILT=1   the host CLI is built already (the tests say so)
#   SPLITVISOR_IMAGE                      the image (splitvisor:dev), as compose.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true
say() { echo "lab:compose: $*"; }
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

if [ -n "${SPLITVISOR_COMPOSE:-}" ]; then
  read -r -a compose <<<"$SPLITVISOR_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  echo "lab:compose: neither 'docker compose' nor docker-compose is here (Debian: apt-get install docker-compose)" >&2
  exit 1
fi
compose+=(-f deploy/compose.yaml)
if [ "${SPLITVISOR_COMPOSE_CLUSTER:-}" = 1 ]; then
  compose+=(-f deploy/compose.cluster.yaml)
elif [ -n "${SPLITVISOR_COMPOSE_CLUSTER:-}" ]; then
  echo "lab:compose: SPLITVISOR_COMPOSE_CLUSTER=$SPLITVISOR_COMPOSE_CLUSTER: 1 (NATS as a three-node cluster) or unset" >&2
  exit 2
fi
project=${COMPOSE_PROJECT_NAME:-splitvisor}
dom0_port=${SPLITVISOR_DOM0_PORT:-50051}

# The CLI's identity, as pki wrote it into its own volume: read there by a throwaway
# container of the lab's image (no network), copied into a private directory here.
cli_cert() {
  local dir=$1 vol="${project}_pki-cli"
  if ! docker volume inspect "$vol" >/dev/null 2>&1; then
    echo "lab:compose: no volume $vol: is the compose lab '$project' up (pki has run)?" >&2
    return 1
  fi
  mkdir -p "$dir"
  chmod 700 "$dir"
  rm -f "$dir/ca.crt" "$dir/cli.crt" "$dir/cli.key"
  docker run --rm --network none -v "$vol:/cli:ro" --entrypoint tar "${SPLITVISOR_IMAGE:-splitvisor:dev}" -C /cli -cf - ca.crt cli.crt cli.key |
    (umask 077 && tar -C "$dir" --no-same-owner -xf -)
}
if [ "${1:-}" = cli-cert ]; then
  [ $# -eq 2 ] || { echo "usage: $0 cli-cert DIR" >&2; exit 2; }
  cli_cert "$2"
  echo "lab:compose: the CLI's certificate for '$project' in $2: export SPLITVISOR_TLS_DIR=$2"
  exit 0
fi
[ $# -eq 0 ] || { echo "usage: $0 [cli-cert DIR]" >&2; exit 2; }

bash scripts/ensure-docker.sh start
if [ "${SPLITVISOR_LAB_COMPOSE_HOST_BUILT:-}" != 1 ]; then # the suite has built it already
  bash scripts/ensure-deps.sh lab # the host CLI: node_modules
  npm run build --silent >/dev/null
fi

# The four services share one image (splitvisor:dev): building it for one builds it for all
# (compose 1.29 would otherwise run the same build four times).
t=$(now)
"${compose[@]}" build -q mmu
build_s=$(secs "$t" "$(now)")
say "built in ${build_s} s (load $(load))"

t=$(now)
# pki first (compose waits for it to exit 0): the CA, certificates and NATS users.
if ! "${compose[@]}" up -d; then
  "${compose[@]}" logs --tail 20 pki >&2 || true
  exit 1
fi
# Both compose versions: wait on each container's own health (v1 has no `up --wait`); pki
# has exited by then, and is not waited on. As many as the files name (NATS: one or three).
want=$("${compose[@]}" config --services | grep -cv '^pki$')
deadline=$(($(date +%s) + 180))
while :; do
  ids=$("${compose[@]}" ps -q)
  states=$(for id in $ids; do docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"; done)
  states=$(grep -v '^pki ' <<<"$states" || true)
  [ -n "$states" ] && ! grep -qv ' healthy$' <<<"$states" && [ "$(wc -l <<<"$states")" -ge "$want" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "lab:compose: not all healthy after 180 s:" >&2
    echo "$states" >&2
    "${compose[@]}" logs --tail 20 >&2 || true
    exit 1
  fi
  sleep 0.5
done
up_s=$(secs "$t" "$(now)")
say "NATS ($((want - 4)) node(s)) and the four services healthy in ${up_s} s (load $(load))"

tls_dir=.lab/compose-$project/tls
cli_cert "$tls_dir"
say "the CLI's certificate (mutual TLS with dom0) in $tls_dir"

# SPLITVISOR_UPLOAD=always: dom0 never opens this machine's files in place, so the CLI need
# not ask (and dom0 refuses that question without a digest: issue 16).
cli() { SPLITVISOR_UPLOAD=always SPLITVISOR_DOM0_ADDR=127.0.0.1:$dom0_port SPLITVISOR_TLS_DIR=$tls_dir node services/dom0/bin/splitvisor.js "$@"; }
if [ "${SPLITVISOR_LAB_COMPOSE_NO_HELLO:-}" != 1 ]; then
  # dom0 cannot open this machine's files: run uploads the image into its store (the
  # images volume), by digest, so a second run sends nothing.
  say "booting the demo guest: SPLITVISOR_DOM0_ADDR=127.0.0.1:$dom0_port SPLITVISOR_TLS_DIR=$tls_dir splitvisor run examples/hello.yaml"
  t=$(now)
  cli run examples/hello.yaml
  say "hello ran in $(secs "$t" "$(now)") s (load $(load))"
fi

echo
say "the lab keeps running (compose project '$project'). From this machine:"
echo "  export SPLITVISOR_DOM0_ADDR=127.0.0.1:$dom0_port SPLITVISOR_TLS_DIR=$PWD/$tls_dir SPLITVISOR_UPLOAD=always"
echo "  node services/dom0/bin/splitvisor.js list        # or: npx splitvisor list"
echo "  node services/dom0/bin/splitvisor.js run examples/ticker.yaml   # files uploaded to dom0"
echo "  NATS monitoring: http://127.0.0.1:${SPLITVISOR_NATS_MONITOR_PORT:-8222}/"
echo "  the CLI's certificate again (another directory): bash scripts/lab-compose.sh cli-cert DIR"
echo "  logs: ${compose[*]} logs -f     stop: ${compose[*]} down -v (its certificates and NATS users go with the volumes)"
