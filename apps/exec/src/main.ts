// `splitvisor exec <elf|bin>`: the virt machine in one process, no services (machine.ts:
// the same hart and device models the lab runs). The tool for ISA tests and CPU
// benchmarks. The exit status is the guest's code.

import { readFileSync, writeSync } from 'node:fs';
import { isElf, parseElf } from '@splitvisor/elf';
import { DEFAULT_ENGINE, DRAM_BASE } from '@splitvisor/platform';
import { DEFAULT_MAX_BLOCKS, ENGINES, fitsWasm, GuestRam, Htif, newWasmMemory, type Engine } from '@splitvisor/riscv';
import { ExecMachine, ICOUNT_INSNS_PER_TICK, type ClockMode, type ExecResult } from './machine.js';

export const EXEC_USAGE = `usage: splitvisor exec <elf|bin> [options]

  Runs a RISC-V program on one hart of QEMU's virt machine: the boot ROM enters it in
  M-mode at its ELF entry (a flat .bin is loaded at 0x${DRAM_BASE.toString(16)} and entered there) with
  a0 = 0 (hartid), a1 = the DTB or 0. RAM at 0x${DRAM_BASE.toString(16)}, the ns16550a UART at 0x10000000
  (output to stdout), sifive_test at 0x100000, goldfish RTC, CLINT, PLIC, empty virtio-mmio
  slots, and HTIF when the program has tohost/fromhost symbols.

  --max-insns N     stop after N instructions (exit status 124)
  --clock icount    time advances with instructions (${ICOUNT_INSNS_PER_TICK} per 10 MHz tick): replayable
  --clock host      time is the host's monotonic clock at 10 MHz (default)
  --memory SIZE     RAM size, MiB or with a K/M/G suffix (default 128M)
  --load FILE@ADDR  also copy FILE's bytes to RAM at ADDR (e.g. a payload at 0x80200000)
  --dtb FILE        put a device tree blob where QEMU virt does (top of RAM, 2 MiB
                    aligned) and pass its address in a1
  --h               give the hart the H extension (HS/VS/VU, two-stage translation), as
                    QEMU's -cpu rv64,h=true; without it the hart is RV64GC with M/S/U
  --engine E        translate (default: hot blocks compiled to WebAssembly, the
                    interpreter for the rest) or interp (the interpreter, the reference)
  --codegen G       with --engine translate: wasm (default; RAM in a WebAssembly memory)
                    or js (every block JavaScript, RAM a plain buffer)
  --max-blocks N    with --engine translate: compiled blocks the code cache keeps before it
                    is dropped whole (default ${DEFAULT_MAX_BLOCKS})
  --stats           print instructions, seconds and MIPS on stderr (and, with
                    --engine translate, the code cache's figures)
  --trace           print every instruction (privilege, pc, bits) on stderr

  Exit status: the guest's code (sifive_test: 0 for pass, the fail code otherwise; HTIF:
  the exit code), 124 at --max-insns, 125 when the hart cannot go on, 2 for usage errors.
`;

export const EXIT_MAX_INSNS = 124;
export const EXIT_STUCK = 125;
export const EXIT_USAGE = 2;

interface ExecArgs {
  file: string;
  loads: { file: string; addr: number }[];
  dtb: string | null;
  maxInsns: number;
  clock: ClockMode;
  memoryBytes: number;
  stats: boolean;
  trace: boolean;
  h: boolean;
  engine: Engine;
  maxBlocks: number;
  codegen: 'wasm' | 'js';
}

class UsageError extends Error {}

function parseSize(v: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(v);
  if (m === null) throw new UsageError(`bad --memory "${v}"`);
  const unit = { '': 2 ** 20, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  const bytes = Number(m[1]) * unit;
  if (bytes < 4096 || bytes % 4096 !== 0 || bytes > 2 ** 32) throw new UsageError(`--memory ${v}: a multiple of 4 KiB up to 4 GiB`);
  return bytes;
}

function parseArgs(argv: string[]): ExecArgs {
  const args: ExecArgs = {
    file: '',
    loads: [],
    dtb: null,
    maxInsns: Number.POSITIVE_INFINITY,
    clock: 'host',
    memoryBytes: 128 * 2 ** 20,
    stats: false,
    trace: false,
    h: false,
    engine: DEFAULT_ENGINE,
    maxBlocks: DEFAULT_MAX_BLOCKS,
    codegen: 'wasm',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--max-insns') {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError('--max-insns needs a positive integer');
      args.maxInsns = n;
    } else if (a === '--clock') {
      const c = value();
      if (c !== 'icount' && c !== 'host') throw new UsageError(`--clock ${c}: icount or host`);
      args.clock = c;
    } else if (a === '--memory') {
      args.memoryBytes = parseSize(value());
    } else if (a === '--load') {
      const v = value();
      const at = v.lastIndexOf('@');
      const addr = at < 0 ? Number.NaN : Number(v.slice(at + 1));
      if (!Number.isSafeInteger(addr) || addr < 0) throw new UsageError(`--load ${v}: FILE@ADDR with a numeric address`);
      args.loads.push({ file: v.slice(0, at), addr });
    } else if (a === '--dtb') {
      args.dtb = value();
    } else if (a === '--engine') {
      const e = value();
      if (!(ENGINES as readonly string[]).includes(e)) throw new UsageError(`--engine ${e}: one of ${ENGINES.join(', ')}`);
      args.engine = e as Engine;
    } else if (a === '--max-blocks') {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError('--max-blocks needs a positive integer');
      args.maxBlocks = n;
    } else if (a === '--codegen') {
      const g = value();
      if (g !== 'wasm' && g !== 'js') throw new UsageError(`--codegen ${g}: wasm or js`);
      args.codegen = g;
    } else if (a === '--stats') {
      args.stats = true;
    } else if (a === '--trace') {
      args.trace = true;
    } else if (a === '--h') {
      args.h = true;
    } else if (a === '--help' || a === '-h') {
      throw new UsageError('');
    } else if (a.startsWith('-')) {
      throw new UsageError(`unknown option ${a}`);
    } else if (args.file === '') {
      args.file = a;
    } else {
      throw new UsageError(`one program only (got ${args.file} and ${a})`);
    }
  }
  if (args.file === '') throw new UsageError('missing <elf|bin>');
  return args;
}

/** Runs `splitvisor exec` with its arguments; resolves to the process exit status. */
export async function runExec(argv: string[]): Promise<number> {
  let args: ExecArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message !== '') process.stderr.write(`splitvisor exec: ${e.message}\n`);
    process.stderr.write(EXEC_USAGE);
    return e.message === '' ? 0 : EXIT_USAGE;
  }

  let image: Uint8Array;
  try {
    image = readFileSync(args.file);
  } catch (e) {
    process.stderr.write(`splitvisor exec: cannot read ${args.file}: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }

  // The translator emits WebAssembly for blocks whose RAM is in a WebAssembly memory.
  const wasm = args.engine === 'translate' && args.codegen === 'wasm' && fitsWasm(args.memoryBytes);
  const ram = new GuestRam(DRAM_BASE, args.memoryBytes, wasm ? newWasmMemory(args.memoryBytes) : undefined);
  let machine: ExecMachine;
  try {
    let entry: number = DRAM_BASE;
    let htif: { tohost: number; fromhost: number | undefined } | null = null;
    if (isElf(image)) {
      const elf = parseElf(image);
      for (const seg of elf.segments) {
        if (!ram.contains(seg.paddr, seg.memsz)) {
          throw new Error(`segment at 0x${seg.paddr.toString(16)} (+0x${seg.memsz.toString(16)}) is outside RAM`);
        }
        ram.writeBytes(seg.paddr, seg.data);
        if (seg.memsz > seg.data.length) ram.writeBytes(seg.paddr + seg.data.length, new Uint8Array(seg.memsz - seg.data.length));
      }
      entry = elf.entry;
      const tohost = elf.symbols.get('tohost');
      if (tohost !== undefined) htif = { tohost, fromhost: elf.symbols.get('fromhost') };
    } else {
      if (image.length > ram.size) throw new Error(`${image.length} bytes do not fit in RAM`);
      ram.writeBytes(DRAM_BASE, image);
    }
    for (const l of args.loads) {
      const bytes = readFileSync(l.file);
      if (!ram.contains(l.addr, bytes.length)) throw new Error(`--load ${l.file}: ${bytes.length} bytes at 0x${l.addr.toString(16)} are not all RAM`);
      ram.writeBytes(l.addr, bytes);
    }
    let dtbAddr = 0;
    if (args.dtb !== null) {
      // QEMU virt: the FDT goes at the top of RAM (below 3 GiB), 2 MiB aligned.
      const fdt = readFileSync(args.dtb);
      const top = Math.min(ram.base + ram.size, 3 * 2 ** 30);
      dtbAddr = Math.floor((top - fdt.length) / (2 * 2 ** 20)) * 2 * 2 ** 20;
      if (!ram.contains(dtbAddr, fdt.length)) throw new Error(`--dtb ${args.dtb}: does not fit in RAM`);
      ram.writeBytes(dtbAddr, fdt);
    }
    machine = new ExecMachine({
      ram,
      entry,
      dtbAddr,
      clock: args.clock,
      h: args.h,
      engine: args.engine,
      maxBlocks: args.maxBlocks,
      output: (b) => writeAll(1, b),
    });
    if (htif !== null) {
      const m = machine;
      new Htif(m.hart, ram, { ...htif, onExit: (code) => m.finish(code, 'htif'), onOutput: (b) => m.emit(b) });
    }
  } catch (e) {
    process.stderr.write(`splitvisor exec: ${args.file}: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  const { hart } = machine;

  const trace = args.trace
    ? () => {
        const pc = hart.getPc();
        const bits = machine.peekWord(pc);
        const inst = bits === null ? '?' : '0x' + bits.toString(16).padStart(8, '0');
        process.stderr.write(`core 0: ${'USHM'[hart.getPrivilege()]} 0x${BigInt.asUintN(64, BigInt(pc)).toString(16).padStart(16, '0')} (${inst})\n`);
      }
    : undefined;

  const t0 = process.hrtime.bigint();
  const result: ExecResult = machine.run(args.maxInsns, trace);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

  if (args.stats) {
    const st = hart.stats;
    const mips = st.instret / seconds / 1e6;
    process.stderr.write(
      `splitvisor exec: ${st.instret} instructions retired in ${seconds.toFixed(3)} s = ${mips.toFixed(1)} MIPS ` +
        `(${st.traps} traps, ${st.walks} page walks)\n`,
    );
    const tc = hart.translationStats();
    if (tc !== null) {
      process.stderr.write(
        `splitvisor exec: code cache: ${tc.compiled} blocks compiled (${tc.compiledWasm} to WebAssembly) in ${(tc.compileMs / 1000).toFixed(3)} s ` +
          `(${((tc.compileMs / 1000 / seconds) * 100).toFixed(1)}% of the run), ${tc.live} live (${tc.liveInsns} instructions, ` +
          `${(tc.liveSourceBytes / 1024).toFixed(0)} KiB of code), ${tc.evictions} evictions, ${tc.invalidations} page invalidations, ` +
          `${tc.hostSteps} CSR accesses as host steps\n`,
      );
    }
  }
  switch (result.kind) {
    case 'exit':
      if (result.how === 'reset') process.stderr.write('splitvisor exec: the guest asked for a reset; stopping\n');
      return result.code & 0xff;
    case 'max-insns':
      process.stderr.write(`splitvisor exec: stopped after ${hart.stats.cycles} instructions (--max-insns)\n`);
      return EXIT_MAX_INSNS;
    case 'fatal':
      process.stderr.write(`splitvisor exec: ${result.reason}\n`);
      return EXIT_STUCK;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}
