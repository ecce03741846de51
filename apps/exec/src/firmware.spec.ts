// Real firmware on the hart, through `splitvisor exec`: Debian's OpenSBI (fw_jump, M-mode)
// hands over to Debian's U-Boot (qemu-riscv64_smode, S-mode), with the device tree QEMU
// virt would give them. It needs the packages scripts/fetch-firmware.sh fetches and QEMU
// (to dump the device tree): without them it fails, naming what is missing, unless
// SPLITVISOR_ALLOW_NO_FIRMWARE=1 / SPLITVISOR_ALLOW_NO_QEMU=1 (then skipped, the reason printed).

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { file, qemuSystem, requireOrSkip } from '@splitvisor/testing';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const FW_JUMP = join(REPO, '.cache/firmware/opensbi/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf');
const UBOOT = join(REPO, '.cache/firmware/u-boot-qemu/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin');

describe('Debian firmware', () => {
  it('OpenSBI fw_jump boots U-Boot in S-mode, on both engines', ({ skip }) => {
    const fetched = 'bash scripts/fetch-firmware.sh';
    requireOrSkip(skip, [file(FW_JUMP, fetched), file(UBOOT, fetched)], 'SPLITVISOR_ALLOW_NO_FIRMWARE', "This test boots Debian's OpenSBI and U-Boot");
    requireOrSkip(skip, [qemuSystem()], 'SPLITVISOR_ALLOW_NO_QEMU', 'This test boots firmware on the device tree QEMU dumps');
    const dtb = join(mkdtempSync(join(tmpdir(), 'sv-fw-')), 'virt.dtb');
    spawnSync('qemu-system-riscv64', ['-M', `virt,dumpdtb=${dtb}`, '-m', '128M', '-smp', '1', '-bios', 'none', '-nographic']);
    const boot = (engine: string) =>
      spawnSync(
        process.execPath,
        [
          join(REPO, 'apps/exec/bin/exec.js'),
          FW_JUMP,
          '--load',
          `${UBOOT}@0x80200000`,
          '--dtb',
          dtb,
          '--clock',
          'icount',
          '--max-insns',
          '80000000',
          '--engine',
          engine,
        ],
        { encoding: 'latin1', timeout: 120_000 },
      );
    const r = boot('interp');
    // OpenSBI found what it probes by trapping: PMP, Sstc, the 1.12 CSRs, S and U.
    expect(r.stdout).toContain('Boot HART Priv Version    : v1.12');
    expect(r.stdout).toContain('Boot HART ISA Extensions  : time,sstc');
    expect(r.stdout).toContain('Boot HART PMP Count       : 16');
    expect(r.stdout).toContain('Boot HART PMP Address Bits: 54');
    expect(r.stdout).toContain('Domain0 Next Mode         : S-mode');
    // U-Boot ran in S-mode: relocated, read the device tree, and counts down on the timer.
    expect(r.stdout).toContain('U-Boot 2023.01');
    expect(r.stdout).toContain('DRAM:  128 MiB');
    expect(r.stdout).toContain('Hit any key to stop autoboot');
    expect(r.status).toBe(124); // --max-insns: U-Boot would wait for a boot device forever
    // The translator: under icount, time is a function of instructions, so the same
    // instructions at the same budgets print the same text, byte for byte.
    const t = boot('translate');
    expect(t.status).toBe(124);
    expect(t.stdout).toBe(r.stdout);
  }, 250_000);
});
