#!/usr/bin/env bash
# Makes what examples/uboot-virtio.yaml attaches, in .cache/examples/ (gitignored): a 16 MiB
# FAT disk image holding hello.txt, and a TFTP directory holding hello-tftp.txt. Needs
# Debian's dosfstools (mkfs.vfat) and mtools (mcopy). Run it again to start from a fresh disk.
#
#   scripts/fetch-firmware.sh && scripts/make-example-disk.sh
#   npx splitvisor run examples/uboot-virtio.yaml
#   => virtio scan; fatls virtio 0; load virtio 0 ${loadaddr} hello.txt; md.b ${loadaddr} ${filesize}
#   => setenv autoload no; dhcp; ping 10.0.2.2; tftpboot ${loadaddr} hello-tftp.txt
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.cache/examples"
export PATH="$PATH:/usr/sbin:/sbin"
command -v mkfs.vfat >/dev/null || { echo "make-example-disk: mkfs.vfat not found (apt-get install dosfstools)" >&2; exit 1; }
command -v mcopy >/dev/null || { echo "make-example-disk: mcopy not found (apt-get install mtools)" >&2; exit 1; }
mkdir -p "$out/tftp"
rm -f "$out/disk.img"
printf 'Hello from a FAT file system, read by U-Boot over virtio-blk.\n' > "$out/hello.txt"
printf 'Hello over TFTP, from the gateway of a Splitvisor virtual network.\n' > "$out/tftp/hello-tftp.txt"
mkfs.vfat -C -n SVDISK "$out/disk.img" 16384 >/dev/null
mcopy -i "$out/disk.img" "$out/hello.txt" ::hello.txt
echo "$out/disk.img"
echo "$out/tftp"
