import { describe, expect, it } from 'vitest';
import { MACHINE_REGIONS, regionAt, UART0, virtioMmioSlot, DRAM_BASE, SIFIVE_TEST } from './index.js';

describe('virt machine table', () => {
  it('has no overlapping regions, in base order', () => {
    for (let i = 1; i < MACHINE_REGIONS.length; i++) {
      const prev = MACHINE_REGIONS[i - 1]!;
      const cur = MACHINE_REGIONS[i]!;
      expect(prev.base + prev.size, `${prev.name} overlaps ${cur.name}`).toBeLessThanOrEqual(cur.base);
    }
    const last = MACHINE_REGIONS[MACHINE_REGIONS.length - 1]!;
    expect(last.base + last.size).toBeLessThanOrEqual(DRAM_BASE);
  });

  it('matches QEMU virt addresses and IRQs', () => {
    expect(UART0.base).toBe(0x10000000);
    expect(UART0.irq).toBe(10);
    expect(virtioMmioSlot(7).base).toBe(0x10008000);
    expect(virtioMmioSlot(7).irq).toBe(8);
    expect(() => virtioMmioSlot(8)).toThrow(/slot 8 out of range/);
  });

  it('routes an address to its region', () => {
    expect(regionAt(0x10000005)?.name).toBe('serial');
    expect(regionAt(0x100000)).toBe(SIFIVE_TEST);
    expect(regionAt(0x20000000)).toBeUndefined();
    expect(regionAt(0x80000000)).toBeUndefined();
  });
});

import { percentile, summarize } from './index.js';

describe('latency summary', () => {
  it('takes nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(summarize(xs)).toEqual({ samples: 100, p50Us: 50, p99Us: 99, meanUs: 50.5 });
    expect(percentile([], 50)).toBe(0);
    expect(summarize([7])).toEqual({ samples: 1, p50Us: 7, p99Us: 7, meanUs: 7 });
  });
});
