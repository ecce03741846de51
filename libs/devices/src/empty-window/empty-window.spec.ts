import { describe, expect, it } from 'vitest';
import { gpa, PCIE_ECAM } from '@splitvisor/platform';
import { MmioBus } from '../mmio-bus.js';
import { EmptyWindow } from './empty-window.js';

describe('EmptyWindow', () => {
  it('reads its fill at every size and takes writes', () => {
    const bus = new MmioBus();
    bus.add(PCIE_ECAM.base, PCIE_ECAM.size, new EmptyWindow('pcie-ecam', 'ones'));
    bus.add(gpa(0x20000000), 0x1000, new EmptyWindow('flash', 'zeros'));
    expect(bus.read(gpa(PCIE_ECAM.base + 8), 1)).toMatchObject({ ok: true, lo: 0xff, hi: 0 });
    expect(bus.read(gpa(PCIE_ECAM.base + 8), 2)).toMatchObject({ ok: true, lo: 0xffff, hi: 0 });
    expect(bus.read(gpa(PCIE_ECAM.base), 4)).toMatchObject({ ok: true, lo: 0xffffffff, hi: 0 });
    expect(bus.read(gpa(PCIE_ECAM.base), 8)).toMatchObject({ ok: true, lo: 0xffffffff, hi: 0xffffffff });
    expect(bus.read(gpa(0x20000010), 8)).toMatchObject({ ok: true, lo: 0, hi: 0 });
    expect(bus.write(gpa(PCIE_ECAM.base), 4, 0x1234)).toMatchObject({ ok: true });
    expect(bus.read(gpa(PCIE_ECAM.base), 4)).toMatchObject({ ok: true, lo: 0xffffffff });
  });
});
