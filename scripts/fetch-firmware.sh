#!/usr/bin/env bash
# Fetches the real guests DESIGN.md names, Debian's OpenSBI (fw_jump) and U-Boot for
# qemu-riscv64 in S-mode, into .cache/firmware/ (gitignored; never committed), and prints
# their paths, fw_jump.bin first, one per line on stdout (progress goes to stderr).
#
#   scripts/fetch-firmware.sh          # then: npx splitvisor run examples/uboot.yaml
#
# Idempotent: what is already unpacked is not fetched again. Needs apt-get (Debian's
# package lists; run `apt-get update` once on a fresh machine) and dpkg-deb.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/firmware"

# Where the packages put them (Debian bookworm: opensbi 1.1, u-boot-qemu 2023.01).
FW_JUMP="$cache/opensbi/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
UBOOT="$cache/u-boot-qemu/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"

fail() {
  echo "fetch-firmware: $*" >&2
  exit 1
}

# package, the file it must provide
unpack() {
  local pkg=$1 want=$2 deb
  [ -f "$want" ] && return 0
  command -v apt-get >/dev/null || fail "apt-get not found: this script fetches Debian's $pkg package"
  mkdir -p "$cache/debs"
  deb=$(ls "$cache/debs/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$deb" ]; then
    echo "fetch-firmware: apt-get download $pkg" >&2
    local log
    # apt-get downloads into the current directory; as root it warns that the _apt user
    # cannot write there, which is harmless.
    if ! log=$(cd "$cache/debs" && apt-get download "$pkg" 2>&1); then
      hint=""
      if grep -q "Unable to locate package" <<<"$log"; then
        hint=" (no package lists know it: run 'apt-get update' first; it is in Debian bookworm and later)"
      fi
      fail "apt-get download $pkg failed${hint}:
$(grep -v '^W: Download is performed unsandboxed' <<<"$log" | sed 's/^/  /')"
    fi
    deb=$(ls "$cache/debs/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$deb" ] || fail "apt-get download $pkg reported success but left no ${pkg}_*.deb in $cache/debs"
  fi
  echo "fetch-firmware: unpacking $(basename "$deb")" >&2
  rm -rf "$cache/$pkg.tmp"
  dpkg-deb -x "$deb" "$cache/$pkg.tmp" || fail "dpkg-deb -x $deb failed"
  rm -rf "$cache/$pkg"
  mv "$cache/$pkg.tmp" "$cache/$pkg"
  [ -f "$want" ] || fail "$(basename "$deb") has no ${want#"$cache/$pkg"}; the package layout changed, fix the path in $0"
}

unpack opensbi "$FW_JUMP"
unpack u-boot-qemu "$UBOOT"
echo "$FW_JUMP"
echo "$UBOOT"
