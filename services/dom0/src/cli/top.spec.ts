import { describe, expect, it } from 'vitest';
import type { Dom0V1 } from '@splitvisor/proto';
import { renderTop, rowOf } from './top.js';

const sample = (at: number, instret: number, mmioWrite: number, irqs: number, ioOps: number): Dom0V1.VmStats__Output => ({
  name: 'web',
  state: 'running',
  node: 'n:1',
  at,
  cpu: {
    instret,
    runSeconds: at / 1000,
    exits: [
      { reason: 'mmio-write', count: mmioWrite, totalMs: 0 },
      { reason: 'wfi', count: 10, totalMs: 0 },
    ],
    paused: false,
    mmioSamples: 0,
    mmioP50Us: 0,
    mmioP99Us: 0,
    devices: [],
    mode: 'emulate',
  },
  memory: { residentBytes: 8192, limitBytes: 1 << 20, firstTouchFaults: 0, fetches: 0, writeBacks: 0 },
  devices: { devices: [], ioOps, consoleBytesOut: 0, consoleBytesIn: 0, irqsRaised: irqs, irqLinesHigh: [], unmapped: 0, badAccess: 0, virtio: [], dma: null },
  notes: [],
  reports: { refused: 0, unconfirmed: 0 },
});

describe('top', () => {
  it('turns two samples into rates per second, by exit reason', () => {
    const r = rowOf(sample(1000, 1_000_000, 100, 5, 200), sample(3000, 5_000_000, 700, 9, 1200));
    expect(r.mips).toBe(2);
    expect(r.exitsPerSec).toEqual({ 'mmio-write': 300, wfi: 0 });
    expect(r.exitsTotalPerSec).toBe(300);
    // Posted stores are rows of their own, never exits.
    const withPosted = (at: number, mmioWrite: number, coalesced: number) => {
      const s = sample(at, 1_000_000, mmioWrite, 1, 1);
      s.cpu!.exits.push({ reason: 'mmio-coalesced', count: coalesced, totalMs: 0 });
      return s;
    };
    const q = rowOf(withPosted(1000, 100, 1000), withPosted(3000, 700, 7000));
    expect(q.exitsPerSec['mmio-coalesced']).toBe(3000);
    expect(q.exitsTotalPerSec).toBe(300);
    expect(r.irqsPerSec).toBe(2);
    expect(r.ioOpsPerSec).toBe(500);
    expect(r.residentBytes).toBe(8192);
    expect(r.totals).toEqual({ instret: 5_000_000, exits: { 'mmio-write': 700, wfi: 10 }, irqs: 9, ioOps: 1200 });
  });

  it('gives zeros for a first sample and across a restart (counters went back)', () => {
    expect(rowOf(undefined, sample(1000, 10, 1, 1, 1)).exitsTotalPerSec).toBe(0);
    expect(rowOf(sample(1000, 5000, 9, 1, 1), sample(2000, 10, 1, 1, 1)).mips).toBe(0);
  });

  it("renders the mode monitors' reasons as columns of their own, under short labels, in the table's order", () => {
    const withAll = (at: number, n: number) => {
      const s = sample(at, 1e6, n, 0, 0);
      s.cpu!.exits = ['virq-inject', 'sbi-call', 'priv-insn', 'mmio-write', 'shadow-fault', 'guest-page-fault', 'doorbell'].map((reason, i) => ({
        reason,
        count: n * (i + 1),
        totalMs: 0,
      }));
      return s;
    };
    const r = rowOf(withAll(1000, 10), withAll(2000, 20));
    expect(r.exitsPerSec).toMatchObject({ 'priv-insn': 30, 'sbi-call': 20, 'shadow-fault': 50, 'guest-page-fault': 60, 'virq-inject': 10 });
    // doorbell (70/s) is a posted store, not an exit.
    expect(r.exitsTotalPerSec).toBe(10 + 20 + 30 + 40 + 50 + 60);
    const header = renderTop([r]).split('\n')[2]!;
    expect(header.split(/ +/)).toEqual([
      'NAME',
      'STATE',
      'NODE',
      'MIPS',
      'EXITS/s',
      'MMIO-W/s',
      'DOORBELL/s',
      'PRIV/s',
      'SBI/s',
      'SHADOW/s',
      'GPF/s',
      'VIRQ/s',
      'MEM',
      'IRQ/s',
      'IO/s',
      'CONS',
      'B/s',
    ]);
  });

  it('renders one column per exit reason', () => {
    const out = renderTop([rowOf(sample(1000, 1e6, 100, 0, 0), sample(2000, 3e6, 200, 0, 0))], Date.UTC(2026, 0, 1, 12, 0, 0));
    expect(out).toMatch(
      /^splitvisor top - 12:00:00 {2}1 vm, 1 running, 0 other\n\nNAME +STATE +NODE +MIPS +EXITS\/s +MMIO-W\/s +WFI\/s +MEM +IRQ\/s +IO\/s +CONS B\/s\nweb +running +n:1 +2\.00 +100 +100 +0\.00 +8 KiB/,
    );
  });
});
