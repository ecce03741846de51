// What the bench scripts compute the same way: the median of their samples, and the load
// average they print beside it (the machine is shared).
import { loadavg } from 'node:os';

/** The median of `xs` (the mean of the two middle ones for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export const loadAverage = () => loadavg().map((l) => l.toFixed(1)).join(' ');

/** A vCPU's exit table as GetVmStats gives it: count and time per reason (as `perf kvm
 *  stat`), the MMIO exit latency, and exits per device. */
export function printExitTable(stats) {
  // mmio-coalesced and doorbell are stores the vCPU posted instead of exiting: no time.
  const POSTED = new Set(['mmio-coalesced', 'doorbell']);
  for (const e of stats.exits) {
    if (e.count === 0) continue;
    const each = POSTED.has(e.reason) ? 'posted, no exit' : `${((e.totalMs * 1000) / e.count).toFixed(0).padStart(6)} µs each`;
    console.log(`  ${e.reason.padEnd(14)} ${String(e.count).padStart(9)}  ${e.totalMs.toFixed(0).padStart(8)} ms  ${each}`);
  }
  const l = stats.mmioLatency;
  if (l?.samples) console.log(`  MMIO exit latency (last ${l.samples}): p50 ${l.p50Us.toFixed(0)} µs, p99 ${l.p99Us.toFixed(0)} µs, mean ${l.meanUs.toFixed(0)} µs`);
  console.log('\nby device:');
  console.log(`  ${'device'.padEnd(26)} ${'read exits'.padStart(10)} ${'write exits'.padStart(11)} ${'exit time'.padStart(10)} ${'posted'.padStart(8)}`);
  for (const d of stats.devices ?? []) {
    console.log(`  ${d.device.padEnd(26)} ${String(d.reads).padStart(10)} ${String(d.writes).padStart(11)} ${`${d.totalMs.toFixed(0)} ms`.padStart(10)} ${String(d.posted).padStart(8)}`);
  }
}
