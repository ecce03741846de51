import { describe, expect, it } from 'vitest';
import { CLINT_MSIP, CLINT_MTIME, CLINT_MTIMECMP, type MmioOffset } from '@splitvisor/platform';
import { Clint } from './clint.js';
import { IRQ_M_SOFT, IRQ_M_TIMER } from './irq.js';
import type { LocalAccessSize } from './local-device.js';

const off = (n: number) => n as MmioOffset;
const MTIMECMP = (hart: number) => CLINT_MTIMECMP + 8 * hart;

function clint(harts = 2) {
  let now = 0;
  const irqs: [number, number, boolean][] = [];
  const dev = new Clint({ harts, clock: () => now, onIrq: (h, bit, level) => irqs.push([h, bit, level]) });
  const out = new Int32Array(2);
  return {
    dev,
    irqs,
    set time(t: number) {
      now = t;
    },
    read(o: number, size: LocalAccessSize = 4): [number, number] {
      const r = dev.read(off(o), size, out);
      expect(r).toEqual({ ok: true });
      return [out[0]! >>> 0, out[1]! >>> 0];
    },
    write(o: number, lo: number, hi = 0, size: LocalAccessSize = 4) {
      expect(dev.write(off(o), size, lo, hi)).toEqual({ ok: true });
    },
  };
}

describe('Clint mtime', () => {
  it('reads the source ticks as mtime, 4 bytes per half or 8 at once', () => {
    const c = clint();
    c.time = 0x1_2345_6789;
    expect(c.read(CLINT_MTIME, 8)).toEqual([0x2345_6789, 0x1]);
    expect(c.read(CLINT_MTIME)).toEqual([0x2345_6789, 0]);
    expect(c.read(CLINT_MTIME + 4)).toEqual([0x1, 0]);
    expect(c.dev.mtime()).toBe(0x1_2345_6789);
    const t = new Int32Array(2);
    c.dev.readTime(t);
    expect([t[0]! >>> 0, t[1]! >>> 0]).toEqual([0x2345_6789, 1]);
  });

  it('a write sets an offset: mtime keeps counting from the value written', () => {
    const c = clint();
    c.time = 1000;
    c.write(CLINT_MTIME, 0x10, 0x2, 8);
    expect(c.read(CLINT_MTIME, 8)).toEqual([0x10, 0x2]);
    c.time = 1500;
    expect(c.read(CLINT_MTIME, 8)).toEqual([0x10 + 500, 0x2]);
    // One half at a time keeps the other half (QEMU time_lo / time_hi).
    c.write(CLINT_MTIME + 4, 0x7);
    expect(c.read(CLINT_MTIME, 8)).toEqual([0x10 + 500, 0x7]);
    c.write(CLINT_MTIME, 0xffff_fff0);
    expect(c.read(CLINT_MTIME, 8)).toEqual([0xffff_fff0, 0x7]);
    // The low half carries into the high half as time goes on.
    c.time = 1500 + 0x20;
    expect(c.read(CLINT_MTIME, 8)).toEqual([0x10, 0x8]);
  });

  it('wraps modulo 2^64 like the 64-bit register it is', () => {
    const c = clint();
    c.time = 5;
    c.write(CLINT_MTIME, 0xffff_fffe, 0xffff_ffff, 8);
    c.time = 9;
    expect(c.read(CLINT_MTIME, 8)).toEqual([2, 0]);
  });
});

describe('Clint timer interrupt', () => {
  it('raises MTIP when mtime passes mtimecmp and lowers it when mtimecmp is moved ahead', () => {
    const c = clint();
    c.write(MTIMECMP(0), 10_000, 0, 8);
    c.write(MTIMECMP(1), 0xffff_ffff, 0xffff_ffff, 8);
    // mtimecmp 0 <= mtime 0 raised nothing: the lines start low and hart 0's was never due
    // after the write; hart 1's is disarmed.
    expect(c.irqs).toEqual([]);
    c.time = 9_999;
    c.dev.tick();
    expect(c.irqs).toEqual([]);
    c.time = 10_000;
    c.dev.tick();
    expect(c.irqs).toEqual([[0, IRQ_M_TIMER, true]]);
    c.time = 12_000;
    c.dev.tick();
    expect(c.irqs).toHaveLength(1); // a level: no repeat while it stays up
    // Re-arm: the guest's handler moves mtimecmp ahead, MTIP drops at once.
    c.write(MTIMECMP(0), 22_000, 0, 8);
    expect(c.irqs).toEqual([
      [0, IRQ_M_TIMER, true],
      [0, IRQ_M_TIMER, false],
    ]);
    c.time = 22_000;
    c.dev.tick();
    expect(c.irqs.at(-1)).toEqual([0, IRQ_M_TIMER, true]);
  });

  it('raises at once when mtimecmp is written in the past', () => {
    const c = clint();
    c.time = 50;
    c.write(MTIMECMP(1), 50);
    expect(c.irqs).toEqual([[1, IRQ_M_TIMER, true]]);
  });

  it('re-evaluates every hart when mtime is written', () => {
    const c = clint();
    c.write(MTIMECMP(0), 100, 0, 8);
    c.write(MTIMECMP(1), 0, 1, 8);
    c.write(CLINT_MTIME, 0, 1, 8); // mtime = 2^32: both due
    expect(c.irqs).toEqual([
      [0, IRQ_M_TIMER, true],
      [1, IRQ_M_TIMER, true],
    ]);
    c.write(CLINT_MTIME, 0, 0, 8); // back to 0: neither
    expect(c.irqs.slice(2)).toEqual([
      [0, IRQ_M_TIMER, false],
      [1, IRQ_M_TIMER, false],
    ]);
  });

  it('compares all 64 bits, unsigned', () => {
    const c = clint(1);
    c.write(MTIMECMP(0), 0, 1, 8); // 2^32
    c.time = 0xffff_ffff;
    c.dev.tick();
    expect(c.irqs).toEqual([]);
    c.time = 0x1_0000_0000;
    c.dev.tick();
    expect(c.irqs).toEqual([[0, IRQ_M_TIMER, true]]);
    c.write(MTIMECMP(0), 0, 0x8000_0000, 8); // a "negative" deadline is far in the future
    expect(c.irqs.at(-1)).toEqual([0, IRQ_M_TIMER, false]);
  });

  it('takes mtimecmp as two 4-byte halves or one 8-byte access', () => {
    const c = clint();
    c.write(MTIMECMP(1), 0xdead_beef, 0x0123_4567, 8);
    expect(c.read(MTIMECMP(1), 8)).toEqual([0xdead_beef, 0x0123_4567]);
    expect(c.read(MTIMECMP(1))).toEqual([0xdead_beef, 0]);
    expect(c.read(MTIMECMP(1) + 4)).toEqual([0x0123_4567, 0]);
    // RV32-style update: the low half alone, then the high half alone, each kept apart.
    c.write(MTIMECMP(1), 0x1111_1111);
    expect(c.read(MTIMECMP(1), 8)).toEqual([0x1111_1111, 0x0123_4567]);
    c.write(MTIMECMP(1) + 4, 0x2222_2222);
    expect(c.read(MTIMECMP(1), 8)).toEqual([0x1111_1111, 0x2222_2222]);
    // Signed words from the hart's registers are the same bits.
    c.write(MTIMECMP(1), -1, -1, 8);
    expect(c.read(MTIMECMP(1), 8)).toEqual([0xffff_ffff, 0xffff_ffff]);
    expect(c.read(MTIMECMP(0), 8)).toEqual([0, 0]);
  });

  it('each half write re-evaluates MTIP, as QEMU', () => {
    const c = clint(1);
    c.time = 0x20;
    c.write(MTIMECMP(0), 0x10, 0x1, 8);
    expect(c.irqs).toEqual([]);
    c.write(MTIMECMP(0) + 4, 0); // now 0x10 <= 0x20
    expect(c.irqs).toEqual([[0, IRQ_M_TIMER, true]]);
  });

  it('nextDeadline: ticks until the earliest timer not yet fired, per hart or overall', () => {
    const c = clint(3);
    c.time = 1_000;
    c.write(MTIMECMP(0), 1_500);
    c.write(MTIMECMP(1), 900); // already firing: not counted
    c.write(MTIMECMP(2), 4_000);
    expect(c.dev.nextDeadline()).toBe(500);
    expect(c.dev.nextDeadline(2)).toBe(3_000);
    expect(c.dev.nextDeadline(1)).toBe(Infinity);
    expect(c.dev.nextDeadline(7)).toBe(Infinity);
    c.time = 1_200;
    expect(c.dev.nextDeadline()).toBe(300);
    c.write(MTIMECMP(0), 0, 2, 8);
    expect(c.dev.nextDeadline(0)).toBe(2 * 2 ** 32 - 1_200);
  });
});

describe('Clint msip', () => {
  it('bit 0 drives MSIP of its hart; reads back; other bits ignored', () => {
    const c = clint(2);
    c.write(CLINT_MSIP + 4, 0xffff_fffe);
    expect(c.irqs).toEqual([]);
    c.write(CLINT_MSIP + 4, 1);
    expect(c.irqs).toEqual([[1, IRQ_M_SOFT, true]]);
    expect(c.read(CLINT_MSIP + 4)).toEqual([1, 0]);
    expect(c.read(CLINT_MSIP)).toEqual([0, 0]);
    c.write(CLINT_MSIP + 4, 3); // still set: no new event
    c.write(CLINT_MSIP + 4, 0);
    expect(c.irqs).toEqual([
      [1, IRQ_M_SOFT, true],
      [1, IRQ_M_SOFT, false],
    ]);
  });

  it('msip takes aligned 4-byte accesses only (QEMU valid 4..4)', () => {
    const { dev } = clint();
    const out = new Int32Array(2);
    expect(dev.read(off(0), 8, out)).toMatchObject({ ok: false, reason: 'clint: 8-byte read at offset 0x0 refused: msip takes aligned 4-byte accesses' });
    expect(dev.write(off(0), 1, 1, 0)).toMatchObject({ ok: false });
    expect(dev.write(off(2), 4, 1, 0)).toMatchObject({ ok: false });
  });
});

describe('Clint decoding', () => {
  it('registers of harts that do not exist read 0 and ignore writes, as QEMU', () => {
    const c = clint(2);
    c.write(CLINT_MSIP + 4 * 2, 1);
    expect(c.read(CLINT_MSIP + 4 * 2)).toEqual([0, 0]);
    c.write(MTIMECMP(2), 5, 5, 8);
    expect(c.read(MTIMECMP(2), 8)).toEqual([0, 0]);
    expect(c.read(0x3ffc)).toEqual([0, 0]);
    expect(c.read(0xbff0, 8)).toEqual([0, 0]);
    expect(c.irqs).toEqual([]);
  });

  it('the mtimer refuses 1- and 2-byte and misaligned accesses', () => {
    const { dev } = clint();
    const out = new Int32Array(2);
    expect(dev.read(off(CLINT_MTIME), 2, out)).toMatchObject({ ok: false, reason: /aligned 4- or 8-byte/ });
    expect(dev.read(off(CLINT_MTIME + 4), 8, out)).toMatchObject({ ok: false });
    expect(dev.write(off(MTIMECMP(0) + 4), 8, 1, 1)).toMatchObject({ ok: false });
    expect(dev.write(off(MTIMECMP(0) + 1), 1, 1, 0)).toMatchObject({ ok: false });
  });

  it('faults past the mtimer (0xc000..0xffff), where QEMU maps nothing', () => {
    const { dev } = clint();
    const out = new Int32Array(2);
    expect(dev.read(off(0xc000), 4, out)).toMatchObject({ ok: false, reason: /no device there/ });
    expect(dev.write(off(0xfff8), 8, 0, 0)).toMatchObject({ ok: false });
  });

  it('a successful access allocates nothing: one frozen result', () => {
    const { dev } = clint();
    const out = new Int32Array(2);
    const a = dev.read(off(CLINT_MTIME), 8, out);
    const b = dev.write(off(MTIMECMP(0)), 8, 1, 0);
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
  });
});

describe('Clint reset', () => {
  it('announces every line: MSIP low, MTIP up since mtimecmp is 0 at power-on (as QEMU)', () => {
    const c = clint(2);
    c.time = 777;
    c.write(CLINT_MSIP, 1);
    c.dev.reset();
    expect(c.irqs.slice(1)).toEqual([
      [0, IRQ_M_SOFT, false],
      [0, IRQ_M_TIMER, true],
      [1, IRQ_M_SOFT, false],
      [1, IRQ_M_TIMER, true],
    ]);
    expect(c.read(CLINT_MTIME, 8)).toEqual([0, 0]);
    expect(c.read(CLINT_MSIP)).toEqual([0, 0]);
    c.time = 800;
    expect(c.read(CLINT_MTIME, 8)).toEqual([23, 0]);
    // Firmware disarms the timer (OpenSBI writes all ones): MTIP drops.
    c.write(MTIMECMP(0), -1, -1, 8);
    expect(c.irqs.at(-1)).toEqual([0, IRQ_M_TIMER, false]);
  });

  it('rejects a hart count it cannot address', () => {
    expect(() => new Clint({ harts: 0, clock: () => 0, onIrq: () => undefined })).toThrow(RangeError);
    expect(() => new Clint({ harts: 4096, clock: () => 0, onIrq: () => undefined })).toThrow(RangeError);
  });
});
