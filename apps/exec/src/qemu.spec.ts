// Differential checks against QEMU 7.2 (DESIGN.md: the reference), on its `spike` machine,
// which speaks HTIF as `splitvisor exec` does: the same test program must print the same
// text and end with the same status on both. Without QEMU they fail, naming it, unless
// SPLITVISOR_ALLOW_NO_QEMU=1 (then skipped, the reason printed).

import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { qemuSystem, requireOrSkip, tool, type SkipFn } from '@splitvisor/testing';

const LIB = fileURLToPath(new URL('../', import.meta.url));
const needQemu = (skip: SkipFn) => requireOrSkip(skip, [qemuSystem()], 'SPLITVISOR_ALLOW_NO_QEMU', 'This test runs the same program on QEMU -M spike');

function both(elf: string) {
  // QEMU's console drops bytes when a pipe is not drained fast enough: give it a file.
  const file = join(mkdtempSync(join(tmpdir(), 'sv-qemu-')), 'out.txt');
  const fd = openSync(file, 'w');
  const q = spawnSync('qemu-system-riscv64', ['-M', 'spike', '-bios', 'none', '-nographic', '-kernel', elf], {
    stdio: ['ignore', fd, 'pipe'],
    timeout: 30_000,
  });
  closeSync(fd);
  const s = spawnSync(process.execPath, [`${LIB}bin/exec.js`, elf, '--clock', 'icount'], { encoding: 'latin1', timeout: 30_000 });
  return { qemu: { out: readFileSync(file, 'latin1'), code: q.status }, ours: { out: s.stdout, code: s.status } };
}

/** CSRs whose presence differs from QEMU 7.2 on purpose (README.md): the spike machine
 *  gives no clock (time, stimecmp: ours has one), QEMU has H and debug triggers, and 16
 *  writable HPM counters where ours has all 29, read-only zero. */
const KNOWN = new Set(['14d', 'c01', '600', '7a0', '7a1', 'b13', 'b1f', 'c13', 'c1f']);

describe('against QEMU -M spike', () => {
  it('priv-paging (M -> S under Sv39 -> U, delegated faults, A/D) passes on both', ({ skip }) => {
    needQemu(skip);
    const { qemu, ours } = both(`${LIB}testdata/priv-paging.elf`);
    expect(qemu).toEqual({ out: 'priv-paging: ok\n', code: 0 });
    expect(ours).toEqual(qemu);
  });

  it.for(['htif-sv39', 'htif-sv48', 'htif-user'])('%s (HTIF through a virtual address from S or U) passes on both', (name, { skip }) => {
    needQemu(skip);
    const { qemu, ours } = both(`${LIB}testdata/${name}.elf`);
    expect(qemu).toEqual({ out: `${name}: ok\n`, code: 0 });
    expect(ours).toEqual(qemu);
  });

  it('csr-probe: every CSR firmware probes exists, or traps, exactly as on QEMU', ({ skip }) => {
    needQemu(skip);
    const { qemu, ours } = both(`${LIB}testdata/csr-probe.elf`);
    const parse = (out: string) =>
      new Map(
        out
          .trim()
          .split('\n')
          .map((l) => l.split(' ') as [string, string]),
      );
    const q = parse(qemu.out);
    const o = parse(ours.out);
    expect([...o.keys()]).toEqual([...q.keys()]);
    expect(q.size).toBeGreaterThan(60);
    for (const [csr, access] of q) if (!KNOWN.has(csr)) expect(`${csr} ${o.get(csr)}`).toBe(`${csr} ${access}`);
    expect(ours.code).toBe(0);
  });

  it('h.S (the H extension: HS state, a VS guest under Sv39x4, its traps) prints the same with --h as on QEMU virt -cpu rv64,h=true', ({ skip }) => {
    needQemu(skip);
    requireOrSkip(skip, [tool('riscv64-unknown-elf-gcc', 'gcc-riscv64-unknown-elf')], 'SPLITVISOR_ALLOW_NO_QEMU', 'This test assembles an H program');
    const dir = mkdtempSync(join(tmpdir(), 'sv-h-'));
    const src = fileURLToPath(new URL('../../../libs/riscv/testdata/diff/', import.meta.url));
    const elf = join(dir, 'h.elf');
    const cc = spawnSync(
      'riscv64-unknown-elf-gcc',
      [
        '-march=rv64gc_hh',
        '-mabi=lp64d',
        '-mcmodel=medany',
        '-nostdlib',
        '-nostartfiles',
        `-I${src}`,
        '-Wl,--no-warn-rwx-segments',
        `-Wl,-T,${join(src, 'link.ld')}`,
        '-o',
        elf,
        join(src, 'h.S'),
      ],
      { encoding: 'utf8' },
    );
    expect(cc.stderr).toBe('');
    const file = join(dir, 'qemu.txt');
    const fd = openSync(file, 'w');
    spawnSync('qemu-system-riscv64', ['-M', 'virt', '-cpu', 'rv64,h=true', '-bios', 'none', '-nographic', '-kernel', elf], {
      stdio: ['ignore', fd, 'pipe'],
      timeout: 30_000,
    });
    closeSync(fd);
    const qemu = readFileSync(file, 'latin1');
    const ours = spawnSync(process.execPath, [`${LIB}bin/exec.js`, elf, '--h', '--clock', 'icount'], { encoding: 'latin1', timeout: 30_000 });
    expect(qemu.split('\n').length).toBeGreaterThan(40);
    expect({ out: ours.stdout, code: ours.status }).toEqual({ out: qemu, code: 0 });
    // Without --h the same program finds no H: misa.H reads zero, then the first
    // hypervisor CSR is an illegal instruction.
    const plain = spawnSync(process.execPath, [`${LIB}bin/exec.js`, elf, '--clock', 'icount'], { encoding: 'latin1', timeout: 30_000 });
    expect(plain.stdout.split('\n')[0]).toBe('0000000000000000');
  });
});
