// Direct paging for `mode: pv` (Xen PV's model, in our own terms): the hart walks the
// guest's own page tables, so the monitor must know every table the hart can reach is safe.
// The guest declares a page-table arena (PV_REGISTER); tables live only there, the guest may
// read them but never write them (the monitor's PMP makes the arena read-only to the hart's
// U-mode, where the guest runs, and no validated leaf maps it writable), and every write
// goes through PV_MMU_UPDATE, validated here:
//   - a leaf maps RAM of this VM, or device space below RAM, never beyond RAM's end (where
//     the monitor's own memory is); a superpage is aligned to its size (priv 4.3.2 step 6);
//   - a writable leaf never covers the arena;
//   - a pointer to a next-level table points into the arena, at a frame that is not a table
//     of another level; such a frame is validated (recursively) when it first becomes live.
// A frame becomes a live table of level L when a live level-(L+1) entry points to it, or,
// for a root, when it is pinned (PV_PIN). `refs` counts what holds it; at zero it is
// released: its own pointers are dropped, recursively, and it is zeroed, so the guest gets
// zeroed frames back. Writes into a frame that is not live are stored unchecked: the hart
// cannot reach it, and it is validated as a whole when it becomes live.
// Sv39 only: roots are level 2.

const PAGE = 4096;
const PTE_V = 1n,
  PTE_R = 2n,
  PTE_W = 4n,
  PTE_X = 8n,
  PTE_U = 16n,
  PTE_A = 64n,
  PTE_D = 128n;
export const ROOT_LEVEL = 2;

/** Guest RAM by physical address, as the monitor reaches it. */
export interface TableMemory {
  read64(pa: number): bigint | undefined;
  write64(pa: number, v: bigint): boolean;
}

export class DirectPaging {
  /** Level + 1 of each arena frame that is a live table; 0: not live. */
  private level = new Int8Array(0);
  private refs = new Int32Array(0);
  private pinned = new Uint8Array(0);
  arenaBase = 0;
  arenaPages = 0;
  readonly stats = { updates: 0, pins: 0, unpins: 0, refused: 0, released: 0 };

  constructor(
    private readonly ramBase: number,
    private readonly ramSize: number,
    private readonly mem: TableMemory,
  ) {}

  get registered(): boolean {
    return this.arenaPages > 0;
  }

  /** Declares the arena [base, base + pages * 4 KiB): an error, or undefined. */
  register(base: number, pages: number): string | undefined {
    if (this.registered) return 'the page-table arena is already declared';
    if (base % PAGE !== 0) return `arena base 0x${base.toString(16)} is not page-aligned`;
    if (!Number.isSafeInteger(pages) || pages < 1 || pages > this.ramSize / PAGE) return `arena of ${pages} pages: 1 to ${this.ramSize / PAGE}`;
    if (!this.inRam(base, pages * PAGE)) return `arena [0x${base.toString(16)}, +${pages} pages) is not inside RAM`;
    this.arenaBase = base;
    this.arenaPages = pages;
    this.level = new Int8Array(pages);
    this.refs = new Int32Array(pages);
    this.pinned = new Uint8Array(pages);
    return undefined;
  }

  inArena(pa: number, len = 1): boolean {
    return pa >= this.arenaBase && pa + len <= this.arenaBase + this.arenaPages * PAGE;
  }

  /** True when `pa` is a pinned root (what PV_SET_PT_BASE accepts). */
  isPinnedRoot(pa: number): boolean {
    const f = this.frame(pa);
    return f >= 0 && pa % PAGE === 0 && this.pinned[f] === 1;
  }

  /** Writes `value` at table entry `ptePa` if it is safe: an error, or undefined. */
  update(ptePa: number, value: bigint): string | undefined {
    this.stats.updates++;
    if (ptePa % 8 !== 0 || !this.inArena(ptePa, 8)) return this.refuse(`entry address 0x${ptePa.toString(16)} is not an aligned entry of the page-table arena`);
    const f = this.frame(ptePa);
    const lv = this.level[f]! - 1;
    if (lv < 0) {
      // Not live: stored as is, validated when it becomes live.
      return this.mem.write64(ptePa, value) ? undefined : this.refuse(`entry 0x${ptePa.toString(16)}: RAM not reachable`);
    }
    const plan = new Map<number, number>();
    const why = this.checkEntry(value, lv, plan);
    if (why) return this.refuse(`entry 0x${ptePa.toString(16)} = 0x${value.toString(16)} (level ${lv}): ${why}`);
    const old = this.mem.read64(ptePa) ?? 0n;
    this.take(value, lv);
    if (!this.mem.write64(ptePa, value)) return this.refuse(`entry 0x${ptePa.toString(16)}: RAM not reachable`);
    this.drop(old, lv);
    return undefined;
  }

  /** Pins a root table: validates it as a level-2 table and keeps it live until unpinned. */
  pin(pa: number): string | undefined {
    this.stats.pins++;
    const f = this.frame(pa);
    if (f < 0 || pa % PAGE !== 0) return this.refuse(`root 0x${pa.toString(16)} is not a page of the page-table arena`);
    if (this.pinned[f]) return this.refuse(`root 0x${pa.toString(16)} is already pinned`);
    const lv = this.level[f]! - 1;
    if (lv >= 0 && lv !== ROOT_LEVEL) return this.refuse(`root 0x${pa.toString(16)} is a level-${lv} table`);
    if (lv < 0) {
      const plan = new Map<number, number>([[f, ROOT_LEVEL]]);
      const why = this.checkTable(pa, ROOT_LEVEL, plan);
      if (why) return this.refuse(`root 0x${pa.toString(16)}: ${why}`);
      this.makeLive(f, ROOT_LEVEL);
    }
    this.refs[f]!++;
    this.pinned[f] = 1;
    return undefined;
  }

  /** Unpins a root: when nothing else holds it, its tables are released and zeroed. */
  unpin(pa: number): string | undefined {
    this.stats.unpins++;
    const f = this.frame(pa);
    if (f < 0 || pa % PAGE !== 0 || !this.pinned[f]) return this.refuse(`0x${pa.toString(16)} is not a pinned root`);
    this.pinned[f] = 0;
    this.put(f);
    return undefined;
  }

  /** Live tables now (for tests and stats). */
  liveTables(): number {
    let n = 0;
    for (const l of this.level) n += l > 0 ? 1 : 0;
    return n;
  }

  // --- validation: no side effects; `plan` holds the levels frames would take ---

  private checkEntry(e: bigint, lv: number, plan: Map<number, number>): string | undefined {
    if ((e & PTE_V) === 0n) return undefined;
    if (e >> 54n !== 0n) return 'reserved bits set';
    if ((e & (PTE_R | PTE_W)) === PTE_W) return 'writable without readable';
    const pa = Number((e >> 10n) & ((1n << 44n) - 1n)) * PAGE;
    if ((e & (PTE_R | PTE_X)) === 0n) {
      if (lv === 0) return 'a pointer at level 0';
      if ((e & (PTE_A | PTE_D | PTE_U)) !== 0n) return 'A, D or U on a pointer';
      const c = this.frame(pa);
      if (c < 0) return `next table 0x${pa.toString(16)} is outside the page-table arena`;
      const want = lv - 1;
      const now = plan.get(c) ?? this.level[c]! - 1;
      if (now >= 0)
        return now === want && !this.pinned[c]
          ? undefined
          : `table 0x${pa.toString(16)} is already a level-${now}${this.pinned[c] ? ' pinned root' : ''} table`;
      plan.set(c, want);
      return this.checkTable(pa, want, plan);
    }
    const size = PAGE * 512 ** lv;
    if (pa % size !== 0) return `superpage 0x${pa.toString(16)} not aligned to its ${size / 1024} KiB`;
    const inRam = this.inRam(pa, size);
    if (!inRam && pa + size > this.ramBase) return `maps 0x${pa.toString(16)}+0x${size.toString(16)}, neither this VM's RAM nor device space`;
    if ((e & PTE_W) !== 0n && this.overlapsArena(pa, size)) return `writable mapping of the page-table arena (0x${pa.toString(16)})`;
    return undefined;
  }

  private checkTable(pa: number, lv: number, plan: Map<number, number>): string | undefined {
    for (let i = 0; i < 512; i++) {
      const e = this.mem.read64(pa + i * 8);
      if (e === undefined) return `table 0x${pa.toString(16)}: RAM not reachable`;
      const why = this.checkEntry(e, lv, plan);
      if (why) return `entry ${i} of table 0x${pa.toString(16)}: ${why}`;
    }
    return undefined;
  }

  // --- applying what was checked ---

  /** A checked entry becomes live: its table (if a pointer) gains a holder. */
  private take(e: bigint, lv: number): void {
    if ((e & PTE_V) === 0n || (e & (PTE_R | PTE_X)) !== 0n) return;
    const c = this.frame(Number((e >> 10n) & ((1n << 44n) - 1n)) * PAGE);
    if (this.level[c] === 0) this.makeLive(c, lv - 1);
    this.refs[c]!++;
  }

  private makeLive(f: number, lv: number): void {
    this.level[f] = lv + 1;
    const pa = this.arenaBase + f * PAGE;
    for (let i = 0; i < 512; i++) this.take(this.mem.read64(pa + i * 8) ?? 0n, lv);
  }

  /** An entry stops being live: its table (if a pointer) loses a holder. */
  private drop(e: bigint, lv: number): void {
    if (lv <= 0 || (e & PTE_V) === 0n || (e & (PTE_R | PTE_X)) !== 0n) return;
    const c = this.frame(Number((e >> 10n) & ((1n << 44n) - 1n)) * PAGE);
    if (c >= 0 && this.level[c]! > 0) this.put(c);
  }

  private put(f: number): void {
    if (--this.refs[f]! > 0) return;
    this.refs[f] = 0;
    const lv = this.level[f]! - 1;
    const pa = this.arenaBase + f * PAGE;
    this.level[f] = 0;
    for (let i = 0; i < 512; i++) {
      const e = this.mem.read64(pa + i * 8) ?? 0n;
      this.drop(e, lv);
      if (e !== 0n) this.mem.write64(pa + i * 8, 0n);
    }
    this.stats.released++;
  }

  // --- addresses ---

  private frame(pa: number): number {
    return this.inArena(pa) ? Math.floor((pa - this.arenaBase) / PAGE) : -1;
  }

  /** True when [pa, pa + len) is this VM's RAM. */
  inRam(pa: number, len: number): boolean {
    return pa >= this.ramBase && pa + len <= this.ramBase + this.ramSize;
  }

  private overlapsArena(pa: number, len: number): boolean {
    const end = this.arenaBase + this.arenaPages * PAGE;
    return pa < end && this.arenaBase < pa + len;
  }

  private refuse(why: string): string {
    this.stats.refused++;
    return why;
  }
}
