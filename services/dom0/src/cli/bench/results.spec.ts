import { describe, expect, it } from 'vitest';
import { counterDiff } from './lab-run.js';
import { fmt, median, renderTables, summarize, type ColumnRun } from './results.js';
import { renderChart } from './chart-svg.js';

const run = (column: string, n: number, ns: number, exits?: Record<string, number>): ColumnRun => ({
  column,
  run: n,
  banner: 'splitvisor-kernel: hart 0, 128 MiB, 1 virtio devices, sstc no',
  load: '1.00 1.00 1.00',
  benches: [
    {
      bench: 'trap',
      iters: 10,
      nsPerOp: ns,
      hostUsPerOp: ns / 100,
      ...(exits && { instructions: ns, exits, mmio: { 'serial@0x10000000': { reads: 20, writes: 0 } } }),
    },
    {
      bench: 'mmio_read',
      iters: 20,
      nsPerOp: ns * 2,
      hostUsPerOp: ns / 50,
      ...(exits && { exits: { 'mmio-read': 40 }, mmio: { 'serial@0x10000000': { reads: 40, writes: 0 } } }),
    },
  ],
});

const RUNS = [
  run('emulate', 1, 3000, { 'mmio-read': 20, wfi: 10 }),
  run('qemu', 1, 100),
  run('emulate', 2, 1000, { 'mmio-read': 40, wfi: 0 }),
  run('qemu', 2, 300),
  run('emulate', 3, 2000, { 'mmio-read': 30, wfi: 30 }),
  run('qemu', 3, 200),
];

describe('bench modes results', () => {
  it('takes medians per benchmark and column, keeps each run, and the ratio of the medians to QEMU', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    const rows = summarize(RUNS, ['emulate', 'qemu']);
    expect(rows.map((r) => r.bench)).toEqual(['trap', 'mmio_read']);
    const trap = rows[0]!;
    expect(trap.cells['emulate']).toMatchObject({ nsPerOp: 2000, nsRuns: [3000, 1000, 2000], hostUsPerOp: 20 });
    expect(trap.cells['qemu']).toMatchObject({ nsPerOp: 200, nsRuns: [100, 300, 200] });
    expect(trap.cells['qemu']!.exitsPerOp).toBeUndefined();
    expect(trap.ratio).toEqual({ emulate: 10 });
    // Exits per op: median of count/iters per reason; every reason of the table is there.
    expect(trap.cells['emulate']!.exitsPerOp).toMatchObject({ 'mmio-read': 3, wfi: 1, 'sbi-call': 0, 'shadow-fault': 0 });
    expect(Object.keys(trap.cells['emulate']!.exitsPerOp!)).toHaveLength(14);
    expect(trap.cells['emulate']!.mmioPerOp).toEqual({ 'serial@0x10000000': 2 });
    expect(trap.cells['emulate']!.instructionsPerOp).toBe(200);
    expect(rows[1]!.cells['emulate']!.instructionsPerOp).toBeUndefined();
    expect(rows[1]!.cells['emulate']!.mmioPerOp).toEqual({ 'serial@0x10000000': 2 });
  });

  it('prints every row with each run, the ratio, host time, exits by reason and MMIO by device', () => {
    const text = renderTables(summarize(RUNS, ['emulate', 'qemu']), ['emulate', 'qemu'], 3);
    const lines = text.split('\n');
    expect(lines[0]).toBe("guest ns/op (median of 3 runs, each run's in brackets) and the ratio to QEMU:");
    expect(lines[1]!.split(/ {2,}/)).toEqual(['benchmark', 'emulate', 'qemu', 'emulate/qemu']);
    expect(lines[2]!.split(/ {2,}/)).toEqual(['trap', '2000 (3000 1000 2000)', '200 (100 300 200)', 'x10.0']);
    expect(lines[3]!.split(/ {2,}/)).toEqual(['mmio_read', '4000 (6000 2000 4000)', '400 (200 600 400)', 'x10.0']);
    expect(text).toMatch(/^host µs\/op .*\nbenchmark +emulate +qemu\ntrap +20\.0 \(30\.0 10\.0 20\.0\) +2\.00 \(1\.00 3\.00 2\.00\)$/m);
    expect(text).toMatch(
      /^benchmark +INSNS +MMIO-R +MMIO-W +FETCH +WFI +COALESCED +DOORBELL +SHADOWED +POLLIDLE +PRIV +SBI +SHADOW +GPF +VIRQ +VTRAP\ntrap +200 +3\.00 +0 +0 +1\.00 +0 +0 +0 +0 +0 +0 +0 +0 +0 +0$/m,
    );
    expect(text).toMatch(/^MMIO exits per op in emulate, by device .*\nbenchmark +serial@0x10000000\ntrap +2\.00\nmmio_read +2\.00$/m);
  });

  it('takes the difference of two counter snapshots, keeping devices that saw exits', () => {
    const before = {
      instret: 1000,
      exits: { 'mmio-read': 5, wfi: 2 },
      mmio: { 'serial@0x10000000': { reads: 5, writes: 1 }, 'test@0x100000': { reads: 0, writes: 1 } },
    };
    const after = {
      instret: 1500,
      exits: { 'mmio-read': 9, wfi: 2, 'sbi-call': 3 },
      mmio: { 'serial@0x10000000': { reads: 9, writes: 1 }, 'test@0x100000': { reads: 0, writes: 1 } },
    };
    expect(counterDiff(before, after)).toEqual({
      instructions: 500,
      exits: { 'mmio-read': 4, wfi: 0, 'sbi-call': 3 },
      mmio: { 'serial@0x10000000': { reads: 4, writes: 0 } },
    });
  });

  it('formats figures to about three digits', () => {
    expect([fmt(123456), fmt(12.345), fmt(1.2345), fmt(0.01234), fmt(0), fmt(Infinity), fmt(NaN)]).toEqual([
      '123456',
      '12.3',
      '1.23',
      '0.012',
      '0',
      'inf',
      '-',
    ]);
  });

  it('draws a bar per benchmark and column on a log scale, the slower one taller', () => {
    const svg = renderChart(summarize(RUNS, ['emulate', 'qemu']), ['emulate', 'qemu'], 'a <title> & more');
    const bars = [
      ...svg.matchAll(
        /<rect class="bar" data-bench="([^"]+)" data-column="([^"]+)" data-ns-per-op="([^"]+)" x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)"/g,
      ),
    ];
    expect(bars.map((b) => `${b[1]}/${b[2]}`)).toEqual(['trap/emulate', 'trap/qemu', 'mmio_read/emulate', 'mmio_read/qemu']);
    const h = bars.map((b) => Number(b[4]));
    // 2000 vs 200 ns: a decade apart, as 4000 vs 400.
    expect(h[0]! - h[1]!).toBeCloseTo(h[2]! - h[3]!, 5);
    expect(h[0]!).toBeGreaterThan(h[1]!);
    expect(svg).toContain('a &lt;title&gt; &amp; more');
    expect(svg).toMatch(/>100 ns<\/text>/);
    expect(svg).toMatch(/>10 µs<\/text>/);
  });
});
