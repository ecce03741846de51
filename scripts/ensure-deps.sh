#!/usr/bin/env bash
# Installs what `npm run lab` (ensure-deps.sh lab) or `npm test` (ensure-deps.sh test) needs
# and the machine lacks, from the one list scripts/needs.list: Debian packages with apt-get
# when it may (root, or sudo without a password), node_modules with npm ci, and for the suite
# the real guests it boots (scripts/fetch-firmware.sh, scripts/fetch-linux.sh). Where it may not install, it prints the
# one command that would, and stops. Quiet when nothing is missing.
#
#   SPLITVISOR_NO_INSTALL=1   never install: only say what is missing (and how to install it)
#   SPLITVISOR_NEEDS_LIST=F   read the list from F (the tests use it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
who=${1:-}
case "$who" in
  lab|test) ;;
  *) echo "ensure-deps: usage: $0 lab|test (got '${who}')" >&2; exit 2 ;;
esac
list=${SPLITVISOR_NEEDS_LIST:-$root/scripts/needs.list}
say() { echo "ensure-deps: $*" >&2; }

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then say "Node $major is too old: Splitvisor needs Node 20 or newer"; exit 1; fi

# A command is there when it is on PATH or in the sbin folders a non-root PATH leaves out
# (Debian puts nats-server and mkfs.vfat there).
# SPLITVISOR_NATS_SERVER names a nats-server of one's own, as the launcher allows.
have() {
  if [ "$1" = nats-server ] && [ -n "${SPLITVISOR_NATS_SERVER:-}" ]; then [ -x "$SPLITVISOR_NATS_SERVER" ]; return; fi
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

# Walk the list: `lab` lines always, `test` lines for the suite; note what is not there.
[ -f "$list" ] || { say "no list of what is needed at $list"; exit 1; }
missing_cmds=()
missing_pkgs=()
n=0
while read -r for cmd pkg _; do
  n=$((n + 1))
  case "$for" in ''|'#'*) continue ;; esac
  if [ -z "$cmd" ] || [ -z "$pkg" ]; then say "$list line $n: needs who, command and package, got '$for $cmd $pkg'"; exit 1; fi
  case "$for" in
    lab) ;;
    test) [ "$who" = test ] || continue ;;
    *) say "$list line $n: who needs '$cmd' must be lab or test, not '$for'"; exit 1 ;;
  esac
  have "$cmd" && continue
  missing_cmds+=("$cmd")
  case " ${missing_pkgs[*]-} " in *" $pkg "*) ;; *) missing_pkgs+=("$pkg") ;; esac
done < "$list"

may_install() {
  [ "${SPLITVISOR_NO_INSTALL:-}" != 1 ] || return 1
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
apt_updated=
apt_update() { [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }; }

if [ ${#missing_cmds[@]} -gt 0 ]; then
  if ! may_install; then
    say "missing: ${missing_cmds[*]}; I may not install them here (not root, no passwordless sudo, or SPLITVISOR_NO_INSTALL=1). This would:"
    echo "  sudo apt-get install -y ${missing_pkgs[*]}" >&2
    say "then run it again."
    exit 1
  fi
  say "installing ${missing_pkgs[*]} (for ${missing_cmds[*]})"
  apt_update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null
  still=()
  for cmd in "${missing_cmds[@]}"; do have "$cmd" || still+=("$cmd"); done
  if [ ${#still[@]} -gt 0 ]; then say "installed ${missing_pkgs[*]}, but ${still[*]} is still not found"; exit 1; fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund
fi

# The real guests the suite boots (Debian's OpenSBI and U-Boot; fetched, never committed).
# apt-get download needs package lists: a fresh machine has none until apt-get update.
if [ "$who" = test ]; then
  err=$(mktemp)
  trap 'rm -f "$err"' EXIT
  if ! bash scripts/fetch-firmware.sh >/dev/null 2>"$err"; then
    if may_install && [ -z "$apt_updated" ]; then
      say "fetching the firmware needs Debian's package lists: apt-get update"
      apt_update
      bash scripts/fetch-firmware.sh >/dev/null
    else
      cat "$err" >&2
      exit 1
    fi
  fi
  # Debian 13's riscv64 kernel and busybox, and the initramfs built from them (apt with its
  # own lists and cache: the machine's apt state is not touched).
  if ! bash scripts/fetch-linux.sh >/dev/null 2>"$err"; then
    cat "$err" >&2
    exit 1
  fi
fi
