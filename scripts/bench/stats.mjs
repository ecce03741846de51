// What the bench scripts compute the same way: the median of their samples, the load
// average they print beside it (the machine is shared), their --flags, a process's CPU time.
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { exitReasonRow, isRealExit } from '@splitvisor/platform';

/** The median of `xs` (the mean of the two middle ones for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The 1, 5 and 15 minute load averages: /proc/loadavg's first three fields. */
export function loadAverage() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  }
}

/**
 * A whole-number flag, `--name=N` (bench.mjs turns `--name N` into that), at least `min`;
 * `dflt` when absent. Exits 2 naming the flag when it is not such a number.
 */
export function intFlag(argv, name, dflt, suite, min = 1) {
  const a = argv.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
  if (a === undefined) return dflt;
  const n = Number(/^--[^=]+=(\d+)$/.exec(a)?.[1]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`${suite} bench: ${a}: expected --${name}=N with N >= ${min}`);
    process.exit(2);
  }
  return n;
}

/** --engine=interp|translate: the engine a suite's Splitvisor VMs run on (`cpu: { engine }`),
 * undefined without the flag (the lab's default). */
export function engineFlag(argv, suite) {
  const a = argv.find((x) => x.startsWith('--engine'));
  if (a === undefined) return undefined;
  const engine = /^--engine=(interp|translate)$/.exec(a)?.[1];
  if (engine === undefined) {
    console.error(`${suite} bench: ${a}: expected --engine=interp or --engine=translate`);
    process.exit(2);
  }
  return engine;
}

/** --runs=N (bench.mjs passes the flags that start with '-' to every suite). */
export const runsFlag = (argv, dflt, suite) => intFlag(argv, 'runs', dflt, suite);

/** Clock ticks per second of /proc/<pid>/stat's times. */
export const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;

/** A process's CPU time so far in clock ticks, all its threads: utime + stime (fields 14, 15). */
export function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** A vCPU's exit table as GetVmStats gives it: count and time per reason (as `perf kvm
 *  stat`), the MMIO exit latency, and exits per device. */
export function printExitTable(stats) {
  // Posted rows (the platform's exit table says which) are stores the vCPU posted instead
  // of exiting, the shadowed row loads it served from io-backend's read shadow: no time.
  for (const e of stats.exits) {
    if (e.count === 0) continue;
    const each = !isRealExit(e.reason) ? `${exitReasonRow(e.reason)?.kind}, no exit` : `${((e.totalMs * 1000) / e.count).toFixed(0).padStart(6)} µs each`;
    console.log(`  ${e.reason.padEnd(14)} ${String(e.count).padStart(9)}  ${e.totalMs.toFixed(0).padStart(8)} ms  ${each}`);
  }
  const l = stats.mmioLatency;
  if (l?.samples)
    console.log(`  MMIO exit latency (last ${l.samples}): p50 ${l.p50Us.toFixed(0)} µs, p99 ${l.p99Us.toFixed(0)} µs, mean ${l.meanUs.toFixed(0)} µs`);
  console.log('\nby device:');
  console.log(
    `  ${'device'.padEnd(26)} ${'read exits'.padStart(10)} ${'write exits'.padStart(11)} ${'exit time'.padStart(10)} ${'posted'.padStart(8)} ${'shadowed'.padStart(9)}`,
  );
  for (const d of stats.devices ?? []) {
    console.log(
      `  ${d.device.padEnd(26)} ${String(d.reads).padStart(10)} ${String(d.writes).padStart(11)} ${`${d.totalMs.toFixed(0)} ms`.padStart(10)} ${String(d.posted).padStart(8)} ${String(d.shadowed ?? 0).padStart(9)}`,
    );
  }
}

/**
 * Runs of a boot on QEMU and Splitvisor, `runs[i] = { q: {milestone: s}, s: { seen: {milestone: s} },
 * ratio, load }`: each run's time to `last` and its ratio, then each milestone's medians and
 * the ratio of the medians.
 */
export function printBootRuns(runs, milestones, last, what) {
  const f = (v) => (v === undefined || Number.isNaN(v) ? '-' : `${v.toFixed(2)} s`);
  const x = (v) => (Number.isFinite(v) ? `x${v.toFixed(1)}` : '-');
  console.log(`${runs.length} run(s), each a QEMU boot then a Splitvisor boot; time to ${what} and Splitvisor's ratio to QEMU:`);
  console.log(`${'run'.padEnd(6)} ${'Splitvisor'.padStart(12)} ${'QEMU'.padStart(10)} ${'ratio'.padStart(8)}  load average after it`);
  runs.forEach((r, i) =>
    console.log(`${String(i + 1).padEnd(6)} ${f(r.s.seen[last]).padStart(12)} ${f(r.q[last]).padStart(10)} ${x(r.ratio).padStart(8)}  ${r.load}`),
  );
  console.log(`\nmedians of ${runs.length} run(s) (ratio: of the medians):`);
  console.log(`${'milestone'.padEnd(24)} ${'Splitvisor'.padStart(12)} ${'QEMU'.padStart(10)} ${'ratio'.padStart(8)}`);
  for (const [k, label] of milestones) {
    const ms = median(runs.map((r) => r.s.seen[k] ?? NaN));
    const mq = median(runs.map((r) => r.q[k] ?? NaN));
    console.log(`${label.padEnd(24)} ${f(ms).padStart(12)} ${f(mq).padStart(10)} ${x(ms / mq).padStart(8)}`);
  }
}
