#!/usr/bin/env bash
# Puts the base images that deploy/Dockerfile, deploy/compose.yaml and the tests' NATS name
# into the local Docker engine, under their official names, where the public registry can't
# be reached (as on our machines and CI): node:20-bookworm-slim, nats:2.10-alpine and
# nats:2.10 (the tag libs/testing asks testcontainers for).
#
# Each is pulled when the registry answers; otherwise a local stand-in is made:
#   - a Debian bookworm rootfs (debootstrap --variant=minbase, plus wget), cached in
#     $SPLITVISOR_SEED_CACHE (default /var/cache/splitvisor), made once;
#   - node: that rootfs, this machine's node and npm, a `node` user (uid 1000) as in the
#     official image, and this machine's CA bundle with NODE_EXTRA_CA_CERTS pointing at it
#     (npm inside a build reaches its registry only when it trusts what the host trusts);
#   - nats: that rootfs, this machine's Debian nats-server, and an entrypoint that, like the
#     official image's, runs nats-server when the command starts with '-'.
# Imported with `docker import`; `docker image inspect -f '{{.Comment}}' IMAGE` says which.
# Idempotent, and quick when every image is there already. Needs root for debootstrap.
#
#   SPLITVISOR_SEED_NO_PULL=1   don't try the registry (go straight to the stand-ins)
#   SPLITVISOR_SEED_CACHE=DIR   where the rootfs is kept
set -euo pipefail
say() { echo "seed-docker-images: $*" >&2; }

NODE_IMAGE=node:20-bookworm-slim
NATS_IMAGE=nats:2.10-alpine
NATS_TEST_IMAGE=nats:2.10
cache=${SPLITVISOR_SEED_CACHE:-/var/cache/splitvisor}

docker info >/dev/null 2>&1 || { say "no Docker engine answers (bash scripts/ensure-docker.sh start starts one)"; exit 1; }
have() { docker image inspect "$1" >/dev/null 2>&1; }

missing=()
for img in "$NODE_IMAGE" "$NATS_IMAGE" "$NATS_TEST_IMAGE"; do have "$img" || missing+=("$img"); done
[ ${#missing[@]} -gt 0 ] || exit 0

# The registry first: one try, bounded, so an unreachable one costs seconds, not minutes.
if [ "${SPLITVISOR_SEED_NO_PULL:-}" != 1 ]; then
  if timeout 30 docker pull -q "${missing[0]}" >/dev/null 2>&1; then
    for img in "${missing[@]:1}"; do docker pull -q "$img" >/dev/null; done
    say "pulled ${missing[*]}"
    exit 0
  fi
  say "the registry can't be reached: making local stand-ins for ${missing[*]}"
fi

[ "$(id -u)" = 0 ] || { say "making the stand-ins needs root (debootstrap, chown)"; exit 1; }

rootfs=$cache/bookworm-minbase
if [ ! -x "$rootfs/bin/sh" ]; then
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  fi
  say "debootstrap: a bookworm minbase rootfs into $rootfs (once)"
  mkdir -p "$cache"
  rm -rf "$rootfs.tmp"
  # Debian's default mirror, or the one given; log kept for when it fails.
  debootstrap --variant=minbase --include=wget bookworm "$rootfs.tmp" ${SPLITVISOR_DEBIAN_MIRROR:-} >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; say "debootstrap failed (log: $cache/debootstrap.log)"; exit 1; }
  # apt's downloaded packages are not part of any image.
  rm -rf "$rootfs.tmp"/var/cache/apt/archives/*.deb "$rootfs.tmp"/var/lib/apt/lists/*
  mv "$rootfs.tmp" "$rootfs"
fi

work=$(mktemp -d /var/tmp/splitvisor-seed.XXXXXX)
trap 'rm -rf "$work"' EXIT

# stage NAME: a fresh copy of the rootfs to add files to.
stage() { cp -a "$rootfs" "$work/$1"; echo "$work/$1"; }
# import_dir DIR IMAGE COMMENT CHANGES...: the folder as a one-layer image.
import_dir() {
  local dir=$1 img=$2 comment=$3
  shift 3
  local args=()
  for c in "$@"; do args+=(--change "$c"); done
  tar -C "$dir" --numeric-owner -cf - . | docker import -m "$comment" "${args[@]}" - "$img" >/dev/null
  say "made $img ($comment)"
}

need_node=no need_nats=no
for img in "${missing[@]}"; do
  case "$img" in "$NODE_IMAGE") need_node=yes ;; *) need_nats=yes ;; esac
done

if [ "$need_node" = yes ]; then
  node_bin=$(readlink -f "$(command -v node)")
  npm_dir=$(npm root -g)/npm
  [ -f "$npm_dir/bin/npm-cli.js" ] || { say "no npm at $npm_dir"; exit 1; }
  d=$(stage node)
  install -m 0755 "$node_bin" "$d/usr/local/bin/node"
  mkdir -p "$d/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$d/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$d/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$d/usr/local/bin/npx"
  echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$d/etc/passwd"
  echo 'node:x:1000:' >>"$d/etc/group"
  echo 'node:*:19000:0:99999:7:::' >>"$d/etc/shadow"
  mkdir -p "$d/home/node" "$d/etc/ssl/certs"
  chown 1000:1000 "$d/home/node"
  cp /etc/ssl/certs/ca-certificates.crt "$d/etc/ssl/certs/ca-certificates.crt"
  import_dir "$d" "$NODE_IMAGE" "splitvisor stand-in: Debian bookworm minbase + this machine's node $(node --version)" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "ENV NODE_VERSION=$(node --version | tr -d v)" \
    'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    'CMD ["node"]'
fi

if [ "$need_nats" = yes ] && have "$NATS_IMAGE"; then
  docker tag "$NATS_IMAGE" "$NATS_TEST_IMAGE"
elif [ "$need_nats" = yes ]; then
  nats_bin=${SPLITVISOR_NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
  [ -x "$nats_bin" ] || { say "no nats-server on this machine (apt-get install nats-server)"; exit 1; }
  d=$(stage nats)
  install -m 0755 "$nats_bin" "$d/usr/local/bin/nats-server"
  cat >"$d/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# As the official image's: options alone run nats-server with them.
set -e
if [ "${1#-}" != "$1" ]; then set -- nats-server "$@"; fi
exec "$@"
EOF
  chmod 0755 "$d/usr/local/bin/docker-entrypoint.sh"
  import_dir "$d" "$NATS_IMAGE" "splitvisor stand-in: Debian bookworm minbase + this machine's $("$nats_bin" --version)" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    'CMD ["nats-server"]' \
    'EXPOSE 4222 6222 8222'
  docker tag "$NATS_IMAGE" "$NATS_TEST_IMAGE"
fi
