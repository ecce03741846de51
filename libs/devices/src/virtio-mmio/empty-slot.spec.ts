import { describe, expect, it } from 'vitest';
import type { MmioOffset } from '@splitvisor/platform';
import { VirtioMmioEmptySlot } from '../index.js';

const off = (n: number) => n as MmioOffset;

describe('empty virtio-mmio slot', () => {
  it('identifies a version 2 transport with DeviceID 0 (no device), as QEMU virt', () => {
    const s = new VirtioMmioEmptySlot('virtio_mmio@10008000');
    expect(s.read(off(0), 4)).toEqual({ ok: true, value: 0x74726976 });
    expect(s.read(off(4), 4)).toEqual({ ok: true, value: 2 });
    expect(s.read(off(8), 4)).toEqual({ ok: true, value: 0 });
    expect(s.read(off(0xc), 4)).toEqual({ ok: true, value: 0x554d4551 });
    expect(s.read(off(0x70), 4)).toEqual({ ok: true, value: 0 });
    expect(s.write(off(0x70), 4, 0xff)).toEqual({ ok: true, value: 0 });
  });

  it('refuses accesses that are not 32-bit, naming the access', () => {
    const s = new VirtioMmioEmptySlot('slot7');
    expect(s.read(off(0), 1)).toEqual({ ok: false, reason: 'slot7: 1-byte read at offset 0x0: virtio-mmio registers are 32-bit' });
    expect(s.write(off(2), 4, 1)).toMatchObject({ ok: false });
  });
});
