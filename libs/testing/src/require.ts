// The gate of every spec that needs something npm does not bring: QEMU, the RISC-V
// toolchain, dtc, Debian's firmware. Missing, it fails the test naming what is missing, so
// a green run never hides checks that did not run; the variable of that kind of
// requirement (a machine that cannot have it) turns the failure into a skip whose reason
// is printed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The variables that allow a kind of requirement to be missing. */
export type AllowMissing = 'SPLITVISOR_ALLOW_NO_QEMU' | 'SPLITVISOR_ALLOW_NO_FIRMWARE';

/** Vitest's `context.skip`: ends the test as skipped, with a note. */
export type SkipFn = (note?: string) => void;

/** One thing a spec needs, and whether this machine has it. */
export interface Requirement {
  /** Named in the failure, with where it comes from: "qemu-system-riscv64 (Debian: qemu-system-misc)". */
  readonly what: string;
  readonly present: boolean;
}

/** A command that answers `--version` with status 0. */
export function tool(cmd: string, debianPackage: string): Requirement {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return { what: `${cmd} (Debian: ${debianPackage})`, present: r.error === undefined && r.status === 0 };
}

/** A file some script puts in place (`from` says which). */
export function file(path: string, from: string): Requirement {
  return { what: `${path} (${from})`, present: existsSync(path) };
}

export const qemuSystem = (): Requirement => tool('qemu-system-riscv64', 'qemu-system-misc');

/**
 * Returns when everything in `needs` is present. Otherwise throws, naming what is missing
 * and `purpose` (what the test checks, so the reader knows what did not run), unless the
 * variable `allow` is 1: then the test is skipped through `skip`, the reason printed.
 */
export function requireOrSkip(skip: SkipFn, needs: readonly Requirement[], allow: AllowMissing, purpose: string): void {
  const missing = needs.filter((n) => !n.present).map((n) => n.what);
  if (missing.length === 0) return;
  const why = `missing: ${missing.join(' and ')}`;
  if (process.env[allow] === '1') {
    console.warn(`SKIPPED: ${why}; ${allow}=1 allows that.`);
    skip(`${why} (${allow}=1)`);
    return;
  }
  throw new Error(`${why}. ${purpose}: it cannot run without them; install them, or set ${allow}=1 to skip it.`);
}
