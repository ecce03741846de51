// `splitvisor exercise list | run NAME [--json]`: the fault-injection exercises of
// exercises/*.yaml, each run in a private lab, each ending in a report and a verdict.
export { loadCatalog, loadExercise, findExercise, ExerciseError, EXERCISES_DIR, type Exercise, type Step, type Check } from './catalog.js';
export { runExercise, type ExerciseResult, type TimelineEntry, type CheckResult, type FaultWindow } from './runner.js';
export { formatReport, formatCatalog, formatSummary, timelineLine } from './report.js';

import { findExercise, loadCatalog } from './catalog.js';
import { runExercise } from './runner.js';
import { formatCatalog, formatReport, formatSummary, timelineLine } from './report.js';
import type { ExerciseResult } from './runner.js';

export const EXERCISE_USAGE = `  exercise list [--json]
                        the fault-injection exercises (exercises/*.yaml)
  exercise run <name|file.yaml>|--all [--json]
                        run one (or each in turn) in a private lab (its own \`up\`): start
                        its guest, inject its faults on schedule, check what the guest saw;
                        a report (--all: then the reliability table), exit 0 on pass, 1 on
                        fail
`;

export async function exerciseList(json: boolean, out: NodeJS.WritableStream): Promise<number> {
  const all = loadCatalog();
  out.write(json ? JSON.stringify(all.map((e) => ({ name: e.name, title: e.title, file: e.file }))) + '\n' : formatCatalog(all));
  return 0;
}

export async function exerciseRun(name: string, json: boolean, out: NodeJS.WritableStream): Promise<number> {
  const ex = findExercise(name);
  if (!json) out.write(`exercise ${ex.name}: ${ex.title}\n`);
  const r = await runExercise(ex, json ? {} : { onEntry: (e, t0) => out.write(timelineLine(e, t0) + '\n') });
  out.write(json ? JSON.stringify(r) + '\n' : formatReport(r, true));
  return r.pass ? 0 : 1;
}

/** Every exercise in turn, each report as it ends, then the table of all of them. */
export async function exerciseRunAll(json: boolean, out: NodeJS.WritableStream): Promise<number> {
  const all = loadCatalog();
  const results: ExerciseResult[] = [];
  for (const ex of all) {
    if (!json) out.write(`exercise ${ex.name}: ${ex.title}\n`);
    const r = await runExercise(ex, json ? {} : { onEntry: (e, t0) => out.write(timelineLine(e, t0) + '\n') });
    results.push(r);
    out.write(json ? JSON.stringify(r) + '\n' : formatReport(r, true) + '\n');
  }
  if (!json) out.write(formatSummary(results));
  return results.every((r) => r.pass) ? 0 : 1;
}
