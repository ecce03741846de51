// What a bench modes run measured, and how it reads: each run's figures per benchmark and
// column (a mode, or QEMU), their medians, the ratio to QEMU, the tables a person reads and
// the JSON a script reads. Pure functions: tested without a lab.
import { EXIT_REASON_TABLE } from '@splitvisor/platform';
import { table } from '../views.js';

/** QEMU's column: the reference every mode's ratio is taken against. */
export const QEMU = 'qemu';

/** One benchmark in one run of one column. */
export interface BenchSample {
  bench: string;
  iters: number;
  /** Guest-timed, from the kernel's `time` CSR. */
  nsPerOp: number;
  /** Host wall time from the byte that started the measured part to its result line, / iters. */
  hostUsPerOp: number;
  /** Splitvisor only: the cpu's exit counters over the measured part, by reason. */
  exits?: Record<string, number>;
  /** Splitvisor only: guest instructions retired over the measured part (the cpu's instret). */
  instructions?: number;
  /** Splitvisor only: MMIO exits over the measured part by device (reads, writes). */
  mmio?: Record<string, { reads: number; writes: number }>;
}

/** One run of the kernel's suite in one column. */
export interface ColumnRun {
  column: string;
  run: number;
  /** The kernel's first line. */
  banner: string;
  /** Load average (1, 5, 15 min) when the run ended. */
  load: string;
  benches: BenchSample[];
}

export interface Cell {
  nsPerOp: number;
  nsRuns: number[];
  hostUsPerOp: number;
  hostRuns: number[];
  /** Median over the runs of guest instructions / iters. */
  instructionsPerOp?: number;
  /** Medians over the runs of (count / iters), every reason of the table. */
  exitsPerOp?: Record<string, number>;
  /** Medians over the runs of (read + write exits) / iters, per device touched. */
  mmioPerOp?: Record<string, number>;
}

export interface Row {
  bench: string;
  cells: Record<string, Cell>;
  /** Each mode's median ns/op over QEMU's. */
  ratio: Record<string, number>;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Per benchmark (in the order first seen) and column: the medians of the runs. */
export function summarize(runs: readonly ColumnRun[], columns: readonly string[]): Row[] {
  const benches = [...new Set(runs.flatMap((r) => r.benches.map((b) => b.bench)))];
  return benches.map((bench) => {
    const cells: Record<string, Cell> = {};
    for (const column of columns) {
      const samples = runs.filter((r) => r.column === column).flatMap((r) => r.benches.filter((b) => b.bench === bench));
      if (samples.length === 0) continue;
      const cell: Cell = {
        nsPerOp: median(samples.map((s) => s.nsPerOp)),
        nsRuns: samples.map((s) => s.nsPerOp),
        hostUsPerOp: median(samples.map((s) => s.hostUsPerOp)),
        hostRuns: samples.map((s) => s.hostUsPerOp),
      };
      if (samples.every((s) => s.instructions !== undefined)) cell.instructionsPerOp = median(samples.map((s) => s.instructions! / s.iters));
      if (samples.every((s) => s.exits)) {
        cell.exitsPerOp = Object.fromEntries(EXIT_REASON_TABLE.map(({ name }) => [name, median(samples.map((s) => (s.exits![name] ?? 0) / s.iters))]));
      }
      if (samples.every((s) => s.mmio)) {
        const devices = [...new Set(samples.flatMap((s) => Object.keys(s.mmio!)))].sort();
        cell.mmioPerOp = Object.fromEntries(
          devices.map((d) => [d, median(samples.map((s) => ((s.mmio![d]?.reads ?? 0) + (s.mmio![d]?.writes ?? 0)) / s.iters))]),
        );
      }
      cells[column] = cell;
    }
    const ref = cells[QEMU]?.nsPerOp;
    const ratio = Object.fromEntries(
      columns.filter((c) => c !== QEMU && cells[c] && ref !== undefined).map((c) => [c, ref! > 0 ? cells[c]!.nsPerOp / ref! : Infinity]),
    );
    return { bench, cells, ratio };
  });
}

/** Three significant digits, no exponent for the sizes seen here. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a >= 0.001) return x.toFixed(3);
  return x.toExponential(1);
}

const withRuns = (median: number, runs: readonly number[]) => (runs.length > 1 ? `${fmt(median)} (${runs.map(fmt).join(' ')})` : fmt(median));

/** The tables a person reads: guest ns/op with ratios, host µs/op, then per mode its exits
 *  per op by reason and its MMIO exits per op by device. */
export function renderTables(rows: readonly Row[], columns: readonly string[], nRuns: number): string {
  const modes = columns.filter((c) => c !== QEMU);
  const hasQemu = columns.includes(QEMU);
  const each = nRuns > 1 ? `median of ${nRuns} runs, each run's in brackets` : '1 run';
  const out: string[] = [];
  out.push(`guest ns/op (${each})${hasQemu ? ' and the ratio to QEMU' : ''}:`);
  out.push(
    table([
      ['benchmark', ...columns, ...(hasQemu ? modes.map((m) => `${m}/qemu`) : [])],
      ...rows.map((r) => [
        r.bench,
        ...columns.map((c) => (r.cells[c] ? withRuns(r.cells[c].nsPerOp, r.cells[c].nsRuns) : '-')),
        ...(hasQemu ? modes.map((m) => (r.ratio[m] === undefined ? '-' : `x${fmt(r.ratio[m])}`)) : []),
      ]),
    ]),
  );
  out.push(`host µs/op (wall time from the byte that starts the measured part to its result line, / iters; ${each}):`);
  out.push(
    table([
      ['benchmark', ...columns],
      ...rows.map((r) => [r.bench, ...columns.map((c) => (r.cells[c] ? withRuns(r.cells[c].hostUsPerOp, r.cells[c].hostRuns) : '-'))]),
    ]),
  );
  for (const m of modes) {
    out.push(
      `guest instructions and exits per op in ${m}, by reason (median; the measured part and its result line; COALESCED and DOORBELL are posted stores, not exits):`,
    );
    out.push(
      table([
        ['benchmark', 'INSNS', ...EXIT_REASON_TABLE.map((x) => x.label)],
        ...rows.map((r) => [
          r.bench,
          r.cells[m]?.instructionsPerOp === undefined ? '-' : fmt(r.cells[m].instructionsPerOp),
          ...EXIT_REASON_TABLE.map((x) => (r.cells[m]?.exitsPerOp ? fmt(r.cells[m].exitsPerOp[x.name] ?? 0) : '-')),
        ]),
      ]),
    );
    const devices = [...new Set(rows.flatMap((r) => Object.keys(r.cells[m]?.mmioPerOp ?? {})))].sort();
    if (devices.length) {
      out.push(`MMIO exits per op in ${m}, by device (reads + writes, median):`);
      out.push(table([['benchmark', ...devices], ...rows.map((r) => [r.bench, ...devices.map((d) => fmt(r.cells[m]?.mmioPerOp?.[d] ?? 0))])]));
    }
  }
  return out.join('\n');
}

/** The JSON --json writes: what was asked, every run as measured, and the summary rows. */
export interface BenchModesReport {
  kind: 'splitvisor-bench-modes';
  version: 1;
  at: string;
  host: { loadBefore: string; loadAfter: string; cpus: number };
  options: { runs: number; iters: number | null; only: string[]; timeoutS: number };
  kernel: string;
  firmware: string;
  columns: string[];
  runs: ColumnRun[];
  rows: Row[];
}
