// The G-stage as the hw monitor keeps it (priv H 8.5.1, Sv39x4): the monitor's view of
// which guest RAM pages this cpu holds. A page the page cache holds is mapped
// (guest-physical = host-physical: the hart's RAM is the guest's), writable only while
// held Modified; every other guest-physical address is absent, so the guest's first touch
// of it is a guest-page fault (cause 20, 21, 23) that reaches the monitor: a page fetch
// from mmu, or an MMIO access. A recall unmaps the page, then HFENCE.GVMA.
//
// The tables live in the monitor's own memory (Hart.setGStageTableRam), at TABLE_BASE,
// outside the guest-physical space: the guest can neither map nor reach them. The whole
// directory for guest RAM is built up front (one leaf table per 2 MiB of RAM), so mapping
// and unmapping a page is one PTE write.
import { GuestRam } from '@splitvisor/riscv';

/** Host-physical base of the monitor's table memory: far above any guest-physical address
 *  of the virt machine, and below Sv39x4's 41-bit host-physical reach of the PTEs' PPN. */
export const TABLE_BASE = 0x100_0000_0000;
const PAGE = 4096;
const V = 1,
  R = 2,
  W = 4,
  X = 8,
  U = 16,
  A = 64,
  D = 128;
/** hgatp.MODE = Sv39x4 (priv H 8.2.18). */
const HGATP_SV39X4 = 8n << 60n;

export class GStageMap {
  /** The table memory the hart walks (give it to Hart.setGStageTableRam). */
  readonly tables: GuestRam;
  /** Mapped pages now (for stats and tests). */
  mapped = 0;
  /** Byte offset, in `tables`, of the leaf PTE of each guest RAM page. */
  private readonly leafOffset: Float64Array;

  constructor(
    private readonly ramBase: number,
    ramSize: number,
  ) {
    const pages = ramSize / PAGE;
    // Guest-physical 2 MiB and 1 GiB windows the RAM touches, to size the directory.
    const first2m = Math.floor(ramBase / 2 ** 21);
    const last2m = Math.floor((ramBase + ramSize - 1) / 2 ** 21);
    const first1g = Math.floor(ramBase / 2 ** 30);
    const last1g = Math.floor((ramBase + ramSize - 1) / 2 ** 30);
    const rootBytes = 4 * PAGE; // 2048 entries, 16 KiB-aligned (TABLE_BASE is)
    const l1Count = last1g - first1g + 1;
    const l0Count = last2m - first2m + 1;
    this.tables = new GuestRam(TABLE_BASE, rootBytes + (l1Count + l0Count) * PAGE);
    this.tables.pageState.fill(2); // the monitor's own memory: always present, writable
    const t = this.tables.s32;
    const l1At = (g: number) => rootBytes + (g - first1g) * PAGE;
    const l0At = (m: number) => rootBytes + l1Count * PAGE + (m - first2m) * PAGE;
    const pointer = (off: number, tableOff: number) => {
      const ppn = (TABLE_BASE + tableOff) / PAGE;
      t[off >>> 2] = ((ppn % 2 ** 22) << 10) | V;
      t[(off >>> 2) + 1] = Math.floor(ppn / 2 ** 22);
    };
    for (let g = first1g; g <= last1g; g++) pointer(g * 8, l1At(g));
    for (let m = first2m; m <= last2m; m++) pointer(l1At(Math.floor(m / 512)) + (m % 512) * 8, l0At(m));
    this.leafOffset = new Float64Array(pages);
    for (let p = 0; p < pages; p++) {
      const gpa = ramBase + p * PAGE;
      const m = Math.floor(gpa / 2 ** 21);
      this.leafOffset[p] = l0At(m) + (Math.floor(gpa / PAGE) % 512) * 8;
    }
  }

  /** hgatp for these tables: Sv39x4, VMID 0, the root's PPN. */
  hgatp(): bigint {
    return HGATP_SV39X4 | BigInt(TABLE_BASE / PAGE);
  }

  /** Maps guest RAM page `page` (an index from ramBase) to itself: read and execute, and
   *  write when `writable`. A and D are set up front: the monitor tracks dirtiness in the
   *  page cache, so the walk never needs to write them. */
  map(page: number, writable: boolean): void {
    const off = this.leafOffset[page]!;
    const t = this.tables.s32;
    const w = off >>> 2;
    if ((t[w]! & V) === 0) this.mapped++;
    const ppn = (this.ramBase + page * PAGE) / PAGE;
    t[w] = ((ppn % 2 ** 22) << 10) | V | R | X | U | A | (writable ? W | D : 0);
    t[w + 1] = Math.floor(ppn / 2 ** 22);
  }

  /** Unmaps `page`; the caller flushes the hart's TLB (HFENCE.GVMA) before the guest runs. */
  unmap(page: number): void {
    const w = this.leafOffset[page]! >>> 2;
    const t = this.tables.s32;
    if ((t[w]! & V) !== 0) this.mapped--;
    t[w] = 0;
    t[w + 1] = 0;
  }

  /** Whether `page` is mapped, and writable. */
  state(page: number): 'absent' | 'read' | 'write' {
    const lo = this.tables.s32[this.leafOffset[page]! >>> 2]!;
    if ((lo & V) === 0) return 'absent';
    return (lo & W) !== 0 ? 'write' : 'read';
  }
}
