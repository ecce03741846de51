// Shadow page tables for trap-and-emulate (`mode: trap`): the tables the hart really walks,
// built by the monitor from the guest's own (a virtual TLB). The guest's kernel runs in real
// U-mode, so every shadow leaf is a U page; a page the guest's tables do not give, or give
// with less than the access needs, is simply absent here, and the hart's page fault comes
// to the monitor (shadowFault in trap-monitor.ts), which walks the guest's tables
// (guestWalk below), sets A and D in them as hardware would, and fills one 4 KiB leaf. A
// clean page is mapped without W until its first store, so D is set when the guest would
// see it set. Everything is dropped on the guest's SFENCE.VMA and satp writes: RISC-V
// requires the fence after a PTE change (priv 4.2.1), so that is the point of coherence.
//
// Two shadows, one per virtual privilege (the guest's S and U see different pages: U bits,
// SUM, no execution of U pages from S), each with its own root. The tables live in the
// monitor's own memory (Hart.setPageTableRam), beyond guest-physical space: the guest can
// neither map nor write them. A bounded pool: when it is full, everything is dropped and
// filling starts again (the bound on a guest that touches more than the pool covers).
//
// A cache of shadows per guest address space (its satp: root and ASID), the last
// SPACES_CACHED of them: switching back to a recent one finds its shadow still filled, as a
// hart's TLB keeps ASID-tagged entries. A fence for one ASID drops that ASID's shadows (their
// pages come back when the pool is next emptied); a fence for all, a SUM/MXR change or a
// change of paging mode drops everything (priv 4.2.1: SFENCE.VMA with rs2 = x0 orders every
// address space, one with an ASID only that one's non-global entries; a guest that changes
// a global mapping must fence them all).
import { GuestRam } from '@splitvisor/riscv';

/** Host-physical base of the shadow pool, beside the hw monitor's G-stage tables. */
export const SHADOW_BASE = 0x200_0000_0000;
const PAGE = 4096;
const PTE_V = 1,
  PTE_R = 2,
  PTE_W = 4,
  PTE_X = 8,
  PTE_U = 16,
  PTE_A = 64,
  PTE_D = 128;
export const PERM_R = PTE_R;
export const PERM_W = PTE_W;
export const PERM_X = PTE_X;
/** satp.MODE values (priv 4.1.11). */
export const SATP_BARE = 0;
export const SATP_SV39 = 8;
export const SATP_SV48 = 9;

/** The two shadows: the guest's virtual U-mode and virtual S-mode. */
export type ShadowContext = 0 | 1;

/** Address spaces whose shadows are kept (ShadowMmu.select). */
export const SPACES_CACHED = 8;

export class ShadowMmu {
  readonly tables: GuestRam;
  /** Leaves filled, times everything was dropped (fences, a full pool), address spaces
   *  switched to whose shadow was still there, and ones dropped by an ASID fence. */
  fills = 0;
  flushes = 0;
  reused = 0;
  spaceFlushes = 0;
  private next = 0;
  /** The roots of the current space's two shadows (-1: none yet). */
  private roots: [number, number] = [-1, -1];
  /** Every cached space's roots by its satp, least recently used first. */
  private readonly spaces = new Map<bigint, [number, number]>();
  private current = 0n;
  /** Levels of the shadows now: the guest's mode (Sv39 for a guest with paging off). */
  private levels = 3;

  constructor(readonly poolPages = 4096) {
    this.tables = new GuestRam(SHADOW_BASE, poolPages * PAGE);
    this.tables.pageState.fill(2); // the monitor's memory: always present
  }

  /** satp for the hart while the guest runs in `ctx`: the shadow's mode and root. */
  satp(ctx: ShadowContext): bigint {
    const mode = this.levels === 4 ? SATP_SV48 : SATP_SV39;
    return (BigInt(mode) << 60n) | BigInt((SHADOW_BASE + this.root(ctx) * PAGE) / PAGE);
  }

  /** Drops every shadow mapping; the next shadows have `levels` levels. The caller flushes
   *  the hart's TLB. */
  flush(levels = this.levels): void {
    this.tables.bytes.fill(0, 0, this.next * PAGE);
    this.next = 0;
    this.spaces.clear();
    this.roots = [-1, -1];
    this.spaces.set(this.current, this.roots);
    this.levels = levels;
    this.flushes++;
  }

  /**
   * Makes the guest address space `satp` (mode, ASID, root) current: its cached shadows if
   * it has them, else empty ones; the least recently used space beyond SPACES_CACHED is
   * forgotten. The caller flushes the hart's TLB.
   */
  select(satp: bigint): void {
    this.current = satp;
    const had = this.spaces.get(satp);
    if (had) {
      this.spaces.delete(satp);
      if (had[0] >= 0 || had[1] >= 0) this.reused++;
    }
    this.roots = had ?? [-1, -1];
    this.spaces.set(satp, this.roots);
    if (this.spaces.size > SPACES_CACHED) this.spaces.delete(this.spaces.keys().next().value!);
  }

  /** Drops the shadows of every cached space with this ASID (the current one's too). */
  flushAsid(asid: number): void {
    for (const [satp, roots] of this.spaces) {
      if (Number((satp >> 44n) & 0xffffn) !== asid) continue;
      roots[0] = roots[1] = -1;
      this.spaceFlushes++;
    }
  }

  /**
   * Maps the 4 KiB page of virtual `va` to physical `pa` in `ctx`, with `perms` (PERM_*), as
   * a U page. False when the pool is full (the caller flushes and maps again).
   */
  map(ctx: ShadowContext, va: number, pa: number, perms: number): boolean {
    const half = 2 ** (11 + 9 * this.levels);
    const u = va < 0 ? va + 2 * half : va;
    let table = this.root(ctx);
    if (table < 0) return false;
    const t = this.tables.s32;
    for (let level = this.levels - 1; level > 0; level--) {
      const w = (table * PAGE + (Math.floor(u / 2 ** (12 + 9 * level)) % 512) * 8) >>> 2;
      if ((t[w]! & PTE_V) === 0) {
        const page = this.alloc();
        if (page < 0) return false;
        const ppn = (SHADOW_BASE + page * PAGE) / PAGE;
        t[w] = ((ppn % 2 ** 22) << 10) | PTE_V;
        t[w + 1] = Math.floor(ppn / 2 ** 22);
      }
      const lo = t[w]! >>> 10;
      const hi = t[w + 1]! & 0x3fffff;
      table = (hi * 2 ** 22 + lo) * PAGE - SHADOW_BASE;
      table /= PAGE;
    }
    const w = (table * PAGE + (Math.floor(u / PAGE) % 512) * 8) >>> 2;
    const ppn = Math.floor(pa / PAGE);
    // A and D set up front (D only with W): the guest's own A/D are kept by the monitor.
    t[w] = ((ppn % 2 ** 22) << 10) | PTE_V | PTE_U | PTE_A | (perms & (PTE_R | PTE_W | PTE_X)) | ((perms & PTE_W) !== 0 ? PTE_D : 0);
    t[w + 1] = Math.floor(ppn / 2 ** 22);
    this.fills++;
    return true;
  }

  /** Levels of the shadows now (3: Sv39, 4: Sv48). */
  get levelsNow(): number {
    return this.levels;
  }

  /** Pages of the pool in use. */
  get used(): number {
    return this.next;
  }

  private root(ctx: ShadowContext): number {
    if (this.roots[ctx] === -1) this.roots[ctx] = this.alloc();
    return this.roots[ctx];
  }

  private alloc(): number {
    if (this.next >= this.poolPages) return -1;
    return this.next++;
  }
}

/** The result of walking the guest's tables: where the page is and what it allows. */
export interface GuestTranslation {
  /** Physical address of the access. */
  pa: number;
  /** PERM_* the guest's leaf allows this privilege (after U/SUM/MXR), D-clean pages without W. */
  perms: number;
}

const ACC_FETCH = 0;
const ACC_LOAD = 1;
const ACC_STORE = 2;
export const Access = { Fetch: ACC_FETCH, Load: ACC_LOAD, Store: ACC_STORE } as const;

/**
 * Walks the guest's tables for `va` (priv 4.3.2 / 4.4), as the hart would for a guest in
 * `vpriv` (1 = S, 0 = U) with the guest's SUM and MXR: undefined for a page fault. Sets A, and
 * D for a store, in the guest's leaf, as hardware does. `readPte`/`writePte` reach guest RAM
 * (they may fetch the page); they answer undefined for an address outside RAM (the walk then
 * faults, as an access fault would on hardware: the guest sees a page fault here).
 */
export function guestWalk(
  satp: bigint,
  va: number,
  acc: number,
  vpriv: number,
  sum: boolean,
  mxr: boolean,
  readPte: (pa: number) => bigint | undefined,
  writePte: (pa: number, v: bigint) => boolean,
): GuestTranslation | undefined {
  const mode = Number(satp >> 60n);
  if (mode === SATP_BARE) return { pa: va, perms: PERM_R | PERM_W | PERM_X };
  const levels = mode === SATP_SV48 ? 4 : 3;
  const half = 2 ** (11 + 9 * levels);
  if (va < -half || va >= half) return undefined;
  const u = va < 0 ? va + 2 * half : va;
  let table = Number(satp & ((1n << 44n) - 1n)) * PAGE;
  for (let level = levels - 1; level >= 0; level--) {
    const unit = 2 ** (12 + 9 * level);
    const at = table + (Math.floor(u / unit) % 512) * 8;
    let pte = readPte(at);
    if (pte === undefined) return undefined;
    const flags = Number(pte & 0x3ffn);
    if ((flags & PTE_V) === 0 || (flags & (PTE_R | PTE_W)) === PTE_W || pte >> 54n !== 0n) return undefined;
    const ppn = Number((pte >> 10n) & ((1n << 44n) - 1n));
    if ((flags & (PTE_R | PTE_X)) === 0) {
      if (level === 0 || (flags & (PTE_D | PTE_A | PTE_U)) !== 0) return undefined;
      table = ppn * PAGE;
      continue;
    }
    if (ppn % 2 ** (9 * level) !== 0) return undefined;
    const user = (flags & PTE_U) !== 0;
    if (user ? vpriv === 1 && (acc === ACC_FETCH || !sum) : vpriv === 0) return undefined;
    const canRead = (flags & PTE_R) !== 0 || (mxr && (flags & PTE_X) !== 0);
    const canWrite = (flags & PTE_W) !== 0;
    const canExec = (flags & PTE_X) !== 0 && !(user && vpriv === 1);
    if (acc === ACC_FETCH ? !canExec : acc === ACC_LOAD ? !canRead : !canWrite) return undefined;
    const want = pte | BigInt(PTE_A) | (acc === ACC_STORE ? BigInt(PTE_D) : 0n);
    if (want !== pte) {
      if (!writePte(at, want)) return undefined;
      pte = want;
    }
    const dirty = (Number(pte & 0xffn) & PTE_D) !== 0;
    return {
      // A superpage's offset is the VA's low bits under its size (priv 4.3.2 step 8).
      pa: ppn * PAGE + (u % unit),
      perms: (canRead ? PERM_R : 0) | (canWrite && dirty ? PERM_W : 0) | (canExec ? PERM_X : 0),
    };
  }
  return undefined;
}
