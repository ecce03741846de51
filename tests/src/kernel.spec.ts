// guests/kernel, the kernel of our own (issue 12), in the lab (emulate, hw, trap, pv) and on QEMU 7.2: the same
// console output but for the timings (and the Sstc answer, see normaliseKernelOutput), all
// self-tests passing and exit 0 on both; the `sync` handshake the mode bench drives; and
// a panic, a failing benchmark and a run that never ends each stopping with a clear message
// and their own exit code (2, 1, 3), not a hang.
// Real parts: nats-server and the four services as processes (startTestLab), the CLI as a
// process, Debian's OpenSBI fw_jump, QEMU as a process, raw disk files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, startTestLab, type TestLab } from '@splitvisor/testing';
import { configDir, labEnv, runCli } from './cli-runner.js';
import { requireFirmware } from './uboot-console.js';
import { onPath, requireTool } from './require-tool.js';
import { KERNEL_BENCHES, kernelOutput, normaliseKernelOutput, QEMU, startKernel, type Machine } from './kernel-run.js';
import type { ConsoleProcess } from './console-process.js';

const RUN_MS = 240_000; // the lab interprets every instruction; a loaded 2-core box is slow
const MACHINES: Machine[] = ['lab', 'hw', 'trap', 'pv', 'qemu'];
const SELFTESTS = ['cow', 'demand_zero', 'procs100', 'fork_storm', 'file', 'bad_access', 'kill', 'exec', 'pipe', 'ebreak'];

let t: TestLab;
let env: Record<string, string>;
const { vmFile } = configDir('sv-kernel-');
let n = 0;

beforeAll(async () => {
  t = await startTestLab();
  env = labEnv(t);
});
afterAll(async () => {
  await t?.teardown();
});

function requireAll(machine: Machine, skip: (note?: string) => never): void {
  requireFirmware(skip);
  if (machine === 'qemu')
    requireTool(
      {
        ok: onPath(QEMU),
        why: `${QEMU} is not on PATH (Debian: apt-get install qemu-system-misc)`,
        needed: 'The kernel is compared against QEMU',
        allowVar: 'SPLITVISOR_ALLOW_NO_QEMU',
      },
      skip,
    );
}

/** Boots the kernel and waits until the machine is gone: its kernel output and exit code. */
async function runToEnd(machine: Machine, bootargs: string, engine?: 'interp' | 'translate'): Promise<{ out: string; code: number | null; all: string }> {
  const c = startKernel(machine, `kernel-${++n}`, bootargs, { env, vmFile, engine });
  const code = await within(c, RUN_MS);
  return { out: kernelOutput(c.out), code, all: c.out };
}

/** The exit status, or a failure with the console's tail when the machine outlives `ms`. */
async function within(c: ConsoleProcess, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      c.kill();
      reject(new Error(`still running after ${ms} ms; console tail:\n${c.out.slice(-1500)}`));
    }, ms);
  });
  try {
    return await Promise.race([c.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('guests/kernel: the lab (emulate, hw, trap and pv) and QEMU agree', () => {
  it(
    'run=all: every self-test passes and every benchmark reports, the same lines on both, exit 0',
    async ({ skip }) => {
      requireAll('lab', skip);
      requireAll('qemu', skip);
      const bootargs = 'run=all iters=4';
      const [lab, hw, trap, pv, qemu] = await Promise.all(MACHINES.map((m) => runToEnd(m, bootargs)));
      for (const [m, r] of [
        ['lab', lab],
        ['hw', hw],
        ['trap', trap],
        ['pv', pv],
        ['qemu', qemu],
      ] as const) {
        // Only in mode: pv does the kernel find the pv extension and take its pv-ops.
        const ops = m === 'pv' ? 'pv' : 'native';
        expect(r.out, `${m}: no kernel banner in\n${r.all.slice(-2000)}`).toMatch(
          new RegExp(`^splitvisor-kernel: hart 0, 128 MiB, 1 virtio devices, sstc (yes|no), pv-ops ${ops}\n`),
        );
        for (const s of SELFTESTS) expect(r.out, `${m}: selftest ${s}`).toContain(`selftest ${s}: ok\n`);
        expect(r.out).toContain(`selftest: ${SELFTESTS.length} passed, 0 failed\n`);
        for (const b of KERNEL_BENCHES) expect(r.out, `${m}: bench ${b}`).toMatch(new RegExp(`^bench ${b}: 4 iters, \\d+ ns/op$`, 'm'));
        // The bad accesses are reported by the kernel, which goes on.
        expect(r.out).toMatch(/^kernel: pid \d+ \(init\) killed: load page fault at 0x80200000, pc 0x[0-9a-f]+$/m);
        expect(r.out.endsWith('kernel: done\n'), `${m} ends with kernel: done`).toBe(true);
        expect(r.code, `${m} exit status`).toBe(0);
      }
      expect(normaliseKernelOutput(lab.out)).toBe(normaliseKernelOutput(qemu.out));
      // In hw the kernel runs in VS-mode with the cpu's monitor as its SBI: the same lines.
      expect(normaliseKernelOutput(hw.out)).toBe(normaliseKernelOutput(qemu.out));
      // In trap it runs in real U-mode, every privileged instruction emulated: the same lines.
      expect(normaliseKernelOutput(trap.out)).toBe(normaliseKernelOutput(qemu.out));
      // In pv it runs in real U-mode too, with hypercalls and its own tables: the same lines.
      expect(normaliseKernelOutput(pv.out)).toBe(normaliseKernelOutput(qemu.out));
      // Both harts have Sstc and both device trees say so: the kernel's timer is stimecmp.
      expect(lab.out).toMatch(/sstc yes, pv-ops native\n/);
    },
    RUN_MS + 30_000,
  );
});

// The lab's default engine is the translator; the interpreter, its reference, in every mode.
describe('guests/kernel with cpu: { engine: interp }', () => {
  it(
    'in every mode (emulate, hw, trap, pv): every self-test passes, the same lines as QEMU',
    async ({ skip }) => {
      requireAll('lab', skip);
      requireAll('qemu', skip);
      const bootargs = 'run=selftest';
      const modes: Machine[] = ['lab', 'hw', 'trap', 'pv'];
      const [qemu, ...labs] = await Promise.all([runToEnd('qemu', bootargs), ...modes.map((m) => runToEnd(m, bootargs, 'interp'))]);
      expect(qemu.out).toContain(`selftest: ${SELFTESTS.length} passed, 0 failed\n`);
      labs.forEach((r, i) => {
        expect(normaliseKernelOutput(r.out), `${modes[i]} with the interpreter:\n${r.all.slice(-2000)}`).toBe(normaliseKernelOutput(qemu.out));
        expect(r.code, `${modes[i]} exit status`).toBe(0);
      });
    },
    RUN_MS + 30_000,
  );
});

describe.each(MACHINES)('guests/kernel on %s', (machine) => {
  it(
    'sync: each benchmark waits for a byte before it runs and after it reports',
    async ({ skip }) => {
      requireAll(machine, skip);
      const c = startKernel(machine, `kernel-sync-${++n}`, 'run=bench:null_syscall,trap iters=3 sync', { env, vmFile });
      try {
        for (const b of ['null_syscall', 'trap']) {
          const from = c.out.length;
          await c.waitFor(new RegExp(`bench ${b}: ready\\n`), RUN_MS, from);
          // Held until a byte comes: the result is not there before it.
          expect(c.out.slice(from)).not.toMatch(new RegExp(`bench ${b}: 3 iters`));
          c.type('g');
          const after = await c.waitFor(new RegExp(`bench ${b}: done\\n`), RUN_MS, from);
          expect(after).toMatch(new RegExp(`bench ${b}: ready\\nbench ${b}: 3 iters, \\d+ ns/op\\nbench ${b}: done\\n$`));
          expect(c.out).not.toContain('kernel: done');
          c.type('g');
        }
        expect(await within(c, RUN_MS)).toBe(0);
        expect(kernelOutput(c.out).endsWith('bench trap: done\nkernel: done\n')).toBe(true);
      } finally {
        c.kill();
      }
    },
    2 * RUN_MS,
  );

  it(
    'panic-test: `kernel panic: <message>`, exit 2',
    async ({ skip }) => {
      requireAll(machine, skip);
      const r = await runToEnd(machine, 'panic-test');
      expect(r.out).toMatch(/^splitvisor-kernel: .*\nkernel panic: panic-test: a deliberate panic after boot\n$/);
      expect(r.code).toBe(2);
    },
    RUN_MS + 10_000,
  );

  it(
    'bench-fail-test: the benchmark says FAILED and why, the run exits 1',
    async ({ skip }) => {
      requireAll(machine, skip);
      const r = await runToEnd(machine, 'run=bench:null_syscall,trap iters=3 bench-fail-test');
      expect(r.out).toMatch(/^bench null_syscall: FAILED getpid\(\) gave 1, expected 2 \(bench-fail-test\)$/m);
      expect(r.out).toMatch(/^bench trap: 3 iters, \d+ ns\/op$/m); // the others still run
      expect(r.out.endsWith('kernel: init exited with status 1\n')).toBe(true);
      expect(r.code).toBe(1);
    },
    RUN_MS + 10_000,
  );

  it(
    'hang-test watchdog=2: a process that spins for ever, preempted; the watchdog ends the run, exit 3',
    async ({ skip }) => {
      requireAll(machine, skip);
      const r = await runToEnd(machine, 'hang-test watchdog=2');
      expect(r.out).toContain('hang-test: pid 2 spins for ever; init still runs beside it\n');
      expect(r.out.endsWith('kernel panic: watchdog: the run did not finish within 2 s\n')).toBe(true);
      expect(r.code).toBe(3);
    },
    RUN_MS + 10_000,
  );
});

describe('examples/kernel.yaml', () => {
  it(
    'boots as its comment says (the disk made with truncate -s 4M): self-tests pass, kernel: done, exit 0',
    async ({ skip }) => {
      requireFirmware(skip);
      const disk = join(REPO_ROOT, '.cache/examples/kernel-disk.img');
      if (!existsSync(disk)) {
        mkdirSync(join(REPO_ROOT, '.cache/examples'), { recursive: true });
        writeFileSync(disk, '');
        truncateSync(disk, 4 * 1024 * 1024);
      }
      const r = await runCli(['run', 'examples/kernel.yaml'], { env, timeoutMs: RUN_MS });
      const out = kernelOutput(r.stdout);
      expect(out, r.stdout.slice(-2000)).toContain('selftest: 10 passed, 0 failed\n');
      expect(out).toMatch(/^bench blk_flush: 20 iters, \d+ ns\/op$/m);
      expect(out.endsWith('kernel: done\n')).toBe(true);
      expect(r.code).toBe(0);
    },
    RUN_MS + 10_000,
  );
});
