#!/usr/bin/env bash
# Fetches Debian 13's riscv64 kernel and busybox-static (never committed) and builds what
# Splitvisor and QEMU boot Linux from, into .cache/linux/:
#
#   Image             the kernel (the package's vmlinux: a flat RISC-V Image with an EFI stub, entered at 0x80200000)
#   initramfs.cpio.gz busybox-static, the virtio/ext4 modules (decompressed), and an /init that
#                     mounts proc/sys/devtmpfs, loads the modules, prints a marker and runs sh
#   rootfs.ext4       a 64 MiB ext4 root file system of the same busybox (root=/dev/vda; the
#                     initramfs switches to it): /sbin/init runs a shell; copy it before writing
#   modules/          the .ko files
#
# and prints the kernel's and the initramfs's paths, one per line on stdout (progress on
# stderr). Idempotent: what is already built is not fetched again.
#
# The packages come from Debian trixie for architecture riscv64 through apt-get with its own
# sources list, package lists and cache under .cache/linux/apt, so the machine's own apt
# state (its architectures, lists and installed packages) is never touched.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.cache/linux"
apt="$out/apt"
MIRROR=${SPLITVISOR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Loaded in this order (DESIGN.md: virtio_mmio first; net_failover and failover before
# virtio_net; crc16, crc32c_generic (ext4 checks its metadata with it), mbcache and jbd2 before ext4).
MODULES=(virtio_mmio virtio_blk failover net_failover virtio_net virtio-rng crc16 crc32c_generic mbcache jbd2 ext4)

fail() {
  echo "fetch-linux: $*" >&2
  exit 1
}
export PATH="$PATH:/usr/sbin:/sbin"   # mke2fs, for a user whose PATH lacks them
for tool in apt-get dpkg-deb cpio gzip xz mke2fs; do
  command -v "$tool" >/dev/null || fail "$tool not found (npm test installs it: scripts/needs.list)"
done

# What was built, and from which of our files: a change to guests/linux/ builds again.
stamp="$(cat "$root"/guests/linux/* "$0" | sha256sum | cut -c1-16)"
if [ -f "$out/Image" ] && [ -f "$out/initramfs.cpio.gz" ] && [ -f "$out/rootfs.ext4" ] && [ "$(cat "$out/.complete" 2>/dev/null)" = "$stamp" ]; then
  echo "$out/Image"
  echo "$out/initramfs.cpio.gz"
  echo "$out/rootfs.ext4"
  exit 0
fi

mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
echo "deb [arch=riscv64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" > "$apt/sources.list"
A=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt/lists"
  -o "Dir::Cache=$apt/cache" -o Dir::State::Status=/dev/null -o APT::Architecture=riscv64 -o APT::Architectures::=riscv64
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq)

# The first index fetch of that archive has failed with a size mismatch on a good day: retry.
if ! apt-cache "${A[@]}" show busybox-static >/dev/null 2>&1; then
  for try in 1 2 3; do
    echo "fetch-linux: apt-get update (trixie, riscv64), try $try" >&2
    if apt-get "${A[@]}" update >&2; then break; fi
    [ "$try" = 3 ] && fail "apt-get update of $MIRROR trixie (riscv64) failed three times"
    sleep 2
  done
fi

# linux-image-riscv64 is the meta package; the kernel is the versioned package it depends on.
kpkg=$(apt-cache "${A[@]}" depends linux-image-riscv64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || fail "linux-image-riscv64 names no linux-image-<version> package in $MIRROR trixie"
for pkg in "$kpkg" busybox-static; do
  if ! ls "$apt/debs/${pkg}"_*.deb >/dev/null 2>&1; then
    echo "fetch-linux: apt-get download $pkg" >&2
    (cd "$apt/debs" && apt-get "${A[@]}" download "$pkg" >&2) || fail "apt-get download $pkg failed"
  fi
done

work="$out/tmp"
rm -rf "$work"
mkdir -p "$work/kernel" "$work/busybox" "$work/initramfs"
dpkg-deb -x "$(ls "$apt/debs/${kpkg}"_*.deb | tail -n 1)" "$work/kernel"
dpkg-deb -x "$(ls "$apt/debs"/busybox-static_*.deb | tail -n 1)" "$work/busybox"
kver=${kpkg#linux-image-}
image="$work/kernel/boot/vmlinux-$kver"
[ -f "$image" ] || fail "$kpkg has no /boot/vmlinux-$kver; the package layout changed, fix $0"
# A flat RISC-V Image carries "RSC\x05" at offset 0x38 (Documentation/arch/riscv/boot-image-header.rst).
[ "$(dd if="$image" bs=1 skip=56 count=4 2>/dev/null | od -An -c | tr -d ' ')" = 'RSC005' ] ||
  fail "$image is not a flat RISC-V Image (no RSC\\x05 magic at 0x38)"

# The modules, decompressed with the host's xz (the kernel's own module loader would need
# CONFIG_MODULE_DECOMPRESS; busybox insmod reads plain .ko).
mkdir -p "$work/modules"
for m in "${MODULES[@]}"; do
  f=$(find "$work/kernel" -path "*/modules/$kver/*" \( -name "$m.ko.xz" -o -name "$m.ko" \) -print -quit)
  [ -n "$f" ] || fail "$kpkg has no module $m"
  case "$f" in
    *.xz) xz -dc "$f" > "$work/modules/$m.ko" ;;
    *) cp "$f" "$work/modules/$m.ko" ;;
  esac
done

# The initramfs: busybox, the modules, and /init.
ir="$work/initramfs"
mkdir -p "$ir/bin" "$ir/sbin" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/tmp" "$ir/root" "$ir/mnt" "$ir/lib/modules" "$ir/etc"
cp "$work/busybox/usr/bin/busybox" "$ir/bin/busybox"
cp "$work/modules/"*.ko "$ir/lib/modules/"
cp "$root/guests/linux/init" "$ir/init"
cp "$root/guests/linux/udhcpc.script" "$ir/etc/udhcpc.script"
chmod 0755 "$ir/init" "$ir/bin/busybox" "$ir/etc/udhcpc.script"
printf '%s\n' "${MODULES[@]}" > "$ir/etc/modules"
(cd "$ir" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9n > "$work/initramfs.cpio.gz"

# The root file system: the same busybox, an /sbin/init that runs a shell, owned by root.
fs="$work/rootfs"
mkdir -p "$fs/bin" "$fs/sbin" "$fs/proc" "$fs/sys" "$fs/dev" "$fs/tmp" "$fs/root" "$fs/mnt" "$fs/etc"
cp "$work/busybox/usr/bin/busybox" "$fs/bin/busybox"
cp "$root/guests/linux/rootfs-init" "$fs/sbin/init"
cp "$root/guests/linux/udhcpc.script" "$fs/etc/udhcpc.script"
chmod 0755 "$fs/bin/busybox" "$fs/sbin/init" "$fs/etc/udhcpc.script"
mke2fs -q -F -t ext4 -L svroot -E root_owner=0:0 -d "$fs" "$work/rootfs.ext4" 64M >&2 ||
  fail "mke2fs could not build the root file system"

rm -rf "$out/modules"
mv "$work/modules" "$out/modules"
cp "$image" "$out/Image"
mv "$work/initramfs.cpio.gz" "$out/initramfs.cpio.gz"
mv "$work/rootfs.ext4" "$out/rootfs.ext4"
cp "$work/busybox/usr/bin/busybox" "$out/busybox"
echo "$stamp" > "$out/.complete"
rm -rf "$work"
echo "$out/Image"
echo "$out/initramfs.cpio.gz"
echo "$out/rootfs.ext4"
