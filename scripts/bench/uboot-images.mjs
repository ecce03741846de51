// What the U-Boot benches give a guest, the same on QEMU and on Splitvisor: Debian's OpenSBI
// fw_jump and U-Boot (scripts/fetch-firmware.sh), a FAT disk holding one file and a TFTP
// directory holding another, both of pseudo-random bytes, in a temporary directory.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/lab';

/** `{ fwJump, uboot }`; throws saying why when scripts/fetch-firmware.sh cannot give them. */
export function fetchFirmware() {
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts/fetch-firmware.sh')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot fetch Debian's firmware (scripts/fetch-firmware.sh):\n${r.stderr ?? r.error?.message}`);
  const [fwJump, uboot] = r.stdout.trim().split('\n').slice(-2);
  return { fwJump, uboot };
}

/** `n` pseudo-random bytes (the same for the same seed). */
function bytes(n, seed) {
  const b = Buffer.alloc(n);
  for (let i = 0, x = seed; i < n; i++) b[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return b;
}

/**
 * A directory with `tftp/<tftpName>` of `tftpBytes` and `<diskName>` of `diskBytes`; `disk(name)`
 * makes a FAT image holding that file (one per machine: QEMU locks the image it opens).
 */
export function makeImages({ diskName, diskBytes, tftpName, tftpBytes, prefix = 'sv-bench-' }) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const tftpDir = join(dir, 'tftp');
  mkdirSync(tftpDir);
  writeFileSync(join(dir, diskName), bytes(diskBytes, 7));
  writeFileSync(join(tftpDir, tftpName), bytes(tftpBytes, 11));
  const disk = (name) => {
    const path = join(dir, name);
    const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
    const kib = Math.ceil(diskBytes / 1024) + 4096;
    execFileSync('mkfs.vfat', ['-C', '-n', 'SVBENCH', path, String(kib)], { stdio: 'pipe', env });
    execFileSync('mcopy', ['-i', path, join(dir, diskName), `::${diskName}`], { stdio: 'pipe' });
    return path;
  };
  return { dir, tftpDir, disk, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
