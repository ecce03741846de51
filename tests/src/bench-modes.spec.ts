// `splitvisor bench modes` as a person runs it (issue 12): our kernel's microbenchmarks in
// every mode this build has and on QEMU 7.2, each in a real lab or a real QEMU, the table
// printed, the JSON and the SVG written. Tiny iteration counts and one run: this checks the
// shape and the plumbing, never a speed. A benchmark that fails its own check, a kernel
// panic and a guest that never ends each end the run with a message naming what and where.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_VM_MODES, EXIT_REASONS } from '@splitvisor/platform';
import { runCli } from './cli-runner.js';
import { KERNEL_BENCHES } from './kernel-run.js';
import { onPath, requireTool } from './require-tool.js';

const COLUMNS = [...BUILT_VM_MODES, 'qemu'];

type SkipFn = (note?: string) => never;
function requireTools(skip: SkipFn): void {
  requireTool(
    {
      ok: onPath('qemu-system-riscv64'),
      why: 'qemu-system-riscv64 is not on PATH (Debian: apt-get install qemu-system-misc)',
      needed: 'bench modes runs the kernel on QEMU beside the lab',
      allowVar: 'SPLITVISOR_ALLOW_NO_QEMU',
    },
    skip,
  );
}

/** Parses `file` with Python's XML parser (an independent reader) and gives each bar's bench and column. */
function barsOf(file: string): string[] {
  const r = spawnSync(
    'python3',
    [
      '-c',
      'import sys, xml.etree.ElementTree as ET\n' +
        'root = ET.parse(sys.argv[1]).getroot()\n' +
        'assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag\n' +
        'for e in root.iter("{http://www.w3.org/2000/svg}rect"):\n' +
        '    if e.get("class") == "bar": print(e.get("data-bench") + "/" + e.get("data-column"))\n',
      file,
    ],
    { encoding: 'utf8' },
  );
  if (r.error) throw new Error(`python3 is needed to read the SVG as XML (Debian: apt-get install python3): ${r.error.message}`);
  expect(r.stderr, 'the SVG as XML').toBe('');
  expect(r.status).toBe(0);
  return r.stdout.trim().split('\n');
}

describe('splitvisor bench modes', () => {
  it('prints every benchmark for each mode and QEMU, and writes the JSON and an SVG with a bar per benchmark and column', async ({ skip }) => {
    requireTools(skip);
    const dir = mkdtempSync(join(tmpdir(), 'bench-modes-spec-'));
    const json = join(dir, 'modes.json');
    const svg = join(dir, 'modes.svg');
    const r = await runCli(['bench', 'modes', '--runs=1', '--iters=2', '--timeout=400', `--json=${json}`, `--svg=${svg}`], { timeoutMs: 780_000 });
    expect(r.stderr).toMatch(/bench modes: run 1\/1 emulate: 12 benchmark\(s\) in/);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^splitvisor-kernel: hart 0, 128 MiB, 1 virtio devices, sstc (yes|no), pv-ops native$/m);
    const modes = COLUMNS.filter((c) => c !== 'qemu');
    expect(out).toMatch(new RegExp(`^benchmark +${COLUMNS.join(' +')} +${modes.map((m) => `${m}/qemu`).join(' +')}$`, 'm'));
    expect(out).toMatch(/^load average before [\d.]+ [\d.]+ [\d.]+, after [\d.]+ [\d.]+ [\d.]+/m);
    for (const b of KERNEL_BENCHES) {
      // guest ns/op of each column and the ratio; host µs/op; exits per op by each reason.
      expect(out, b).toMatch(new RegExp(`^${b}( +\\d+){${COLUMNS.length}}( +x[\\d.]+){${modes.length}}$`, 'm'));
      expect(out, b).toMatch(new RegExp(`^${b}( +[\\d.]+){${COLUMNS.length}}$`, 'm'));
      expect(out, b).toMatch(new RegExp(`^${b}( +[\\d.]+(e-\\d)?){${EXIT_REASONS.length + 1}}$`, 'm'));
    }

    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      kind: string;
      columns: string[];
      options: { runs: number; iters: number };
      runs: {
        column: string;
        benches: { bench: string; iters: number; nsPerOp: number; hostUsPerOp: number; instructions?: number; exits?: Record<string, number> }[];
      }[];
      rows: {
        bench: string;
        cells: Record<string, { nsPerOp: number; nsRuns: number[]; exitsPerOp?: Record<string, number> }>;
        ratio: Record<string, number>;
      }[];
    };
    expect(report).toMatchObject({ kind: 'splitvisor-bench-modes', columns: COLUMNS, options: { runs: 1, iters: 2 } });
    expect(report.runs.map((x) => x.column)).toEqual(COLUMNS);
    expect(report.rows.map((x) => x.bench)).toEqual(KERNEL_BENCHES);
    for (const row of report.rows) {
      for (const c of COLUMNS) {
        expect(row.cells[c]!.nsPerOp, `${row.bench} ${c}`).toBeGreaterThan(0);
        expect(row.cells[c]!.nsRuns).toHaveLength(1);
      }
      expect(Object.keys(row.cells['emulate']!.exitsPerOp!)).toEqual([...EXIT_REASONS]);
      expect(row.cells['qemu']!.exitsPerOp).toBeUndefined();
      expect(row.ratio['emulate']).toBeCloseTo(row.cells['emulate']!.nsPerOp / row.cells['qemu']!.nsPerOp, 9);
    }
    const emulate = report.runs.find((x) => x.column === 'emulate')!;
    for (const b of emulate.benches) expect(b.iters, b.bench).toBe(2);
    // The console handshake and the result line exit through the UART in every benchmark;
    // the disk benchmarks reach the virtio-blk device; nothing in emulate is a monitor exit.
    for (const b of emulate.benches) {
      expect(b.instructions, b.bench).toBeGreaterThan(0);
      expect(b.exits!['mmio-read'], b.bench).toBeGreaterThan(0);
      for (const m of ['priv-insn', 'sbi-call', 'shadow-fault', 'guest-page-fault', 'virq-inject', 'vtrap']) expect(b.exits![m], `${b.bench} ${m}`).toBe(0);
    }
    // hw: the kernel's privileged instructions, its timer (Sstc) and its syscalls run in
    // VS-mode with no exit; what leaves is MMIO. A disk read's DMA updates the pages the
    // guest holds (mmu's RECALL_UPDATE) instead of taking them, so no G-stage refill
    // follows each read, as one did when the DMA invalidated them.
    const hw = report.runs.find((x) => x.column === 'hw')!;
    for (const b of hw.benches) {
      expect(b.exits!['mmio-read'], b.bench).toBeGreaterThan(0);
      for (const m of ['priv-insn', 'shadow-fault', 'virq-inject', 'vtrap']) expect(b.exits![m], `hw ${b.bench} ${m}`).toBe(0);
    }
    for (const b of hw.benches.filter((x) => x.bench.startsWith('blk_'))) {
      expect(b.exits!['guest-page-fault'], b.bench).toBeLessThan(b.iters);
    }
    // trap: each privileged instruction is an exit, each page-table change shadow faults;
    // the system call and the trap are delivered to the guest's handler by the monitor.
    const trap = report.runs.find((x) => x.column === 'trap')!;
    const trapOf = (name: string) => trap.benches.find((x) => x.bench === name)!.exits!;
    for (const b of trap.benches) {
      expect(b.exits!['priv-insn'], `trap ${b.bench}`).toBeGreaterThan(0);
      expect(b.exits!['guest-page-fault'], `trap ${b.bench}`).toBe(0);
    }
    expect(trapOf('null_syscall')['vtrap']).toBeGreaterThanOrEqual(1);
    expect(trapOf('trap')['vtrap']).toBeGreaterThanOrEqual(1);
    for (const b of ['fork_exit', 'pte_change', 'page_fault']) expect(trapOf(b)['shadow-fault'], b).toBeGreaterThan(0);
    // pv: the hart walks the guest's own tables (no shadow, no G-stage); the system call
    // costs its delivery and one PV_TRAP_RETURN, not an exit per privileged instruction.
    const pv = report.runs.find((x) => x.column === 'pv')!;
    const pvOf = (name: string) => pv.benches.find((x) => x.bench === name)!.exits!;
    for (const b of pv.benches) {
      expect(b.exits!['shadow-fault'], `pv ${b.bench}`).toBe(0);
      expect(b.exits!['guest-page-fault'], `pv ${b.bench}`).toBe(0);
    }
    expect(pvOf('null_syscall')['sbi-call']).toBeGreaterThanOrEqual(1);
    expect(pvOf('null_syscall')['priv-insn']).toBeLessThan(trapOf('null_syscall')['priv-insn']!);
    expect(barsOf(svg)).toEqual(KERNEL_BENCHES.flatMap((b) => COLUMNS.map((c) => `${b}/${c}`)));
  }, 800_000);

  it('ends with the benchmark and the mode named when a benchmark fails its own check', async ({ skip }) => {
    requireTools(skip);
    const r = await runCli(['bench', 'modes', '--runs=1', '--iters=2', '--only=null_syscall,trap', '--append=bench-fail-test', '--timeout=300'], {
      timeoutMs: 400_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^splitvisor: benchmark null_syscall failed its own check in emulate: .+$/m);
  }, 420_000);

  it('ends with a clear message on a kernel panic', async ({ skip }) => {
    requireTools(skip);
    const r = await runCli(['bench', 'modes', '--runs=1', '--iters=2', '--only=trap', '--append=panic-test', '--timeout=300'], { timeoutMs: 400_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^splitvisor: kernel panic in emulate before the first benchmark: .+$/m);
  }, 420_000);

  it('ends at --timeout when the guest never finishes, naming the mode and where it was', async ({ skip }) => {
    requireTools(skip);
    const r = await runCli(['bench', 'modes', '--runs=1', '--iters=2', '--only=trap', '--append=hang-test', '--timeout=25'], { timeoutMs: 300_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^splitvisor: emulate: no end within --timeout=25 s, before the first benchmark; the kernel's last lines:$/m);
    expect(r.stderr).toMatch(/hang-test: pid \d+ spins for ever/);
  }, 320_000);

  it('refuses a benchmark the kernel does not have, naming the ones it has', async () => {
    const r = await runCli(['bench', 'modes', '--only=trap,nul_syscall'], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('splitvisor: --only: "nul_syscall" is not a benchmark (benchmarks: null_syscall, page_fault,');
  });
});
