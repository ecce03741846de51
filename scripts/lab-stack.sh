#!/usr/bin/env bash
# npm run lab:stack: the lab as Docker Swarm runs it. deploy/compose.yaml rendered into a stack
# file (services/dom0/dist/cli/stack-file.js: build and depends_on dropped, restart as swarm's
# restart_policy, dnsrr endpoints, host-mode ports; deploy/README.md, "Docker Swarm") and
# deployed with `docker stack deploy` on this node: an engine and the base images
# (scripts/ensure-docker.sh), a one-node swarm when this node is in none, the image built,
# every service's task waited on until healthy, the CLI's certificate copied out of the
# stack's pki-cli volume, hello booted from this machine's CLI through dom0's published port.
# Prints each step's time with the load average beside it. Swarm starts everything at once:
# the services wait for pki's volumes and NATS themselves (SPLITVISOR_START_WAIT_S).
#
#   bash scripts/lab-stack.sh down    the stack removed, its containers waited for, its volumes
#                                     removed (certificates, NATS users, VM images: all of it)
#
#   SPLITVISOR_STACK_NAME=name          the stack (default splitvisor-stack): a second beside it
#   SPLITVISOR_DOM0_PORT                dom0's port on the node (50051): every interface
#   SPLITVISOR_SWARM_ADDR               the address `docker swarm init` advertises (127.0.0.1)
#   SPLITVISOR_LAB_STACK_NO_HELLO=1     stop once healthy (no demo guest)
#   SPLITVISOR_LAB_STACK_HOST_BUILT=1   the host CLI is built already (the tests say so)
#   SPLITVISOR_IMAGE                    the image (splitvisor:dev), as compose.yaml
#   SPLITVISOR_COMPOSE="docker-compose" which compose builds the image (as lab-compose.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true
say() { echo "lab:stack: $*"; }
die() {
  echo "lab:stack: $*" >&2
  exit 1
}
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

stack=${SPLITVISOR_STACK_NAME:-splitvisor-stack}
# Docker's own rule for a stack's name (it prefixes every service, volume and network).
[[ $stack =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] || { echo "lab:stack: SPLITVISOR_STACK_NAME=$stack: letters, digits, _ . - (not first)" >&2; exit 2; }
export SPLITVISOR_DOM0_PORT=${SPLITVISOR_DOM0_PORT:-50051}
[[ $SPLITVISOR_DOM0_PORT =~ ^[1-9][0-9]{0,4}$ ]] && [ "$SPLITVISOR_DOM0_PORT" -le 65535 ] ||
  { echo "lab:stack: SPLITVISOR_DOM0_PORT=$SPLITVISOR_DOM0_PORT: not a port (1-65535)" >&2; exit 2; }
image=${SPLITVISOR_IMAGE:-splitvisor:dev}
ns=(--filter "label=com.docker.stack.namespace=$stack")

# Removes the stack and what it leaves: services (their containers go a little later, and a
# volume in use cannot be removed), then its volumes. The network goes with the services.
down() {
  if docker stack ls --format '{{.Name}}' | grep -qx "$stack"; then docker stack rm "$stack" >/dev/null; fi
  local deadline=$(($(date +%s) + 120))
  while [ -n "$(docker ps -aq "${ns[@]}")" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "the containers of stack '$stack' still there after 120 s: $(docker ps -a "${ns[@]}" --format '{{.Names}} {{.Status}}' | tr '\n' ';')"
    sleep 0.5
  done
  local vols
  vols=$(docker volume ls -q "${ns[@]}")
  # shellcheck disable=SC2086 # one name a word
  [ -z "$vols" ] || docker volume rm $vols >/dev/null
  say "stack '$stack' removed, its containers gone, its volumes removed ($(wc -w <<<"$vols"))"
}
case "${1:-}" in
  down)
    [ $# -eq 1 ] || { echo "usage: $0 [down]" >&2; exit 2; }
    down
    exit 0
    ;;
  '') ;;
  *)
    echo "usage: $0 [down]" >&2
    exit 2
    ;;
esac

# The image is built from compose.yaml's build: (swarm never builds), with the compose
# lab-compose.sh would use; the CLI's certificate is copied out with its cli-cert.
if [ -n "${SPLITVISOR_COMPOSE:-}" ]; then
  read -r -a compose <<<"$SPLITVISOR_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  die "neither 'docker compose' nor docker-compose is here to build the image (Debian: apt-get install docker-compose)"
fi

bash scripts/ensure-docker.sh start
if [ "${SPLITVISOR_LAB_STACK_HOST_BUILT:-}" != 1 ]; then # the suite has built it already
  bash scripts/ensure-deps.sh lab # the host CLI and stack-file.js: node_modules
  npm run build --silent >/dev/null
fi

# A swarm of one when this node is in none; a worker cannot deploy, and a swarm half joined
# (pending, error) is not this script's to repair.
swarm=$(docker info -f '{{.Swarm.LocalNodeState}}')
case "$swarm" in
  inactive)
    addr=${SPLITVISOR_SWARM_ADDR:-127.0.0.1}
    docker swarm init --advertise-addr "$addr" >/dev/null
    say "this node was in no swarm: made it a one-node swarm manager (docker swarm init --advertise-addr $addr; docker swarm leave --force undoes it)"
    ;;
  active)
    [ "$(docker info -f '{{.Swarm.ControlAvailable}}')" = true ] ||
      die "this node is a swarm worker: docker stack deploy needs a manager (run this there, or docker swarm leave)"
    say "this node is a swarm manager already: deploying there"
    ;;
  *) die "this node's swarm state is '$swarm' (not active, not inactive): docker info says more" ;;
esac

# The four services share one image: building it for one builds it for all.
t=$(now)
"${compose[@]}" -f deploy/compose.yaml build -q mmu
say "built in $(secs "$t" "$(now)") s (load $(load))"

t=$(now)
stack_file=$(mktemp /tmp/splitvisor-stack.XXXXXX.yaml)
trap 'rm -f "$stack_file"' EXIT
node services/dom0/dist/cli/stack-file.js deploy/compose.yaml >"$stack_file"
# --resolve-image never: the image is this engine's own (and nats' may be a local stand-in);
# asking a registry for their digests would fail or wait where none answers.
# --detach=true: Docker 23 and later wait for the tasks unless told not to; Debian's docker.io
# 20.10 client never waits and knows no --detach flag (it exits 125 on it).
detach=()
docker stack deploy --help 2>/dev/null | grep -q -- '--detach' && detach=(--detach=true)
docker stack deploy "${detach[@]}" --resolve-image never -c "$stack_file" "$stack" >/dev/null
say "deployed stack '$stack' (dom0 on port $SPLITVISOR_DOM0_PORT of every interface) in $(secs "$t" "$(now)") s"

# Every long-running service's task up and healthy. pki is a one-shot (its task completes),
# waited on only through the others: they wait for its volumes.
t=$(now)
want=$(docker stack services "$stack" --format '{{.Name}}' | grep -cvx "${stack}_pki")
deadline=$(($(date +%s) + 240))
while :; do
  states=$(docker ps "${ns[@]}" --format '{{.Label "com.docker.swarm.service.name"}} {{.Status}}' | sed "s/^${stack}_//" | grep -v '^pki ' || true)
  # Services, not containers: a task being replaced may have two for a moment.
  healthy=$( (grep '(healthy)$' <<<"$states" || true) | cut -d' ' -f1 | sort -u | grep -c . || true)
  [ "$healthy" -ge "$want" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "lab:stack: $healthy of $want services healthy after 240 s:" >&2
    echo "$states" >&2
    docker stack ps --no-trunc --format '{{.Name}} {{.CurrentState}} {{.Error}}' "$stack" >&2 || true
    for s in $(docker stack services "$stack" --format '{{.Name}}'); do docker service logs --tail 10 "$s" >&2 2>&1 || true; done
    exit 1
  fi
  sleep 0.5
done
say "NATS and the four services healthy in $(secs "$t" "$(now)") s (load $(load))"

# The stack's volumes are named <stack>_<volume>, as a compose project's are: lab-compose.sh's
# cli-cert reads the pki-cli volume of the "project" it is given.
tls_dir=.lab/stack-$stack/tls
COMPOSE_PROJECT_NAME=$stack SPLITVISOR_COMPOSE="${compose[*]}" bash scripts/lab-compose.sh cli-cert "$tls_dir" >/dev/null
say "the CLI's certificate (mutual TLS with dom0) in $tls_dir"

# SPLITVISOR_UPLOAD=always: dom0 never opens this machine's files in place (as lab-compose.sh).
cli() { SPLITVISOR_UPLOAD=always SPLITVISOR_DOM0_ADDR=127.0.0.1:$SPLITVISOR_DOM0_PORT SPLITVISOR_TLS_DIR=$tls_dir node services/dom0/bin/splitvisor.js "$@"; }
if [ "${SPLITVISOR_LAB_STACK_NO_HELLO:-}" != 1 ]; then
  say "booting the demo guest: SPLITVISOR_DOM0_ADDR=127.0.0.1:$SPLITVISOR_DOM0_PORT SPLITVISOR_TLS_DIR=$tls_dir splitvisor run examples/hello.yaml"
  t=$(now)
  cli run examples/hello.yaml
  say "hello ran in $(secs "$t" "$(now)") s (load $(load))"
fi

echo
say "the stack keeps running ('$stack', image $image). From this machine:"
echo "  export SPLITVISOR_DOM0_ADDR=127.0.0.1:$SPLITVISOR_DOM0_PORT SPLITVISOR_TLS_DIR=$PWD/$tls_dir SPLITVISOR_UPLOAD=always"
echo "  node services/dom0/bin/splitvisor.js list        # or: npx splitvisor list"
echo "  the CLI's certificate again: COMPOSE_PROJECT_NAME=$stack bash scripts/lab-compose.sh cli-cert DIR"
echo "  tasks: docker stack ps $stack     logs: docker service logs -f ${stack}_dom0"
echo "  remove: SPLITVISOR_STACK_NAME=$stack bash scripts/lab-stack.sh down"
echo "    (docker stack rm $stack; once its containers are gone,"
echo "     docker volume rm \$(docker volume ls -q --filter label=com.docker.stack.namespace=$stack))"
