// An exercise's report for people: the timeline (each time from the start), what each fault
// did to the guest (its longest silence, when it made progress again), what the guest said
// at the end, the checks, the verdict. --json prints the ExerciseResult itself.
import type { ExerciseResult, TimelineEntry } from './runner.js';
import type { Exercise } from './catalog.js';

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export function timelineLine(e: TimelineEntry, t0: number): string {
  const label = { step: '', fault: 'fault: ', lab: 'lab: ', error: 'error: ' }[e.kind];
  return `  ${`+${((e.at - t0) / 1000).toFixed(2)}s`.padStart(9)}  ${label}${e.text}`;
}

export function formatReport(r: ExerciseResult, live: boolean): string {
  const out: string[] = [];
  if (!live) {
    out.push(`exercise ${r.name}: ${r.title}`);
    for (const e of r.timeline) out.push(timelineLine(e, r.startedAt));
  }
  out.push(
    `lab: private, exit deadline ${r.exitDeadlineMs === undefined ? 'the default' : secs(r.exitDeadlineMs)}; load average ${r.loadAverage.map((x) => x.toFixed(2)).join(' ')}`,
  );
  for (const f of r.faults) {
    const silence = f.longestSilenceMs === undefined ? 'no console line after it' : `longest console silence ${secs(f.longestSilenceMs)}`;
    const back = f.recoveredAfterMs === undefined ? 'no progress after it' : `progress again ${secs(f.recoveredAfterMs)} after it`;
    out.push(`fault at +${secs(f.at - r.startedAt)} (${f.text}): ${silence}; ${back}`);
  }
  for (const [vm, lines] of Object.entries(r.guestSaid)) {
    out.push(`${vm} said last:`);
    for (const l of lines) out.push(`  ${l}`);
    out.push(`${vm} ended: ${r.vmEnd[vm] ?? 'unknown'}`);
  }
  if (r.checks.length) out.push('checks:');
  for (const c of r.checks) out.push(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.text}`);
  if (r.error) out.push(`stopped early: ${r.error}`);
  out.push(`result: ${r.pass ? 'PASS' : 'FAIL'} in ${secs(r.durationMs)}`);
  return out.join('\n') + '\n';
}

export function formatCatalog(exercises: readonly Exercise[]): string {
  const w = Math.max(4, ...exercises.map((e) => e.name.length));
  return [`${'NAME'.padEnd(w)}  WHAT`, ...exercises.map((e) => `${e.name.padEnd(w)}  ${e.title}`)].join('\n') + '\n';
}

/** The reliability table: one row per exercise run, for the README (markdown). */
export function formatSummary(results: readonly ExerciseResult[]): string {
  const rows = results.map((r) => {
    const f = r.faults[0];
    const lost = r.checks.filter((c) => /^[^:]+ = \d+/.test(c.text)).map((c) => c.text.replace(/ \(must be .*\)$/, ''));
    return [
      r.name,
      r.pass ? 'pass' : 'FAIL',
      f ? f.text.replace(/ \(until [^)]*\)/, '').replace(/^f\d+: /, '') : '-',
      f?.longestSilenceMs === undefined ? '-' : secs(f.longestSilenceMs),
      f?.recoveredAfterMs === undefined ? '-' : secs(f.recoveredAfterMs),
      lost.join(', ') || '-',
      secs(r.durationMs),
      r.loadAverage[0].toFixed(2),
    ];
  });
  const head = ['exercise', 'result', 'fault', 'longest console silence', 'progress again after', 'lost (guest-counted)', 'run', 'load'];
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n') + '\n';
}
