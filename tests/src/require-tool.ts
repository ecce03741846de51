// The require-or-fail gate of the whole-system specs: a test that needs a tool fails when
// the tool is missing, naming it and how to get it, unless a variable says a skip is
// acceptable here; then it skips with the reason printed. Never a silent skip.
import { spawnSync } from 'node:child_process';

/** True when `cmd --version` runs, i.e. the command is on PATH. */
export function onPath(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

export interface Requirement {
  /** Whether the tool is here. */
  readonly ok: boolean;
  /** What is missing and how to install it. */
  readonly why: string;
  /** What cannot be done without it. */
  readonly needed: string;
  /** The variable that, set to 1, turns the failure into a skip. */
  readonly allowVar: string;
}

/** Returns when `r.ok`; else skips (when r.allowVar=1) or throws, naming what is missing. */
export function requireTool(r: Requirement, skip: (note?: string) => void): void {
  if (r.ok) return;
  if (process.env[r.allowVar] === '1') {
    console.warn(`SKIPPED: ${r.why}; ${r.allowVar}=1 allows that.`);
    skip(`${r.why} (${r.allowVar}=1)`);
    return;
  }
  throw new Error(`${r.why}. ${r.needed}; install it, or set ${r.allowVar}=1 to skip.`);
}
