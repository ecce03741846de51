// Running a guest image on QEMU's own `virt` machine, the reference, and the same image with
// the same input on Splitvisor (the four services and the CLI as processes), then comparing
// the two consoles and how each run ended. Shared by qemu-guests.spec.ts (every guest) and
// qemu-fidelity.spec.ts (drivers written against QEMU: issue 17).
//
// QEMU is required: without qemu-system-riscv64 (Debian `qemu-system-misc`) these tests
// fail, unless SPLITVISOR_ALLOW_NO_QEMU=1, which turns that into a skip with a reason.
import { expect } from 'vitest';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '@splitvisor/testing';
import type { ParityCase } from './guest-expectations.js';
import { runCli, spawnCli } from './cli-runner.js';
import { ConsoleProcess } from './console-process.js';
import { onPath, requireTool } from './require-tool.js';
import { QEMU, spawnQemu } from './qemu-process.js';

export { QEMU };
export const QEMU_TIMEOUT_MS = 20_000;
const haveQemu = onPath(QEMU);

type SkipFn = (note?: string) => never;

/** Fails (or, when allowed, skips with the reason printed) if QEMU is not installed. */
export function requireQemu(skip: SkipFn): void {
  requireTool(
    {
      ok: haveQemu,
      why: `${QEMU} is not on PATH (Debian: apt-get install qemu-system-misc)`,
      needed: 'These tests compare the guest images against QEMU and cannot run without it',
      allowVar: 'SPLITVISOR_ALLOW_NO_QEMU',
    },
    skip,
  );
}

/** The ELF image of a guest folder, relative to the repo root. */
export const elfOf = (guest: string): string => `guests/${guest}/${guest}.elf`;

/** QEMU's arguments for `kernel` (relative to the repo root) on virt in M-mode, no firmware. */
export const qemuArgs = (kernel: string, extraArgs: readonly string[]): string[] => [
  '-M',
  'virt',
  '-bios',
  'none',
  '-nographic',
  '-kernel',
  join(REPO_ROOT, kernel),
  ...extraArgs,
];

export interface QemuRun {
  readonly console: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stderr: string;
}

/**
 * Boots `kernel` (a path relative to the repo root) on QEMU virt in M-mode with no
 * firmware, feeds `input` to the serial console, and collects the console until QEMU
 * exits. Killed (SIGKILL) after timeoutMs. `extraArgs` add devices (e.g. virtio-rng).
 */
export function runQemu(kernel: string, input: string, timeoutMs = QEMU_TIMEOUT_MS, extraArgs: readonly string[] = []): Promise<QemuRun> {
  return new Promise((resolve, reject) => {
    // -nographic puts the serial port (multiplexed with the monitor, escape Ctrl-A) on
    // stdin/stdout; inputs here never contain Ctrl-A. Bytes written before the guest
    // reads them wait in QEMU: the 16550 model takes a byte only when it has room.
    const child = spawnQemu(qemuArgs(kernel, extraArgs));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // EPIPE if QEMU exits before reading everything
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // The process gone and its console pipe drained ('close' does not wait for spawnQemu's).
    const outputClosed = new Promise<void>((done) => child.stdout.once('close', () => done()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      void outputClosed.then(() =>
        resolve({
          // latin1: one char per byte, so the comparison is byte for byte.
          console: Buffer.concat(out).toString('latin1'),
          exitCode: code,
          signal,
          timedOut,
          stderr: Buffer.concat(err).toString('utf8'),
        }),
      );
    });
    child.stdin.end(Buffer.from(input, 'latin1'));
  });
}

/** How a run ended: the exit status (null: killed by a signal), or still running when it was
 *  stopped (a guest that never powers off), or not ended by the deadline. */
type Ending = number | null | 'running' | 'timed out';

interface MachineRun {
  readonly console: string;
  readonly end: Ending;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
/** How long a guest that never powers off must stay quiet after its expected console. */
const QUIET_MS = 1_000;

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Types `c.input`, closes the input and waits for the end `c.exit` says; kills the machine if
 *  it is still there. A console that differs is returned, not thrown: the comparison shows it. */
async function finish(m: ConsoleProcess, c: ParityCase): Promise<MachineRun> {
  m.type(c.input);
  m.child.stdin.end();
  const timeoutMs = c.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    if (c.exit === 'never') {
      await m.waitFor(new RegExp(escapeRegExp(c.console)), timeoutMs).catch(() => undefined);
      await sleep(QUIET_MS);
      return { console: m.out, end: m.child.exitCode ?? (m.child.signalCode ? null : 'running') };
    }
    const deadline = new AbortController(); // so no timer outlives the run
    const end = await Promise.race([m.exited, sleep(timeoutMs, 'timed out' as const, { signal: deadline.signal })]).finally(() => deadline.abort());
    return { console: m.out, end };
  } finally {
    m.kill();
  }
}

export interface ParityTarget {
  /** The CLI's environment (labEnv of a running lab). */
  env: Record<string, string>;
  /** The VM's name on Splitvisor. */
  name: string;
  /** Writes `<name>.yaml` with `body` and returns its path (cli-runner configDir). */
  vmFile: (name: string, body: string) => string;
}

/** How many times QEMU is run before its own console is taken as it is. */
const REFERENCE_TRIES = 3;

/**
 * QEMU's run of `c`, the reference. Its console goes through a pipe (spawnQemu: QEMU 7.2's
 * 16550 drops bytes it cannot write). Should a reference still not print what the case
 * documents, it is run again, up to REFERENCE_TRIES times; the last run is returned and
 * expectParity then checks it.
 */
async function referenceRun(c: ParityCase): Promise<MachineRun> {
  let run: MachineRun | undefined;
  for (let i = 0; i < REFERENCE_TRIES; i++) {
    run = await finish(new ConsoleProcess(spawnQemu(qemuArgs(elfOf(c.guest), c.qemuArgs ?? []))), c);
    if ((c.normalise?.qemu ?? String)(run.console) === c.console) return run;
  }
  return run!;
}

/** Runs case `c` on QEMU, then on Splitvisor, and expects the same console and the same end;
 *  QEMU's own console must be what the case says (the reference checked too). */
export async function expectParity(c: ParityCase, t: ParityTarget): Promise<void> {
  const qemu = await referenceRun(c);
  const config = t.vmFile(t.name, `name: ${t.name}\nmemory: 64M\nimage: ${join(REPO_ROOT, elfOf(c.guest))}\n${c.vmConfig ?? ''}`);
  const ours = await finish(new ConsoleProcess(spawnCli(['run', config], { env: t.env })), c);
  if (c.exit === 'never') expect((await runCli(['destroy', t.name], { env: t.env })).code, `destroy ${t.name}`).toBe(0);

  const qemuConsole = (c.normalise?.qemu ?? String)(qemu.console);
  const oursConsole = (c.normalise?.ours ?? String)(ours.console);
  const input = `input ${JSON.stringify(c.input)}`;
  expect(oursConsole, `Splitvisor's console for ${c.name} (${input}) against QEMU's`).toBe(qemuConsole);
  expect(ours.end, `how Splitvisor's run of ${c.name} ended, against QEMU's`).toBe(qemu.end);
  // The reference itself: QEMU printed what the guest is known to print, and ended so.
  expect(qemuConsole, `QEMU's console for ${c.name} (${input})`).toBe(c.console);
  expect(qemu.end, `how QEMU's run of ${c.name} ended`).toBe(c.exit === 'never' ? 'running' : c.exit);
}
