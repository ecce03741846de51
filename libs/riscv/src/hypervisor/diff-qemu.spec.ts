// The H extension against QEMU 7.2 (`-cpu rv64,h=true`, the reference of DESIGN.md): an
// M-mode program (testdata/diff/h.S) that reads back the hypervisor CSRs and runs a VS
// guest under two-stage translation, printing every trap; both machines must print the
// same text. Needs Debian's gcc-riscv64-unknown-elf and qemu-system-misc (see
// diff-qemu.spec.ts for SPLITVISOR_ALLOW_NO_QEMU).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireOrSkip } from '@splitvisor/testing';
import { assemble, expectSame, runOurs, runQemu, TOOLS } from '../diff.test-util.js';

describe('H extension: differential check against qemu-system-riscv64 -cpu rv64,h=true', () => {
  const work = mkdtempSync(join(tmpdir(), 'splitvisor-diff-h-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('has its tools', ({ skip }) => requireOrSkip(skip, TOOLS, 'SPLITVISOR_ALLOW_NO_QEMU', 'These checks compare the hart with QEMU'));

  it('h.S: CSR write-backs, a VS guest under Sv39x4, its traps and views print the same', () => {
    const elf = assemble(work, 'h', undefined, { h: true });
    const ours = runOurs(elf, { h: true });
    const qemu = runQemu(elf, { h: true });
    expectSame(ours, qemu);
    expectSame(runOurs(elf, { h: true, engine: 'translate' }), qemu, (l) => `translate: line ${l + 1}`);
    // What the program is there to reach, so an early trap cannot pass as agreement:
    // the causes of its traps into M (virtual instruction, illegal, load/store guest-page
    // faults, the VS-stage page fault, ECALL from VS) and the guest's own results.
    const lines = ours.split('\n');
    const causes = lines.filter((_l, i) => i >= 12 && i < 12 + 4 * 8 && (i - 12) % 4 === 0).map((l) => parseInt(l, 16));
    expect(causes).toEqual([22, 2, 22, 21, 23, 21, 13, 10]);
    expect(lines).toContain('0000000000001234'); // vsscratch read as sscratch in VS
    expect(lines).toContain('8000000000000001'); // the VS software interrupt, as VS sees it
    expect(lines).toContain('0123456789abcdef'); // a load through both stages
  });

  it('hs.S: an HS hypervisor enters VS by SRET; delegated guest traps, HLV and HSV print the same', () => {
    const elf = assemble(work, 'hs', undefined, { h: true });
    const ours = runOurs(elf, { h: true });
    const qemu = runQemu(elf, { h: true });
    expectSame(ours, qemu);
    expectSame(runOurs(elf, { h: true, engine: 'translate' }), qemu, (l) => `translate: line ${l + 1}`);
    const lines = ours.split('\n');
    // Five lines per trap into HS: virtual instruction, load guest-page fault, ECALL
    // from VS, then HLV's own guest-page fault (V = 0: SPV clear, GVA set).
    expect([0, 5, 10].map((i) => parseInt(lines[i]!, 16))).toEqual([22, 21, 10]);
    expect(lines.slice(5, 10)).toEqual(['0000000000000015', '0000000040000008', '0000000010000002', '00000000000001c0', '0000000000000001']);
    expect(lines.slice(15, 17)).toEqual(['0123456789abcdef', '0000000000005a5a']);
    expect(lines.slice(17, 21)).toEqual(['0000000000000015', '0000000040000008', '0000000010000002', '0000000000000140']);
  });
});
