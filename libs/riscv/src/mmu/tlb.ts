// The software TLB (STYLE.md 9: a module with named flush points). It caches, per 4 KiB
// virtual page, where that page lives in RAM, for one privilege context and one access
// type, after the page-table walk AND the PMP check said yes (TinyEMU's tlb_read /
// tlb_write / tlb_code, direct-mapped, 256 entries each).
//
// An entry is two doubles in one Float64Array: [2i] the virtual page base (the tag, a
// signed address, see state.ts), [2i + 1] the page's RAM offset minus that base, so a hit
// is   ramOffset = va + table[2i + 1]   with no further work. The executor inlines the
// lookup:  i = (va >>> 11) & TLB_INDEX_MASK;  hit = table[i] === va - (va & 4095).
// Only RAM pages are cached; ROM, devices and anything uncertain take the slow path.
//
// Contexts are separate sets instead of flushes, so a trap or an xRET (which changes the
// privilege, on every syscall and interrupt) costs nothing here: U, S, S with SUM, and M
// (M only uses the TLB when a locked PMP entry makes its accesses checked). Flush points:
//   flushAll   satp write, SFENCE.VMA without an address, any PMP CSR write
//   flushPage  SFENCE.VMA with an address
//   flushReads mstatus.MXR changed (it widens what a load may read)
// MPRV, MPP and SUM choose a set (state.ts dSet) and need no flush.

/** Entries per table. */
export const TLB_ENTRIES = 256;
/** Mask giving the even index of a page's entry from (va >>> 11). */
export const TLB_INDEX_MASK = (TLB_ENTRIES - 1) << 1;

export const SET_U = 0;
export const SET_S = 1;
export const SET_S_SUM = 2;
export const SET_M = 3;
/** H extension: VU, VS and VS with vsstatus.SUM (two-stage translations). */
export const SET_VU = 4;
export const SET_VS = 5;
export const SET_VS_SUM = 6;

/** Bytes of one table. */
export const TLB_TABLE_BYTES = 2 * TLB_ENTRIES * 8;
/** Sets a hart with H has; each holds three tables. */
export const TLB_MAX_SETS = 7;

/** The tables of one privilege context. */
export class TlbSet {
  /** Loads (R, or X with MXR). */
  readonly r: Float64Array;
  /** Stores: only pages with W whose PTE is already dirty. */
  readonly w: Float64Array;
  /** Instruction fetch. */
  readonly x: Float64Array;

  /** `buffer`, `at`: where the three tables live (RAM's WebAssembly memory, so compiled
   *  blocks probe them: wasm-memory.ts), else arrays of their own. */
  constructor(buffer?: ArrayBufferLike, at = 0) {
    const table = (k: number) => (buffer ? new Float64Array(buffer, at + k * TLB_TABLE_BYTES, 2 * TLB_ENTRIES) : new Float64Array(2 * TLB_ENTRIES));
    this.r = table(0).fill(Number.NaN);
    this.w = table(1).fill(Number.NaN);
    this.x = table(2).fill(Number.NaN);
  }
}

export class Tlb {
  readonly sets: readonly TlbSet[];
  /** Some entry came from a superpage: a flush by address must then flush everything,
   *  since the entries of the other 4 KiB pieces of that superpage are as stale. */
  superpages = false;
  flushes = 0;

  /** `virt`: the hart has the H extension, so the V=1 contexts get sets of their own.
   *  `buffer`, `at`: where the sets' tables go, one after another (TlbSet). */
  constructor(virt = false, buffer?: ArrayBufferLike, at = 0) {
    this.sets = Array.from({ length: virt ? TLB_MAX_SETS : 4 }, (_v, k) => new TlbSet(buffer, at + 3 * k * TLB_TABLE_BYTES));
  }

  flushAll(): void {
    for (const set of this.sets) {
      set.r.fill(Number.NaN);
      set.w.fill(Number.NaN);
      set.x.fill(Number.NaN);
    }
    this.superpages = false;
    this.flushes++;
  }

  /** Forgets the page holding `va` in every set (SFENCE.VMA rs1). */
  flushPage(va: number): void {
    if (this.superpages) {
      this.flushAll();
      return;
    }
    const base = va - (va & 4095);
    const i = (va >>> 11) & TLB_INDEX_MASK;
    for (const set of this.sets) {
      if (set.r[i] === base) set.r[i] = Number.NaN;
      if (set.w[i] === base) set.w[i] = Number.NaN;
      if (set.x[i] === base) set.x[i] = Number.NaN;
    }
  }

  /** mstatus.MXR changed: read permission of every translated page may differ. */
  flushReads(): void {
    for (const set of this.sets) set.r.fill(Number.NaN);
  }
}

/** Caches `va`'s page at RAM offset `ramPageOff` (the page's first byte) in `table`. */
export function tlbFill(table: Float64Array, va: number, ramPageOff: number): void {
  const base = va - (va & 4095);
  const i = (va >>> 11) & TLB_INDEX_MASK;
  table[i] = base;
  table[i + 1] = ramPageOff - base;
}

/** RAM offset of `va` through `table`, or -1 on a miss. */
export function tlbLookup(table: Float64Array, va: number): number {
  const i = (va >>> 11) & TLB_INDEX_MASK;
  return table[i] === va - (va & 4095) ? va + table[i + 1]! : -1;
}
