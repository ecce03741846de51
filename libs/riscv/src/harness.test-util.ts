// Shared fixtures for the specs: a hart on RAM at the virt machine's DRAM base, a
// recording bus with plain-memory devices, and a handler that parks the hart in WFI so a
// test can look at the trap CSRs afterwards.

import { DRAM_BASE } from '@splitvisor/platform';
import { Hart, type Engine, type HartExit } from './hart.js';
import { GuestRam, type PhysBus } from './memory.js';
import { newWasmMemory } from './wasm-memory.js';
import { Csr } from './csr.js';
import * as e from './testing/encode.js';

export { e };
export const R = e.Reg;

/** QEMU virt DRAM base. */
export const DRAM: number = DRAM_BASE;
/** Where `machine()` puts the trap handler (a lone WFI) unless told otherwise. */
export const HANDLER = DRAM + 0x8000;
/** A scratch data page, away from code. */
export const DATA = DRAM + 0x10000;

export interface BusAccess {
  op: 'load' | 'store';
  pa: number;
  size: number;
  lo: number;
  hi: number;
}

/** A bus of byte-array devices; everything else faults. Records each access. */
export class TestBus implements PhysBus {
  readonly log: BusAccess[] = [];
  private readonly regions: { base: number; bytes: Uint8Array }[] = [];
  onLoad: ((pa: number, size: number) => void) | null = null;
  onStore: ((pa: number, size: number, lo: number, hi: number) => void) | null = null;

  map(base: number, size: number): Uint8Array {
    const bytes = new Uint8Array(size);
    this.regions.push({ base, bytes });
    return bytes;
  }

  private find(pa: number, size: number): { bytes: Uint8Array; off: number } | null {
    for (const r of this.regions) {
      const off = pa - r.base;
      if (off >= 0 && off + size <= r.bytes.length) return { bytes: r.bytes, off };
    }
    return null;
  }

  load(pa: number, size: 1 | 2 | 4 | 8, out: Int32Array): boolean {
    const hit = this.find(pa, size);
    if (hit === null) return false;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < size; i++) {
      const b = hit.bytes[hit.off + i]!;
      if (i < 4) lo |= b << (8 * i);
      else hi |= b << (8 * (i - 4));
    }
    out[0] = lo;
    out[1] = hi;
    this.log.push({ op: 'load', pa, size, lo, hi });
    this.onLoad?.(pa, size);
    return true;
  }

  store(pa: number, size: 1 | 2 | 4 | 8, lo: number, hi: number): boolean {
    const hit = this.find(pa, size);
    if (hit === null) return false;
    for (let i = 0; i < size; i++) hit.bytes[hit.off + i] = i < 4 ? lo >>> (8 * i) : hi >>> (8 * (i - 4));
    this.log.push({ op: 'store', pa, size, lo, hi });
    this.onStore?.(pa, size, lo, hi);
    return true;
  }
}

export interface Machine {
  hart: Hart;
  ram: GuestRam;
  bus: TestBus;
  /** Runs and returns the exit. */
  run(budget?: number): HartExit;
  /** x[i] as a signed bigint. */
  x(i: number): bigint;
  /** x[i] as an unsigned bigint. */
  ux(i: number): bigint;
  csr(n: number): bigint;
}

export interface MachineOptions {
  ramSize?: number;
  /** Install a WFI handler at HANDLER and point mtvec at it (default true). */
  handler?: boolean;
  regs?: Record<number, bigint | number>;
  hartId?: number;
  /** Build the hart with the H extension. */
  h?: boolean;
  /** The hart's engine (default the interpreter) and, for 'translate', its hotEntries
   *  (default 1: every block compiled the first time it runs). */
  engine?: Engine;
  hotEntries?: number;
  maxBlocks?: number;
  /** With 'translate': 'wasm' (default) puts RAM in a WebAssembly memory, so blocks made
   *  for physical data addresses are WebAssembly; 'js' keeps RAM a plain buffer. */
  codegen?: 'js' | 'wasm';
  /** With 'wasm': blocks per module (default 1: each compiled as soon as it is hot). */
  compileBatch?: number;
}

/** A hart at DRAM with `program` loaded there. */
export function machine(program: readonly number[], opts: MachineOptions = {}): Machine {
  const size = opts.ramSize ?? 0x20000;
  const wasm = opts.engine === 'translate' && (opts.codegen ?? 'wasm') === 'wasm';
  const ram = new GuestRam(DRAM, size, wasm ? newWasmMemory(size) : undefined);
  const bus = new TestBus();
  ram.writeWords(DRAM, program);
  const hart = new Hart({
    hartId: opts.hartId ?? 0,
    ram,
    bus,
    resetPc: DRAM,
    h: opts.h ?? false,
    engine: opts.engine ?? 'interp',
    hotEntries: opts.hotEntries ?? 1,
    compileBatch: opts.compileBatch ?? 1,
    ...(opts.maxBlocks !== undefined ? { maxBlocks: opts.maxBlocks } : {}),
  });
  if (opts.handler ?? true) {
    ram.writeWords(HANDLER, [e.wfi()]);
    hart.writeCsr(Csr.mtvec, BigInt(HANDLER));
  }
  for (const [r, v] of Object.entries(opts.regs ?? {})) hart.setReg(Number(r), BigInt(v));
  return {
    hart,
    ram,
    bus,
    run: (budget = 10_000) => hart.run(budget),
    x: (i) => hart.getReg(i),
    ux: (i) => BigInt.asUintN(64, hart.getReg(i)),
    csr: (n) => {
      const v = hart.readCsr(n);
      if (v === undefined) throw new Error(`no CSR 0x${n.toString(16)}`);
      return BigInt.asUintN(64, v);
    },
  };
}

/** Runs `program` (a WFI is appended) and returns the machine after the WFI exit. */
export function exec(program: readonly number[], opts: MachineOptions = {}): Machine {
  const m = machine([...program, e.wfi()], opts);
  const exit = m.run();
  if (exit.kind !== 'wfi') throw new Error(`program ended with ${JSON.stringify(exit)}`);
  return m;
}

/** The trap CSRs after a trap, unsigned. */
export function trapInfo(m: Machine): { mcause: bigint; mepc: bigint; mtval: bigint; pc: number } {
  return { mcause: m.csr(Csr.mcause), mepc: m.csr(Csr.mepc), mtval: m.csr(Csr.mtval), pc: m.hart.getPc() };
}

export const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
export const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
