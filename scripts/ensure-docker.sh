#!/usr/bin/env bash
# A Docker engine for the compose lab and the tests' NATS containers: Debian's docker.io
# installed when missing, `dockerd` started when no engine answers, and the base images
# seeded where the registry can't be reached (scripts/seed-docker-images.sh).
#
#   ensure-docker.sh start          an engine answers and the images are there; an engine it
#                                   had to start keeps running (it says so, and how to stop it)
#   ensure-docker.sh stop           stops the dockerd that `start` started, and nothing else
#   ensure-docker.sh run -- CMD...  start, run CMD, then stop the dockerd it started (even
#                                   when CMD fails or is interrupted): `npm test` runs the
#                                   suite this way, so CI leaves no engine behind
#   ensure-docker.sh status         says whether an engine answers and who started it
#
# The dockerd it starts is remembered in /run/splitvisor/dockerd.pid (tmpfs: a reboot forgets
# it with the process) and logs to /var/log/splitvisor-dockerd.log. It runs with
# --userland-proxy=false, so a published port on 127.0.0.1 is kernel NAT, not a proxy process
# per connection (the tests' NATS traffic goes through it).
# Where no engine can be had (not root, no docker.io), `start` says why and exits 1; `run`
# says why and runs CMD anyway: the tests that need an engine then fail naming it, unless
# SPLITVISOR_ALLOW_NO_DOCKER=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "ensure-docker: $*" >&2; }
state=/run/splitvisor
pidfile=$state/dockerd.pid
log=/var/log/splitvisor-dockerd.log

answers() { timeout 10 docker info >/dev/null 2>&1; }
is_root() { [ "$(id -u)" = 0 ]; }
ours() {
  # The pid we recorded, still a dockerd (not a recycled pid).
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]
}

install_engine() {
  command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 && return 0
  if ! is_root || [ "${SPLITVISOR_NO_INSTALL:-}" = 1 ]; then
    say "no Docker engine installed, and I may not install one here. This would:"
    echo "  sudo apt-get install -y docker.io" >&2
    return 1
  fi
  say "installing docker.io"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null; }
}

# 0 and prints "started" when it started dockerd, 0 silently when one answered already.
start_engine() {
  answers && return 0
  install_engine || return 1
  if ! is_root; then
    say "no Docker engine answers and only root may start dockerd: sudo dockerd &  (or: sudo systemctl start docker)"
    return 1
  fi
  mkdir -p "$state"
  # A dockerd killed outright (CI ends a session's processes so) leaves its pid file, and a
  # new one refuses to start while that file names a live process: drop it unless that is
  # still a dockerd.
  if [ -f /var/run/docker.pid ] && [ "$(cat "/proc/$(cat /var/run/docker.pid)/comm" 2>/dev/null)" != dockerd ]; then
    rm -f /var/run/docker.pid
  fi
  say "no engine answers: starting dockerd (log: $log)"
  setsid nohup dockerd --userland-proxy=false </dev/null >>"$log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 60); do
    if answers; then echo started; return 0; fi
    ours || break
    sleep 0.5
  done
  say "dockerd did not answer within 30 s; its log's end:"
  tail -20 "$log" >&2
  stop_engine
  return 1
}

stop_engine() {
  if ! ours; then rm -f "$pidfile"; return 0; fi
  local pid
  pid=$(cat "$pidfile")
  say "stopping the dockerd I started (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  # dockerd stops its containers (up to 15 s each, in parallel) and its containerd.
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

cmd=${1:-start}
case "$cmd" in
  start)
    started=$(start_engine) || exit 1
    bash "$root/scripts/seed-docker-images.sh"
    if [ "$started" = started ]; then
      say "dockerd (pid $(cat "$pidfile")) keeps running; stop it with: bash scripts/ensure-docker.sh stop"
    fi
    ;;
  stop) stop_engine ;;
  status)
    if answers; then
      if ours; then echo "an engine answers: the dockerd this script started (pid $(cat "$pidfile"))"
      else echo "an engine answers (not started by this script)"; fi
    else
      echo "no engine answers"
      exit 1
    fi
    ;;
  run)
    shift
    [ "${1:-}" = -- ] && shift
    [ $# -gt 0 ] || { say "usage: $0 run -- CMD..."; exit 2; }
    started=
    if started=$(start_engine); then
      bash "$root/scripts/seed-docker-images.sh" || say "the base images could not be seeded; the tests that need them will say so"
    else
      say "carrying on without an engine: the tests that need one will say so"
    fi
    cleanup() {
      # Containers the tests' testcontainers left (a killed test runner), then our engine.
      if answers; then
        ids=$(docker ps -aq --filter label=org.testcontainers=true 2>/dev/null || true)
        [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
      fi
      [ "$started" != started ] || stop_engine
    }
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    "$@"
    ;;
  *)
    say "usage: $0 start|stop|status|run -- CMD..."
    exit 2
    ;;
esac
