// Runs one exercise of the catalog as a person would (`splitvisor exercise run NAME --json`)
// and checks what every exercise must show: it passed, each fault it injected has a window
// in the report, and nothing the guest counted as lost.
import { expect } from 'vitest';
import { runCli } from './cli-runner.js';

export interface ExerciseReport {
  name: string;
  pass: boolean;
  durationMs: number;
  loadAverage: number[];
  error?: string;
  timeline: { at: number; kind: string; text: string }[];
  faults: { at: number; text: string; longestSilenceMs?: number; recoveredAfterMs?: number }[];
  guestSaid: Record<string, string[]>;
  vmEnd: Record<string, string>;
  exitsP50Ms: Record<string, number>;
  checks: { ok: boolean; text: string }[];
}

export async function runExercise(name: string, timeoutMs: number): Promise<ExerciseReport> {
  const r = await runCli(['exercise', 'run', name, '--json'], { timeoutMs, env: { SPLITVISOR_LAB_DIR: undefined } });
  expect(r.stderr, `exercise ${name} wrote to stderr`).toBe('');
  const report = JSON.parse(r.stdout) as ExerciseReport;
  // What the CI log keeps of it: the faults and what the guest saw.
  const t0 = report.timeline[0]?.at ?? 0;
  console.log(
    [
      `exercise ${name}: ${report.pass ? 'PASS' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(1)} s, load ${report.loadAverage.map((x) => x.toFixed(2)).join(' ')}`,
      ...report.timeline.map((e) => `  +${((e.at - t0) / 1000).toFixed(2)}s ${e.kind} ${e.text}`),
      ...report.faults.map((f) => `  fault "${f.text}": silence ${f.longestSilenceMs} ms, progress after ${f.recoveredAfterMs} ms`),
      ...report.checks.map((c) => `  ${c.ok ? 'ok' : 'FAIL'} ${c.text}`),
    ].join('\n'),
  );
  expect(report.error, `${name} stopped early`).toBeUndefined();
  expect(
    report.checks.filter((c) => !c.ok).map((c) => c.text),
    `${name}: failed checks`,
  ).toEqual([]);
  expect(report.pass).toBe(true);
  expect(r.code).toBe(0);
  return report;
}
