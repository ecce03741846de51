// Fixtures for the privileged specs: page tables built in guest RAM, PMP opened for S/U,
// and a way to start a test program in S- or U-mode (an MRET from a one-instruction
// M-mode prologue at DRAM, with mstatus.MPP and mepc set through the debugger door).

import type { GuestRam } from '../memory.js';
import { Csr } from '../csr.js';
import { DRAM, e, HANDLER, machine, type Machine, type MachineOptions } from '../harness.test-util.js';

export const PTE = { V: 1, R: 2, W: 4, X: 8, U: 16, G: 32, A: 64, D: 128 } as const;
export const RWX = PTE.R | PTE.W | PTE.X;

export const PRIV_U = 0;
export const PRIV_S = 1;
export const PRIV_M = 3;

/** Page tables in RAM: tables are allocated from `base` upwards, one 4 KiB page each. */
export class PageTables {
  readonly root: number;
  private next: number;

  constructor(
    private readonly ram: GuestRam,
    base: number,
    readonly levels: 3 | 4 = 3,
  ) {
    this.root = base;
    this.next = base + 4096;
    ram.writeBytes(base, new Uint8Array(4096));
  }

  /** satp selecting these tables (Sv39 = 8, Sv48 = 9). */
  satp(asid = 0): bigint {
    return (BigInt(this.levels === 3 ? 8 : 9) << 60n) | (BigInt(asid) << 44n) | BigInt(this.root / 4096);
  }

  private index(va: bigint, level: number): number {
    return Number((BigInt.asUintN(64, va) >> BigInt(12 + 9 * level)) & 511n);
  }

  /** Address of the PTE for `va` at `level`, creating the tables above it. */
  pteAddr(va: bigint, level: number): number {
    let table = this.root;
    for (let l = this.levels - 1; l > level; l--) {
      const at = table + 8 * this.index(va, l);
      const pte = this.read(at);
      if ((pte & BigInt(PTE.V)) === 0n) {
        const t = this.next;
        this.next += 4096;
        this.ram.writeBytes(t, new Uint8Array(4096));
        this.write(at, (BigInt(t / 4096) << 10n) | BigInt(PTE.V));
        table = t;
      } else {
        table = Number(pte >> 10n) * 4096;
      }
    }
    return table + 8 * this.index(va, level);
  }

  /** Maps `va` to `pa` at `level` (0 = 4 KiB, 1 = 2 MiB / megapage, 2 = 1 GiB...). */
  map(va: bigint, pa: number, flags: number, level = 0): void {
    this.write(this.pteAddr(va, level), (BigInt(Math.floor(pa / 4096)) << 10n) | BigInt(flags | PTE.V));
  }

  pte(va: bigint, level = 0): bigint {
    return this.read(this.pteAddr(va, level));
  }

  setPte(va: bigint, value: bigint, level = 0): void {
    this.write(this.pteAddr(va, level), value);
  }

  private read(at: number): bigint {
    const b = this.ram.readBytes(at, 8);
    return new DataView(b.buffer).getBigUint64(0, true);
  }

  private write(at: number, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.ram.writeBytes(at, b);
  }
}

/** pmpaddr0 = all ones, pmpcfg0 = NAPOT RWX: S and U may touch everything. */
export function openPmp(m: Machine): void {
  m.hart.writeCsr(Csr.pmpaddr0, (1n << 54n) - 1n);
  m.hart.writeCsr(Csr.pmpcfg0, 0x1fn);
}

export interface PrivOptions extends MachineOptions {
  /** Leave PMP closed (S/U then fault on everything). */
  noPmp?: boolean;
}

/**
 * A machine that MRETs from DRAM into `mode` at `entry`, with `code` loaded at
 * `codePa` (physical). The M handler is the harness's WFI at HANDLER.
 */
export function privMachine(mode: number, entry: bigint, code: readonly number[], codePa: number, opts: PrivOptions = {}): Machine {
  const m = machine([e.mret()], { ramSize: 0x400000, ...opts });
  // The M handler masks interrupts before parking, so a pending one cannot wake it.
  m.ram.writeWords(HANDLER, M_HANDLER_CODE);
  m.ram.writeWords(codePa, code);
  if (!opts.noPmp) openPmp(m);
  m.hart.writeCsr(Csr.mstatus, BigInt(mode) << 11n);
  m.hart.writeCsr(Csr.mepc, entry);
  return m;
}

/** M handler of privMachine (at HANDLER): csrw mie, x0; wfi. A trap parks at M_PARKED. */
export const M_HANDLER_CODE = [e.csrw(Csr.mie, 0), e.wfi()];
export const M_PARKED = HANDLER + 8;
/** An S handler that parks likewise (csrw sie, x0; wfi), at S_PARKED when at S_HANDLER. */
export const S_HANDLER_CODE = [e.csrw(Csr.sie, 0), e.wfi()];

/** Where privMachine programs usually live, and scratch pages. */
export const CODE = DRAM + 0x1000;
export const S_HANDLER = DRAM + 0x9000;
export const S_PARKED = S_HANDLER + 8;
export const PT_BASE = DRAM + 0x100000;
export { DRAM, HANDLER };

/** The S-mode trap CSRs, unsigned. */
export function sTrap(m: Machine): { scause: bigint; sepc: bigint; stval: bigint } {
  return { scause: m.csr(Csr.scause), sepc: m.csr(Csr.sepc), stval: m.csr(Csr.stval) };
}

/** The M-mode trap CSRs, unsigned. */
export function mTrap(m: Machine): { mcause: bigint; mepc: bigint; mtval: bigint } {
  return { mcause: m.csr(Csr.mcause), mepc: m.csr(Csr.mepc), mtval: m.csr(Csr.mtval) };
}
