// The committed guest images on QEMU's own `virt` machine, the reference, and on
// Splitvisor (the four services and the CLI as processes), with the same input.
//
// Each image boots under `qemu-system-riscv64 -M virt -bios none -nographic -kernel <image>`
// and must print what guest-expectations.ts says and exit with the status its sifive-test
// poweroff asks for: a sanity check of the reference. What matters is the parity: for every
// guest in guests/ (PARITY_CASES), Splitvisor's console is QEMU's console of the same run,
// byte for byte after the normalisation the case documents, and both end the same way.
// guests/memcheck says what it has to say in RAM: its report is read on both and compared.
// The runner (QEMU, Splitvisor, the comparison) is qemu-runner.ts.
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestLab, REPO_ROOT, type TestLab } from '@splitvisor/testing';
import {
  GUEST_CASES,
  MEMCHECK_STATUS_ADDR,
  MEMCHECK_STATUS_BYTES,
  PARITY_CASES,
  VIRTIO_HOSTILE_CONSOLE,
  VIRTIO_HOSTILE_QEMU_ARGS,
  VIRTIO_HOSTILE_QEMU_CONSOLE,
  VIRTIO_HOSTILE_QEMU_DIFFERENCES,
  VIRTIO_IRQ_CONSOLE,
  VIRTIO_IRQ_QEMU_ARGS,
  memcheckReport,
  type GuestCase,
  type MemcheckReport,
} from './guest-expectations.js';
import { configDir, labEnv, runCli } from './cli-runner.js';
import { ConsoleProcess } from './console-process.js';
import { GuestRam } from './guest-ram.js';
import { patternBytes } from './mmu-lab.js';
import { spawnQemu } from './qemu-process.js';
import { DEFAULT_TIMEOUT_MS, QEMU, QEMU_TIMEOUT_MS, elfOf, expectParity, requireQemu, runQemu } from './qemu-runner.js';

async function expectRun(kernel: string, c: GuestCase, extraArgs: readonly string[] = []): Promise<void> {
  const run = await runQemu(kernel, c.input, QEMU_TIMEOUT_MS, extraArgs);
  const context = `${QEMU} -kernel ${kernel} ${extraArgs.join(' ')}, input ${JSON.stringify(c.input)}; stderr: ${JSON.stringify(run.stderr)}`;
  expect(run.timedOut, `${context}: still running after ${QEMU_TIMEOUT_MS} ms; console so far ${JSON.stringify(run.console)}`).toBe(false);
  expect(run.console, context).toBe(c.console);
  expect({ exitCode: run.exitCode, signal: run.signal }, context).toEqual({ exitCode: c.exitCode, signal: null });
}

describe('guest images on QEMU virt (the reference)', () => {
  for (const c of GUEST_CASES) {
    it(`${c.name}: ${c.elf}`, async ({ skip }) => {
      requireQemu(skip);
      await expectRun(c.elf, c);
    });
    it(`${c.name}: ${c.bin} (flat, loaded at 0x80000000)`, async ({ skip }) => {
      requireQemu(skip);
      await expectRun(c.bin, c);
    });
  }

  it('a guest that never powers off is killed at the timeout', async ({ skip }) => {
    requireQemu(skip);
    // echo with no 'q' waits for input forever: the harness must not hang with it.
    const run = await runQemu('guests/echo/echo.elf', 'abc', 1_500);
    expect(run.timedOut).toBe(true);
    expect(run.signal).toBe('SIGKILL');
    expect(run.console).toBe('echo ready\r\nabc');
  });
});

// guests/virtio-hostile needs a device: virtio-rng in the slot Splitvisor's `rng: true` uses.
// QEMU 7.2 answers two of its cases differently (guest-expectations.ts says which and why);
// every other byte must match, and the differing lines must be what QEMU really prints.
const VIRTIO_HOSTILE: GuestCase = {
  name: 'virtio-hostile',
  elf: 'guests/virtio-hostile/virtio-hostile.elf',
  bin: 'guests/virtio-hostile/virtio-hostile.bin',
  input: '',
  console: VIRTIO_HOSTILE_QEMU_CONSOLE,
  exitCode: 0,
};

describe('guests/virtio-hostile on QEMU virt with -device virtio-rng-device', () => {
  it('the documented differences are whole lines, each really different, and the rest is ours byte for byte', () => {
    expect(VIRTIO_HOSTILE_QEMU_DIFFERENCES.length).toBeGreaterThan(0);
    const ours = VIRTIO_HOSTILE_CONSOLE.split('\r\n');
    const qemu = VIRTIO_HOSTILE_QEMU_CONSOLE.split('\r\n');
    expect(qemu.length).toBe(ours.length);
    const differing = ours.flatMap((l, i) => (l === qemu[i] ? [] : [`${l}\r\n`]));
    expect(differing).toEqual(VIRTIO_HOSTILE_QEMU_DIFFERENCES.map((d) => d.ours));
    for (const d of VIRTIO_HOSTILE_QEMU_DIFFERENCES) expect(d.why.length, d.ours).toBeGreaterThan(40);
  });
  for (const kernel of [VIRTIO_HOSTILE.elf, VIRTIO_HOSTILE.bin]) {
    it(`${kernel}: QEMU's console and exit 0`, async ({ skip }) => {
      requireQemu(skip);
      await expectRun(kernel, VIRTIO_HOSTILE, VIRTIO_HOSTILE_QEMU_ARGS);
    });
  }
});

// guests/virtio-irq: the same virtio-rng, its completions taken as PLIC interrupts. QEMU
// prints exactly what Splitvisor must: no documented differences.
const VIRTIO_IRQ: GuestCase = {
  name: 'virtio-irq',
  elf: 'guests/virtio-irq/virtio-irq.elf',
  bin: 'guests/virtio-irq/virtio-irq.bin',
  input: '',
  console: VIRTIO_IRQ_CONSOLE,
  exitCode: 0,
};

describe('guests/virtio-irq on QEMU virt with -device virtio-rng-device', () => {
  for (const kernel of [VIRTIO_IRQ.elf, VIRTIO_IRQ.bin]) {
    it(`${kernel}: three used-buffer interrupts, QEMU's console and exit 0`, async ({ skip }) => {
      requireQemu(skip);
      await expectRun(kernel, VIRTIO_IRQ, VIRTIO_IRQ_QEMU_ARGS);
    });
  }
});

// ---- Splitvisor against QEMU: the same image, the same input, on each machine in turn.

describe('Splitvisor prints what QEMU prints, for every guest in guests/', () => {
  let t: TestLab;
  let env: Record<string, string>;
  let ram: GuestRam;
  const { vmFile } = configDir('sv-parity-');

  beforeAll(async () => {
    t = await startTestLab();
    env = labEnv(t);
    ram = new GuestRam(t.addresses.mmu, 'parity-test');
  }, 60_000);
  afterAll(async () => {
    ram?.close();
    await t?.teardown();
  });

  const vmConfig = (name: string, guest: string, extra = ''): string =>
    vmFile(name, `name: ${name}\nmemory: 64M\nimage: ${join(REPO_ROOT, elfOf(guest))}\n${extra}`);

  PARITY_CASES.forEach((c, i) => {
    const timeoutMs = c.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const how = c.normalise ? ' byte for byte after its documented normalisation' : ' byte for byte';
    it(
      `${c.name}: Splitvisor's console is QEMU's${how}, and it ends as QEMU's does`,
      async ({ skip }) => {
        requireQemu(skip);
        await expectParity(c, { env, vmFile, name: `parity-${i}-${c.guest}` });
      },
      2 * timeoutMs + 30_000,
    );
  });

  /** memcheck's STATUS on QEMU, read with the monitor's `xp` once it finished a pass. */
  async function memcheckOnQemu(): Promise<MemcheckReport> {
    const args = ['-M', 'virt', '-bios', 'none', '-display', 'none', '-serial', 'null', '-monitor', 'stdio', '-kernel', join(REPO_ROOT, elfOf('memcheck'))];
    const m = new ConsoleProcess(spawnQemu(args));
    try {
      await m.waitFor(/\(qemu\) /, QEMU_TIMEOUT_MS);
      const words = MEMCHECK_STATUS_BYTES / 8;
      const last = (MEMCHECK_STATUS_ADDR + MEMCHECK_STATUS_BYTES - 16).toString(16).padStart(16, '0');
      const end = Date.now() + QEMU_TIMEOUT_MS;
      for (;;) {
        const from = m.out.length;
        m.type(`xp /${words}gx 0x${MEMCHECK_STATUS_ADDR.toString(16)}\n`);
        const text = await m.waitFor(new RegExp(`${last}: 0x[0-9a-f]{16} 0x[0-9a-f]{16}`), QEMU_TIMEOUT_MS, from);
        const status = Buffer.alloc(MEMCHECK_STATUS_BYTES);
        for (const [, addr, a, b] of text.matchAll(/([0-9a-f]{16}): (0x[0-9a-f]{16}) (0x[0-9a-f]{16})/g)) {
          const off = parseInt(addr!, 16) - MEMCHECK_STATUS_ADDR;
          status.writeBigUInt64LE(BigInt(a!), off);
          status.writeBigUInt64LE(BigInt(b!), off + 8);
        }
        const report = memcheckReport(status);
        if (report.passes > 0n || Date.now() > end) return report;
        await sleep(200);
      }
    } finally {
      m.type('quit\n');
      await Promise.race([m.exited, sleep(5_000)]);
      m.kill();
    }
  }

  /** memcheck's STATUS on Splitvisor, read by DMA through mmu once it finished a pass. */
  async function memcheckOnSplitvisor(): Promise<MemcheckReport> {
    const name = 'parity-memcheck';
    const create = await runCli(['create', vmConfig(name, 'memcheck')], { env });
    expect(create.code, `create ${name}: ${create.stderr}`).toBe(0);
    try {
      expect((await runCli(['start', name], { env })).code, `start ${name}`).toBe(0);
      const end = Date.now() + DEFAULT_TIMEOUT_MS;
      for (;;) {
        const report = memcheckReport(await ram.read(name, MEMCHECK_STATUS_ADDR, MEMCHECK_STATUS_BYTES));
        if (report.passes > 0n || Date.now() > end) return report;
        await sleep(200);
      }
    } finally {
      await runCli(['destroy', name], { env });
    }
  }

  it("memcheck (no console): the report in its RAM is QEMU's, but for the words that count with the host's speed", async ({ skip }) => {
    requireQemu(skip);
    const qemu = await memcheckOnQemu();
    const ours = await memcheckOnSplitvisor();
    // Passes completed and the first-touch time depend on the machine's speed: at least one pass each.
    expect(ours.passes, 'passes over REGION_A on Splitvisor').toBeGreaterThan(0n);
    expect(qemu.passes, 'passes over REGION_A on QEMU').toBeGreaterThan(0n);
    const fixed = (r: MemcheckReport) => ({ phase: r.phase, wrongWords: r.wrongWords, checksum: r.checksum });
    expect(fixed(ours), "Splitvisor's memcheck report against QEMU's").toEqual(fixed(qemu));
    // The reference: the pattern written and being checked, nothing wrong, its known sum.
    const pattern = patternBytes();
    let sum = 0n;
    for (let o = 0; o < pattern.length; o += 8) sum = (sum + pattern.readBigUInt64LE(o)) & 0xffff_ffff_ffff_ffffn;
    expect(fixed(qemu)).toEqual({ phase: 2n, wrongWords: 0n, checksum: sum });
  }, 90_000);
});
