import { describe, expect, it } from 'vitest';
import { PLIC_SOURCES, type MmioOffset } from '@splitvisor/platform';
import { IRQ_M_EXT, IRQ_S_EXT } from './irq.js';
import type { LocalAccessSize } from './local-device.js';
import { Plic, plicContext, plicContextHart, plicContextIrq, PLIC_MAX_CONTEXTS } from './plic.js';

const off = (n: number) => n as MmioOffset;
const PRIORITY = (src: number) => 4 * src;
const PENDING = (word: number) => 0x1000 + 4 * word;
const ENABLE = (ctx: number, word = 0) => 0x2000 + 0x80 * ctx + 4 * word;
const THRESHOLD = (ctx: number) => 0x200000 + 0x1000 * ctx;
const CLAIM = (ctx: number) => 0x200004 + 0x1000 * ctx;

const UART = 10;
const RTC = 11;
const VIRTIO0 = 1;

function plic(harts = 1) {
  const irqs: [number, boolean][] = [];
  const dev = new Plic({ harts, onIrq: (ctx, level) => irqs.push([ctx, level]) });
  const out = new Int32Array(2);
  return {
    dev,
    irqs,
    read(o: number): number {
      expect(dev.read(off(o), 4, out)).toEqual({ ok: true });
      return out[0]! >>> 0;
    },
    write(o: number, value: number) {
      expect(dev.write(off(o), 4, value, 0)).toEqual({ ok: true });
    },
  };
}

describe('Plic claim and complete', () => {
  it('raises MEIP for an enabled source above threshold; claim returns it; complete lowers', () => {
    const p = plic();
    p.write(PRIORITY(UART), 1);
    p.write(ENABLE(0), 1 << UART);
    expect(p.irqs).toEqual([]);
    p.dev.setLevel(UART, true);
    expect(p.irqs).toEqual([[0, true]]);
    expect(p.read(PENDING(0))).toBe(1 << UART);
    expect(p.read(CLAIM(0))).toBe(UART);
    // Claimed: no longer pending, nothing else to take, MEIP drops.
    expect(p.read(PENDING(0))).toBe(0);
    expect(p.irqs).toEqual([
      [0, true],
      [0, false],
    ]);
    expect(p.read(CLAIM(0))).toBe(0);
    // The device is serviced, the line drops, then the guest completes.
    p.dev.setLevel(UART, false);
    p.write(CLAIM(0), UART);
    expect(p.irqs).toHaveLength(2);
    expect(p.read(PENDING(0))).toBe(0);
  });

  it('a line still high at completion is pending again (level-triggered re-arm)', () => {
    const p = plic();
    p.write(PRIORITY(UART), 3);
    p.write(ENABLE(0), 1 << UART);
    p.dev.setLevel(UART, true);
    expect(p.read(CLAIM(0))).toBe(UART);
    expect(p.irqs.at(-1)).toEqual([0, false]);
    p.write(CLAIM(0), UART);
    expect(p.read(PENDING(0))).toBe(1 << UART);
    expect(p.irqs.at(-1)).toEqual([0, true]);
    expect(p.read(CLAIM(0))).toBe(UART);
  });

  it('a line that drops before the claim is no longer pending (as QEMU)', () => {
    const p = plic();
    p.write(PRIORITY(RTC), 1);
    p.write(ENABLE(0), 1 << RTC);
    p.dev.setLevel(RTC, true);
    p.dev.setLevel(RTC, false);
    expect(p.irqs).toEqual([
      [0, true],
      [0, false],
    ]);
    expect(p.read(CLAIM(0))).toBe(0);
  });

  it('claims by priority, highest first, lowest id on a tie', () => {
    const p = plic();
    p.write(PRIORITY(VIRTIO0), 2);
    p.write(PRIORITY(UART), 5);
    p.write(PRIORITY(RTC), 2);
    p.write(PRIORITY(40), 7);
    p.write(ENABLE(0, 0), (1 << VIRTIO0) | (1 << UART) | (1 << RTC));
    p.write(ENABLE(0, 1), 1 << (40 - 32));
    for (const s of [RTC, VIRTIO0, UART, 40]) p.dev.setLevel(s, true);
    expect(p.read(PENDING(0))).toBe((1 << VIRTIO0) | (1 << UART) | (1 << RTC));
    expect(p.read(PENDING(1))).toBe(1 << 8);
    expect(p.dev.peek(0)).toBe(40);
    expect([p.read(CLAIM(0)), p.read(CLAIM(0)), p.read(CLAIM(0)), p.read(CLAIM(0)), p.read(CLAIM(0))]).toEqual([40, UART, VIRTIO0, RTC, 0]);
  });

  it('threshold masks priorities at or below it', () => {
    const p = plic();
    p.write(PRIORITY(VIRTIO0), 3);
    p.write(PRIORITY(UART), 4);
    p.write(ENABLE(0), (1 << VIRTIO0) | (1 << UART));
    p.write(THRESHOLD(0), 4);
    p.dev.setLevel(VIRTIO0, true);
    p.dev.setLevel(UART, true);
    expect(p.irqs).toEqual([]);
    expect(p.read(CLAIM(0))).toBe(0);
    p.write(THRESHOLD(0), 3);
    expect(p.irqs).toEqual([[0, true]]);
    expect(p.read(CLAIM(0))).toBe(UART);
    expect(p.irqs.at(-1)).toEqual([0, false]); // VIRTIO0 at 3 is not above 3
    p.write(THRESHOLD(0), 0);
    expect(p.read(CLAIM(0))).toBe(VIRTIO0);
  });

  it('priority 0 never interrupts', () => {
    const p = plic();
    p.write(ENABLE(0), 1 << UART);
    p.dev.setLevel(UART, true);
    expect(p.irqs).toEqual([]);
    expect(p.read(CLAIM(0))).toBe(0);
    expect(p.read(PENDING(0))).toBe(1 << UART);
  });

  it('a claimed source is not offered again until completed, even to another context', () => {
    const p = plic(2);
    p.write(PRIORITY(UART), 1);
    p.write(ENABLE(plicContext(0, 'S')), 1 << UART);
    p.write(ENABLE(plicContext(1, 'S')), 1 << UART);
    p.dev.setLevel(UART, true);
    expect(p.irqs).toEqual([
      [1, true],
      [3, true],
    ]);
    expect(p.read(CLAIM(3))).toBe(UART);
    expect(p.irqs.slice(2)).toEqual([
      [1, false],
      [3, false],
    ]);
    expect(p.read(CLAIM(1))).toBe(0);
  });
});

describe('Plic contexts', () => {
  it('context 2*hart is M (MEIP), 2*hart+1 is S (SEIP)', () => {
    expect([0, 1, 2, 3].map((c) => [plicContextHart(c), plicContextIrq(c)])).toEqual([
      [0, IRQ_M_EXT],
      [0, IRQ_S_EXT],
      [1, IRQ_M_EXT],
      [1, IRQ_S_EXT],
    ]);
    expect(plicContext(1, 'M')).toBe(2);
    expect(plicContext(1, 'S')).toBe(3);
  });

  it('enables are per context: M and S of one hart see different sources', () => {
    const p = plic(1);
    p.write(PRIORITY(UART), 1);
    p.write(PRIORITY(RTC), 1);
    p.write(ENABLE(0), 1 << UART);
    p.write(ENABLE(1), 1 << RTC);
    expect(p.read(ENABLE(0))).toBe(1 << UART);
    expect(p.read(ENABLE(1))).toBe(1 << RTC);
    p.dev.setLevel(RTC, true);
    expect(p.irqs).toEqual([[1, true]]); // SEIP only
    p.dev.setLevel(UART, true);
    expect(p.irqs).toEqual([
      [1, true],
      [0, true],
    ]);
    expect(p.read(CLAIM(0))).toBe(UART);
    expect(p.read(CLAIM(1))).toBe(RTC);
  });

  it('thresholds are per context', () => {
    const p = plic(1);
    p.write(PRIORITY(UART), 2);
    p.write(ENABLE(0), 1 << UART);
    p.write(ENABLE(1), 1 << UART);
    p.write(THRESHOLD(0), 7);
    p.dev.setLevel(UART, true);
    expect(p.irqs).toEqual([[1, true]]);
    expect(p.read(THRESHOLD(0))).toBe(7);
    expect(p.read(THRESHOLD(1))).toBe(0);
  });

  it('enabling a source that is already pending raises the line at once', () => {
    const p = plic();
    p.write(PRIORITY(UART), 1);
    p.dev.setLevel(UART, true);
    expect(p.irqs).toEqual([]);
    p.write(ENABLE(0), 1 << UART);
    expect(p.irqs).toEqual([[0, true]]);
    p.write(ENABLE(0), 0);
    expect(p.irqs.at(-1)).toEqual([0, false]);
  });

  it('registers of contexts beyond the harts read 0 and ignore writes', () => {
    const p = plic(1);
    p.write(ENABLE(2), 0xffff_ffff);
    expect(p.read(ENABLE(2))).toBe(0);
    p.write(THRESHOLD(2), 5);
    expect(p.read(THRESHOLD(2))).toBe(0);
    expect(p.read(CLAIM(2))).toBe(0);
    expect(PLIC_MAX_CONTEXTS).toBe(1024);
  });
});

describe('Plic registers', () => {
  it('priority and threshold keep 3 bits (WARL, value % 8 as QEMU)', () => {
    const p = plic();
    p.write(PRIORITY(UART), 0xffff_ffff);
    expect(p.read(PRIORITY(UART))).toBe(7);
    p.write(PRIORITY(UART), 9);
    expect(p.read(PRIORITY(UART))).toBe(1);
    p.write(THRESHOLD(0), 0x1e);
    expect(p.read(THRESHOLD(0))).toBe(6);
  });

  it('pending is read-only; words and offsets outside the registers read 0', () => {
    const p = plic();
    p.write(PENDING(0), 0xffff_ffff);
    expect(p.read(PENDING(0))).toBe(0);
    expect(p.read(PENDING(3))).toBe(0);
    expect(p.read(PRIORITY(PLIC_SOURCES))).toBe(0); // 0x180: past the last source
    expect(p.read(ENABLE(0, 3))).toBe(0); // 96 sources = 3 words
    p.write(ENABLE(0, 3), 0xffff_ffff);
    expect(p.read(0x200008)).toBe(0);
    expect(p.read(0x5ffffc)).toBe(0);
    expect(p.irqs).toEqual([]);
  });

  it('completing an id that is not a source is ignored', () => {
    const p = plic();
    p.write(CLAIM(0), 96);
    p.write(CLAIM(0), 0);
    expect(p.irqs).toEqual([]);
  });

  it('takes aligned 4-byte accesses only', () => {
    const { dev } = plic();
    const out = new Int32Array(2);
    for (const size of [1, 2, 8] as LocalAccessSize[]) {
      expect(dev.read(off(CLAIM(0)), size, out)).toMatchObject({ ok: false, reason: /the PLIC takes aligned 4-byte accesses/ });
      expect(dev.write(off(PRIORITY(1)), size, 1, 0)).toMatchObject({ ok: false });
    }
    expect(dev.read(off(PRIORITY(1) + 2), 4, out)).toMatchObject({ ok: false });
    expect(dev.read(off(PRIORITY(1)), 8, out)).toEqual({
      ok: false,
      reason: 'plic: 8-byte read at offset 0x4 refused: the PLIC takes aligned 4-byte accesses',
    });
  });

  it('source numbers outside 1..95 are not lines', () => {
    const p = plic();
    expect(p.dev.setLevel(0, true)).toBe(false);
    expect(p.dev.setLevel(96, true)).toBe(false);
    expect(p.dev.setLevel(95, true)).toBe(true);
    expect(p.read(PENDING(2))).toBe(0x8000_0000);
  });

  it('source 95, the last bit of the last word, can be claimed', () => {
    const p = plic();
    p.write(PRIORITY(95), 1);
    p.write(ENABLE(0, 2), 0x8000_0000);
    p.dev.setLevel(95, true);
    expect(p.read(CLAIM(0))).toBe(95);
  });
});

describe('Plic reset', () => {
  it('clears registers, announces every output low, keeps line levels as pending', () => {
    const p = plic(2);
    p.write(PRIORITY(UART), 1);
    p.write(ENABLE(0), 1 << UART);
    p.dev.setLevel(UART, true);
    p.dev.reset();
    expect(p.irqs).toEqual([
      [0, true],
      [0, false],
      [1, false],
      [2, false],
      [3, false],
    ]);
    expect(p.read(PRIORITY(UART))).toBe(0);
    expect(p.read(ENABLE(0))).toBe(0);
    expect(p.read(PENDING(0))).toBe(1 << UART);
  });
});
