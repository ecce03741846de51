// `splitvisor exercise list | run NAME [--json]`: the fault-injection exercises of
// exercises/*.yaml, each run in a private lab, each ending in a report and a verdict.
export { loadCatalog, loadExercise, findExercise, ExerciseError, EXERCISES_DIR, type Exercise, type Step, type Check } from './catalog.js';
export { runExercise, type ExerciseResult, type TimelineEntry, type CheckResult, type FaultWindow } from './runner.js';
export { formatReport, formatCatalog, timelineLine } from './report.js';

import { findExercise, loadCatalog } from './catalog.js';
import { runExercise } from './runner.js';
import { formatCatalog, formatReport, timelineLine } from './report.js';

export const EXERCISE_USAGE = `  exercise list [--json]
                        the fault-injection exercises (exercises/*.yaml)
  exercise run <name|file.yaml> [--json]
                        run one in a private lab (its own \`up\`): start its guest, inject
                        its faults on schedule, check what the guest saw; a report, exit 0
                        on pass, 1 on fail
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
