import { describe, expect, it } from 'vitest';
import { MACHINE_REGIONS, PCIE_ECAM, pcieHighMmio, regionAt, UART0, UNMODELLED_WINDOWS, virtioMmioSlot, DRAM_BASE, SIFIVE_TEST } from './index.js';

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

describe('the windows no model implements', () => {
  const all = [...MACHINE_REGIONS, ...UNMODELLED_WINDOWS].sort((a, b) => a.base - b.base);

  it('are in base order, overlap nothing of the machine and lie below DRAM', () => {
    expect([...UNMODELLED_WINDOWS].sort((a, b) => a.base - b.base)).toEqual(UNMODELLED_WINDOWS);
    for (let i = 1; i < all.length; i++) {
      expect(all[i - 1]!.base + all[i - 1]!.size, `${all[i - 1]!.name} overlaps ${all[i]!.name}`).toBeLessThanOrEqual(all[i]!.base);
    }
    expect(all[all.length - 1]!.base + all[all.length - 1]!.size).toBeLessThanOrEqual(DRAM_BASE);
  });

  it("are QEMU 7.2's virt_memmap entries", () => {
    const map = Object.fromEntries(UNMODELLED_WINDOWS.map((w) => [w.name, [w.base, w.size, w.answer]]));
    expect(map).toEqual({
      debug: [0x0, 0x100, 'fault'],
      'pcie-pio': [0x3000000, 0x10000, 'zeros'],
      'platform-bus': [0x4000000, 0x2000000, 'fault'],
      'fw-cfg': [0x10100000, 0x18, 'fault'],
      flash: [0x20000000, 0x4000000, 'zeros'],
      'pcie-ecam': [0x30000000, 0x10000000, 'ones'],
      'pcie-mmio': [0x40000000, 0x40000000, 'zeros'],
    });
    expect(PCIE_ECAM.answer).toBe('ones');
  });

  it('puts the high PCIe MMIO at the first 16 GiB boundary above RAM', () => {
    expect(pcieHighMmio(128 * 2 ** 20)).toMatchObject({ base: 0x4_0000_0000, size: 0x4_0000_0000 });
    expect(pcieHighMmio(16 * 2 ** 30).base).toBe(0x8_0000_0000);
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
