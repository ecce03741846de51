// The differential harness shared by the QEMU comparisons (diff-qemu.spec.ts, and the H
// extension's hypervisor/diff-qemu.spec.ts): assemble a program of testdata/diff, run it
// on `qemu-system-riscv64 -M virt -bios none` and on our hart over a UART that collects
// bytes and a finisher that stops it, compare the text line by line.

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { parseElf } from '@splitvisor/elf';
import { qemuSystem, tool } from '@splitvisor/testing';
import { Hart, type Engine } from './hart.js';
import { GuestRam, type PhysBus } from './memory.js';
import { newWasmMemory } from './wasm-memory.js';

export const DIR = fileURLToPath(new URL('../testdata/diff/', import.meta.url));
const CC = 'riscv64-unknown-elf-gcc';
const QEMU = 'qemu-system-riscv64';
export const TOOLS = [tool(CC, 'gcc-riscv64-unknown-elf'), qemuSystem()];
const UART = 0x1000_0000;
const FINISHER = 0x10_0000;
const DRAM = 0x8000_0000;

/** What the program needs of both machines: the H extension (assembled with the
 *  `_hh` placeholder of DESIGN.md, QEMU with `-cpu rv64,h=true`, our hart with h). */
export interface DiffOptions {
  h?: boolean;
  /** Our engine (default the interpreter); 'translate' compiles every block the first
   *  time it runs (hotEntries 1), so code that runs once is checked compiled too. */
  engine?: Engine;
  /** With 'translate': 'wasm' (default, RAM in a WebAssembly memory) or 'js'. */
  codegen?: 'js' | 'wasm';
}

/** Our three ways to run a program, each named for failure messages: the interpreter,
 *  and the translator emitting JavaScript and WebAssembly. */
export const OURS: readonly { name: string; opts: DiffOptions }[] = [
  { name: 'interp', opts: { engine: 'interp' } },
  { name: 'translate/js', opts: { engine: 'translate', codegen: 'js' } },
  { name: 'translate/wasm', opts: { engine: 'translate', codegen: 'wasm' } },
];

export function assemble(work: string, name: string, source?: string, opts: DiffOptions = {}): string {
  const src = source === undefined ? join(DIR, `${name}.S`) : join(work, `${name}.S`);
  if (source !== undefined) writeFileSync(src, source);
  const elf = join(work, `${name}.elf`);
  const r = spawnSync(
    CC,
    [
      opts.h ? '-march=rv64gc_hh' : '-march=rv64gc',
      '-mabi=lp64d',
      '-mcmodel=medany',
      '-nostdlib',
      '-nostartfiles',
      `-I${DIR}`,
      '-Wl,--build-id=none',
      '-Wl,--no-warn-rwx-segments',
      `-Wl,-T,${join(DIR, 'link.ld')}`,
      '-o',
      elf,
      src,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`${CC} failed on ${name}.S:\n${r.stderr}`);
  return elf;
}

export function runQemu(elf: string, opts: DiffOptions = {}): string {
  // QEMU drops console bytes into a pipe that is not drained fast enough: use a file.
  const file = `${elf}.qemu.txt`;
  const fd = openSync(file, 'w');
  const r = spawnSync(QEMU, ['-M', 'virt', ...(opts.h ? ['-cpu', 'rv64,h=true'] : []), '-bios', 'none', '-nographic', '-kernel', elf], {
    stdio: ['ignore', fd, 'pipe'],
    timeout: 60_000,
  });
  closeSync(fd);
  if (r.status !== 0) throw new Error(`${QEMU} exited with ${r.status}: ${r.stderr?.toString()}`);
  return readFileSync(file, 'latin1');
}

/** Our hart on the same image: RAM at DRAM, a UART that collects bytes (LSR says the
 *  transmitter is always empty), the finisher stops the hart. */
export function runOurs(elf: string, opts: DiffOptions = {}): string {
  const image = parseElf(new Uint8Array(readFileSync(elf)));
  const wasm = opts.engine === 'translate' && (opts.codegen ?? 'wasm') === 'wasm';
  const ram = new GuestRam(DRAM, 4 << 20, wasm ? newWasmMemory(4 << 20) : undefined);
  for (const seg of image.segments) ram.writeBytes(seg.paddr, seg.data);
  const out: number[] = [];
  let done = false;
  const hartRef: { h: Hart | null } = { h: null };
  const bus: PhysBus = {
    load(pa, _size, o) {
      o[0] = pa === UART + 5 ? 0x60 : 0;
      o[1] = 0;
      return (pa >= UART && pa < UART + 0x100) || (pa >= FINISHER && pa < FINISHER + 0x1000);
    },
    store(pa, _size, lo) {
      if (pa === UART) out.push(lo & 0xff);
      else if (pa === FINISHER) {
        done = true;
        hartRef.h?.stop();
      } else return pa > UART && pa < UART + 0x100;
      return true;
    },
  };
  const hart = new Hart({ hartId: 0, ram, bus, resetPc: image.entry, h: opts.h ?? false, engine: opts.engine ?? 'interp', hotEntries: 1, compileBatch: 1 });
  hartRef.h = hart;
  for (let i = 0; i < 100 && !done; i++) {
    const exit = hart.run(2_000_000);
    if (exit.kind === 'fatal') throw new Error(`our hart: ${exit.reason}`);
  }
  if (!done) {
    const text = Buffer.from(out).toString('latin1');
    throw new Error(`our hart did not power off (pc 0x${hart.getPc().toString(16)}); it printed:\n${text}`);
  }
  // The translator must have run the program, not left it all to the interpreter.
  if (opts.engine === 'translate') {
    const tc = hart.translationStats()!;
    expect(tc.compiled, 'blocks compiled').toBeGreaterThan(0);
    if (wasm) expect(tc.compiledWasm, 'blocks compiled to WebAssembly').toBeGreaterThan(0);
    else expect(tc.compiledWasm, 'blocks compiled to WebAssembly').toBe(0);
  }
  return Buffer.from(out).toString('latin1');
}

/** Compares line by line, naming the first difference with its context. */
export function expectSame(ours: string, qemu: string, label: (line: number) => string = (l) => `line ${l + 1}`): void {
  const a = ours.split('\n');
  const b = qemu.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      expect({ at: label(i), ours: a[i], qemu: b[i] }).toEqual({ at: label(i), ours: b[i], qemu: b[i] });
    }
  }
  expect(ours.length).toBeGreaterThan(0);
}
