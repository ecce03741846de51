import { describe, expect, it } from 'vitest';
import type { MmioOffset } from '@splitvisor/platform';
import type { SystemEvent } from '../device.js';
import { SifiveTest } from './sifive-test.js';

const off = (n: number) => n as MmioOffset;

function finisher() {
  const events: SystemEvent[] = [];
  return { dev: new SifiveTest({ onEvent: (e) => events.push(e) }), events };
}

describe('SifiveTest finisher', () => {
  it('powers off with exit code 0 on PASS (0x5555)', () => {
    const { dev, events } = finisher();
    const r = dev.write(off(0), 4, 0x5555);
    expect(r).toEqual({ ok: true, value: 0, event: { kind: 'poweroff', exitCode: 0, value: 0x5555 } });
    expect(events).toEqual([{ kind: 'poweroff', exitCode: 0, value: 0x5555 }]);
  });

  it('powers off with the code from bits 31:16 on FAIL (0x3333)', () => {
    const { dev } = finisher();
    expect(dev.write(off(0), 4, (42 << 16) | 0x3333)).toMatchObject({ event: { kind: 'poweroff', exitCode: 42 } });
    expect(dev.write(off(0), 4, 0xffff3333)).toMatchObject({ event: { kind: 'poweroff', exitCode: 0xffff, value: 0xffff3333 } });
    // QEMU exit(code): FAIL with code 0 exits 0 too; the value says it was a FAIL.
    expect(dev.write(off(0), 4, 0x3333)).toMatchObject({ event: { kind: 'poweroff', exitCode: 0, value: 0x3333 } });
  });

  it('requests a reset on 0x7777', () => {
    const { dev, events } = finisher();
    expect(dev.write(off(0), 4, 0x7777)).toEqual({ ok: true, value: 0, event: { kind: 'reset', value: 0x7777 } });
    expect(events).toEqual([{ kind: 'reset', value: 0x7777 }]);
  });

  it('accepts a 2-byte write of a code, as QEMU (min access size 2)', () => {
    const { dev } = finisher();
    expect(dev.write(off(0), 2, 0x5555)).toMatchObject({ event: { kind: 'poweroff', exitCode: 0 } });
  });

  it('ignores other values and other offsets, as QEMU does (it only logs them)', () => {
    const { dev, events } = finisher();
    expect(dev.write(off(0), 4, 0x1234)).toEqual({ ok: true, value: 0 });
    expect(dev.write(off(4), 4, 0x5555)).toEqual({ ok: true, value: 0 });
    expect(dev.write(off(0), 4, 0x55550000)).toEqual({ ok: true, value: 0 });
    expect(events).toEqual([]);
    expect(dev.ignoredWrites).toBe(3);
  });

  it('reads 0 and refuses byte accesses (QEMU valid.min_access_size = 2)', () => {
    const { dev, events } = finisher();
    expect(dev.read(off(0), 4)).toEqual({ ok: true, value: 0 });
    expect(dev.read(off(0x10), 2)).toEqual({ ok: true, value: 0 });
    expect(dev.read(off(0), 1)).toEqual({ ok: false, reason: '1-byte read at offset 0x0 refused: sifive_test takes 2- or 4-byte accesses' });
    expect(dev.write(off(0), 1, 0x55)).toMatchObject({ ok: false, reason: /1-byte write of 0x55 at offset 0x0 refused/ });
    expect(events).toEqual([]);
  });
});
