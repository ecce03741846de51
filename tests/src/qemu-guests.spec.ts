// The committed guest images, checked against the reference: QEMU's own `virt` machine.
//
// Each image in guests/ boots under `qemu-system-riscv64 -M virt -bios none -nographic
// -kernel <image>` and must print exactly what guest-expectations.ts says and exit with
// the status its sifive-test poweroff asks for. The Splitvisor tests hold the same images
// to the same strings, so a difference between the two is Splitvisor's, not the guest's.
//
// QEMU is required: without qemu-system-riscv64 (Debian `qemu-system-misc`) these tests
// fail, unless SPLITVISOR_ALLOW_NO_QEMU=1, which turns that into a skip with a reason.
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GUEST_CASES,
  GUEST_ENTRY,
  VIRTIO_HOSTILE_CONSOLE,
  VIRTIO_HOSTILE_QEMU_ARGS,
  VIRTIO_HOSTILE_QEMU_CONSOLE,
  VIRTIO_HOSTILE_QEMU_DIFFERENCES,
  VIRTIO_IRQ_CONSOLE,
  VIRTIO_IRQ_QEMU_ARGS,
  type GuestCase,
} from './guest-expectations.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const QEMU = 'qemu-system-riscv64';
const GCC = 'riscv64-unknown-elf-gcc';
const QEMU_TIMEOUT_MS = 20_000;

/** True when `cmd --version` runs, i.e. the command is on PATH. */
function onPath(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

const haveQemu = onPath(QEMU);
const allowNoQemu = process.env['SPLITVISOR_ALLOW_NO_QEMU'] === '1';

type SkipFn = (note?: string) => never;

/** Fails (or, when allowed, skips with the reason printed) if QEMU is not installed. */
function requireQemu(skip: SkipFn): void {
  if (haveQemu) return;
  const why = `${QEMU} is not on PATH (Debian: apt-get install qemu-system-misc)`;
  if (allowNoQemu) {
    console.warn(`SKIPPED: ${why}; SPLITVISOR_ALLOW_NO_QEMU=1 allows that.`);
    skip(`${why} (SPLITVISOR_ALLOW_NO_QEMU=1)`);
  }
  throw new Error(
    `${why}. These tests compare the guest images against QEMU and cannot run without it; ` +
      'install it, or set SPLITVISOR_ALLOW_NO_QEMU=1 to skip them.',
  );
}

interface QemuRun {
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
function runQemu(kernel: string, input: string, timeoutMs = QEMU_TIMEOUT_MS, extraArgs: readonly string[] = []): Promise<QemuRun> {
  return new Promise((resolve, reject) => {
    // -nographic puts the serial port (multiplexed with the monitor, escape Ctrl-A) on
    // stdin/stdout; inputs here never contain Ctrl-A. Bytes written before the guest
    // reads them wait in QEMU: the 16550 model takes a byte only when it has room.
    const child = spawn(QEMU, ['-M', 'virt', '-bios', 'none', '-nographic', '-kernel', join(REPO_ROOT, kernel), ...extraArgs], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
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
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        // latin1: one char per byte, so the comparison is byte for byte.
        console: Buffer.concat(out).toString('latin1'),
        exitCode: code,
        signal,
        timedOut,
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.end(Buffer.from(input, 'latin1'));
  });
}

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

// ELF64 little-endian: just enough of the format to check the committed images.
interface Elf {
  readonly entry: bigint;
  readonly machine: number;
  readonly loads: readonly { paddr: bigint; bytes: Buffer; memsz: bigint }[];
}

function parseElf(file: Buffer): Elf {
  expect(file.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  expect(file[4], 'ELFCLASS64').toBe(2);
  expect(file[5], 'little-endian').toBe(1);
  const machine = file.readUInt16LE(18);
  const entry = file.readBigUInt64LE(24);
  const phoff = Number(file.readBigUInt64LE(32));
  const phentsize = file.readUInt16LE(54);
  const phnum = file.readUInt16LE(56);
  const loads = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (file.readUInt32LE(ph) !== 1) continue; // PT_LOAD only
    const offset = Number(file.readBigUInt64LE(ph + 8));
    const paddr = file.readBigUInt64LE(ph + 24);
    const filesz = Number(file.readBigUInt64LE(ph + 32));
    const memsz = file.readBigUInt64LE(ph + 40);
    loads.push({ paddr, bytes: file.subarray(offset, offset + filesz), memsz });
  }
  return { entry, machine, loads };
}

const IMAGES = [...new Set([...GUEST_CASES, VIRTIO_HOSTILE, VIRTIO_IRQ].map((c) => c.elf))].map((elf) => ({
  elf,
  bin: elf.replace(/\.elf$/, '.bin'),
  dir: elf.slice(0, elf.lastIndexOf('/')),
  name: elf.slice(elf.lastIndexOf('/') + 1, -'.elf'.length),
}));

describe('committed guest images', () => {
  for (const img of IMAGES) {
    it(`${img.elf}: RISC-V ELF64 entered at 0x80000000; ${img.bin} is its loaded bytes`, () => {
      const elf = parseElf(readFileSync(join(REPO_ROOT, img.elf)));
      expect(elf.machine, 'e_machine EM_RISCV').toBe(0xf3);
      expect(elf.entry).toBe(GUEST_ENTRY);
      expect(elf.loads.length).toBeGreaterThan(0);
      // The flat image is the PT_LOAD segments laid out from the lowest one (objcopy -O binary).
      const base = elf.loads.reduce((m, l) => (l.paddr < m ? l.paddr : m), elf.loads[0]!.paddr);
      expect(base).toBe(GUEST_ENTRY);
      const end = elf.loads.reduce((m, l) => {
        const e = l.paddr + BigInt(l.bytes.length);
        return e > m ? e : m;
      }, base);
      const flat = Buffer.alloc(Number(end - base));
      for (const l of elf.loads) l.bytes.copy(flat, Number(l.paddr - base));
      expect(readFileSync(join(REPO_ROOT, img.bin)).equals(flat), `${img.bin} differs from ${img.elf}`).toBe(true);
    });
  }

  // Not a requirement (the images are committed so the toolchain is optional), but when
  // the toolchain is here, an image that no longer matches its source is caught.
  for (const img of IMAGES) {
    it(`${img.dir}: the committed images are what its Makefile builds`, ({ skip }) => {
      if (!onPath(GCC) || !onPath('make')) {
        console.warn(`SKIPPED: ${GCC} or make not on PATH; cannot rebuild ${img.dir} to compare.`);
        skip(`${GCC} not on PATH (Debian: gcc-riscv64-unknown-elf)`);
      }
      // A copy of the guests/ layout: the shared rules, link script and includes one level up.
      const root = mkdtempSync(join(tmpdir(), `splitvisor-${img.name}-`));
      const tmp = join(root, img.name);
      try {
        mkdirSync(tmp);
        for (const f of ['common.mk', 'link.ld', 'console.inc', 'virtio.inc']) copyFileSync(join(REPO_ROOT, 'guests', f), join(root, f));
        for (const f of [`${img.name}.S`, 'Makefile']) {
          copyFileSync(join(REPO_ROOT, img.dir, f), join(tmp, f));
        }
        const make = spawnSync('make', ['-C', tmp], { encoding: 'utf8' });
        expect(make.status, `make in a copy of ${img.dir}: ${make.stdout}${make.stderr}`).toBe(0);
        for (const f of [img.elf, img.bin]) {
          const built = readFileSync(join(tmp, f.slice(f.lastIndexOf('/') + 1)));
          expect(built.equals(readFileSync(join(REPO_ROOT, f))), `${f} is stale: run make -C guests and commit`).toBe(true);
        }
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
