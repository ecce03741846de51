// `splitvisor bench modes`: the guest kernel's microbenchmarks (guests/kernel, issue 12) in
// every mode this build has, and on QEMU 7.2, --runs times each (a run of every column in
// turn, so they see the same moments of a shared machine's load). Prints guest ns/op per
// benchmark and column with each run's figure, the ratio to QEMU, host µs/op, and per mode
// the exits per op by reason and the MMIO exits per op by device; writes --json and --svg.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync, closeSync, openSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { protos, type Dom0V1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { Lab, REPO_ROOT } from '@splitvisor/lab';
import { BUILT_VM_MODES, type VmMode } from '@splitvisor/platform';
import { benchBootargs, KERNEL_BENCHMARKS } from './kernel-output.js';
import { renderChart } from './chart-svg.js';
import { QEMU, renderTables, summarize, type BenchModesReport, type ColumnRun } from './results.js';
import { runInLab, type GuestSetup } from './lab-run.js';
import { runOnQemu } from './qemu-run.js';
import { BenchRunError } from './sync-driver.js';

export { BenchRunError };

export const KERNEL_ELF = 'guests/kernel/kernel.elf';
export const FW_JUMP = '.cache/firmware/opensbi/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';
const DISK_BYTES = 4 << 20;
const MEMORY_MIB = 128;

export interface BenchModesOptions {
  runs: number;
  /** iters= for every benchmark; undefined: the kernel's defaults. */
  iters?: number;
  /** Benchmarks to run (all when empty). */
  only: string[];
  /** Per run of one column: from its start to `kernel: done`. */
  timeoutS: number;
  json?: string;
  svg?: string;
  /** More kernel boot arguments (the kernel's test switches: bench-fail-test, hang-test). */
  append?: string;
  out: NodeJS.WritableStream;
  /** Progress, one line per run. */
  err: NodeJS.WritableStream;
}

const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The benchmark names of --only, checked against the kernel's list. */
export function parseOnly(v: string | undefined): string[] {
  if (v === undefined || v === '') return [];
  const names = v.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !(KERNEL_BENCHMARKS as readonly string[]).includes(n));
  if (bad.length)
    throw new BenchRunError(`--only: ${bad.map((b) => JSON.stringify(b)).join(', ')} is not a benchmark (benchmarks: ${KERNEL_BENCHMARKS.join(', ')})`);
  return names;
}

/** fw_jump from Debian's opensbi package, fetched (scripts/fetch-firmware.sh) when missing. */
function firmware(): string {
  const fw = join(REPO_ROOT, FW_JUMP);
  if (existsSync(fw)) return fw;
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts/fetch-firmware.sh')], { encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(fw))
    throw new BenchRunError(`cannot fetch Debian's OpenSBI (scripts/fetch-firmware.sh): ${r.stderr.trim() || `${fw} missing`}`);
  return fw;
}

function freshDisk(dir: string, name: string): string {
  const p = join(dir, `${name}.img`);
  closeSync(openSync(p, 'w'));
  truncateSync(p, DISK_BYTES);
  return p;
}

export async function benchModes(o: BenchModesOptions): Promise<number> {
  const kernel = join(REPO_ROOT, KERNEL_ELF);
  if (!existsSync(kernel)) throw new BenchRunError(`${KERNEL_ELF} is missing (make -C guests/kernel builds it)`);
  const fw = firmware();
  const modes: VmMode[] = [...BUILT_VM_MODES];
  const columns = [...modes, QEMU];
  const bootargs = benchBootargs({ only: o.only, ...(o.iters !== undefined && { iters: o.iters }), sync: true, ...(o.append && { extra: o.append }) });
  const loadBefore = loadAverage();
  const say = (s: string) => o.err.write(`bench modes: ${s}\n`);
  say(
    `${o.runs} run(s) of ${o.only.length ? o.only.join(', ') : 'every benchmark'} in ${columns.join(', ')}; kernel args "${bootargs}"; load average ${loadBefore}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'bench-modes-'));
  // Its own lab, insecure as every bench's (scripts/bench/bench-lab.mjs): the figures are
  // the machine's, comparable with the other benches'; the lab lives on loopback for the
  // bench's lifetime only.
  const lab = await Lab.start({ logLevel: 'warn', secure: false });
  const dom0 = new RpcClient<Dom0V1.Dom0Client>(protos().dom0.Dom0, lab.addresses.dom0, { deadlineMs: 30_000 });
  const runs: ColumnRun[] = [];
  try {
    for (let run = 1; run <= o.runs; run++) {
      for (const column of columns) {
        const g: GuestSetup = { kernel, firmware: fw, disk: freshDisk(dir, `${column}-${run}`), bootargs, memoryMiB: MEMORY_MIB, timeoutS: o.timeoutS };
        const t0 = performance.now();
        const r = column === QEMU ? await runOnQemu(run, g, loadAverage) : await runInLab(dom0, column as VmMode, run, g, loadAverage);
        runs.push(r);
        say(`run ${run}/${o.runs} ${column}: ${r.benches.length} benchmark(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s, load average ${r.load}`);
      }
    }
  } finally {
    dom0.close();
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = summarize(runs, columns);
  const loadAfter = loadAverage();
  o.out.write(`${runs.find((r) => r.banner)?.banner ?? ''}\n\n${renderTables(rows, columns, o.runs)}\n`);
  o.out.write(`load average before ${loadBefore}, after ${loadAfter} (${cpus().length} CPUs; this machine is shared, so is the noise)\n`);
  if (o.json) {
    const report: BenchModesReport = {
      kind: 'splitvisor-bench-modes',
      version: 1,
      at: new Date().toISOString(),
      host: { loadBefore, loadAfter, cpus: cpus().length },
      options: { runs: o.runs, iters: o.iters ?? null, only: o.only, timeoutS: o.timeoutS },
      kernel: KERNEL_ELF,
      firmware: fw,
      columns,
      runs,
      rows,
    };
    writeFileSync(o.json, JSON.stringify(report, null, 2) + '\n');
    o.out.write(`JSON: ${o.json}\n`);
  }
  if (o.svg) {
    writeFileSync(o.svg, renderChart(rows, columns, `Splitvisor bench modes: ${columns.join(', ')} (median of ${o.runs} run${o.runs > 1 ? 's' : ''})`));
    o.out.write(`SVG: ${o.svg}\n`);
  }
  return 0;
}
