// One VM's guest-physical RAM: a page-aligned range, the page store that holds its bytes
// (memory or a sparse file), and the counters the lab reads. Frames are counted against the
// host pool on first write, never before; a page never written reads as zeros and costs
// nothing (demand-zero, as an anonymous mapping behind a KVM memslot).
//
// This class knows bytes, not who holds copies of them: the coherence directory, DMA and
// dirty logging sit above it in vm-memory.ts.
import { MAX_FETCH_PAGES, PAGE_SIZE, gpa, hex, type GuestPhysAddr } from '@splitvisor/platform';
import { exhausted, invalid, missing, unavailable } from './errors.js';
import type { FramePool } from './frame-pool.js';
import { MemoryPageStore, type PageStore } from './page-store.js';
import { PageBitmap } from './page-bitmap.js';

/** Sv48 guest-physical space; the virt machine places nothing above it. */
export const GUEST_PHYS_LIMIT = 2 ** 48;

export type FetchedPage =
  | { gfn: number; zero: true }
  | { gfn: number; zero: false; data: Buffer }
  /** The asker's copy is current (it holds the page Shared): no bytes. */
  | { gfn: number; zero: false; keep: true };

/** A page handed back by its holder: 4096 bytes, or zero to make it demand-zero again. */
export interface PageWrite {
  gfn: number;
  data?: Uint8Array;
  zero?: boolean;
}

export interface SpaceStats {
  residentPages: number;
  /** Pages fetched for the first time (each page counts once). */
  firstTouchFaults: number;
  /** Pages fetched, counting repeats. */
  fetches: number;
  /** Pages written back, counting repeats. */
  writeBacks: number;
  limitPages: number;
}

export interface SpaceOptions {
  /** Most frames this VM may hold; defaults to its RAM pages (ballooning will lower it). */
  limitPages?: number;
  /** Where the bytes live; memory by default. Pages it already holds are counted against
   *  the pool at once (a backing file reopened after a restart). */
  store?: PageStore;
}

function checkAligned(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${what} ${n} is not an address`);
  if (n % PAGE_SIZE !== 0) throw invalid(`${what} ${hex(n)} is not page-aligned (${PAGE_SIZE})`);
}

/** Throws naming the field when [ramBase, ramBase + ramSize) cannot be a VM's RAM. */
export function checkRamLayout(ramBase: number, ramSize: number): void {
  checkAligned('ramBase', ramBase);
  if (ramSize === 0) throw invalid('ramSize must be greater than 0');
  checkAligned('ramSize', ramSize);
  if (ramBase + ramSize > GUEST_PHYS_LIMIT) {
    throw invalid(`RAM [${hex(ramBase)}, ${hex(ramBase + ramSize)}) ends above the 48-bit guest-physical space (${hex(GUEST_PHYS_LIMIT)})`);
  }
}

export class AddressSpace {
  readonly ramBase: GuestPhysAddr;
  readonly ramEnd: GuestPhysAddr;
  readonly firstGfn: number;
  readonly pageCount: number;
  readonly limitPages: number;
  private readonly store: PageStore;
  private readonly fetched: PageBitmap;
  private firstTouchFaults = 0;
  private fetches = 0;
  private writeBacks = 0;
  private released = false;
  private closed = false;

  constructor(
    readonly vmId: string,
    ramBase: number,
    readonly ramSize: number,
    private readonly pool: FramePool,
    opts: SpaceOptions = {},
  ) {
    checkRamLayout(ramBase, ramSize);
    this.ramBase = gpa(ramBase);
    this.ramEnd = gpa(ramBase + ramSize);
    this.firstGfn = ramBase / PAGE_SIZE;
    this.pageCount = ramSize / PAGE_SIZE;
    this.limitPages = Math.min(opts.limitPages ?? this.pageCount, this.pageCount);
    this.fetched = new PageBitmap(this.pageCount);
    this.store = opts.store ?? new MemoryPageStore();
    if (this.store.size > 0 && !pool.reserve(vmId, this.store.size)) {
      throw exhausted(`vm "${vmId}" holds ${this.store.size} stored pages but ${pool.available} of the pool's ${pool.describe()} are free`);
    }
  }

  get residentPages(): number {
    return this.store.size;
  }

  /** "RAM [0x80000000, 0x84000000)", for messages. */
  describeRam(): string {
    return `RAM [${hex(this.ramBase)}, ${hex(this.ramEnd)})`;
  }

  holdsGfn(gfn: number): boolean {
    return Number.isInteger(gfn) && gfn >= this.firstGfn && gfn < this.firstGfn + this.pageCount;
  }

  /** Copies `data` into guest RAM at `addr`; `what` names the caller's unit in errors. */
  write(addr: GuestPhysAddr, data: Uint8Array, what = 'write'): number {
    this.assertLive();
    const len = data.length;
    // An empty write touches no byte, so it has no range to check (a stream's header chunk).
    if (len === 0) return 0;
    this.checkRange(addr, len, what);
    const first = Math.floor(addr / PAGE_SIZE);
    const last = Math.floor((addr + len - 1) / PAGE_SIZE);
    let fresh = 0;
    for (let g = first; g <= last; g++) if (!this.store.has(g - this.firstGfn)) fresh++;
    this.checkRoom(fresh, 0);
    this.pool.reserve(this.vmId, fresh);
    const page = Buffer.allocUnsafe(PAGE_SIZE);
    let done = 0;
    for (let g = first; g <= last; g++) {
      const from = g === first ? addr % PAGE_SIZE : 0;
      const n = Math.min(PAGE_SIZE - from, len - done);
      // Whole pages go to the store; a partial one is read, patched and stored.
      if (n === PAGE_SIZE) this.store.write(g - this.firstGfn, data.subarray(done, done + n));
      else {
        if (!this.store.read(g - this.firstGfn, page)) page.fill(0);
        page.set(data.subarray(done, done + n), from);
        this.store.write(g - this.firstGfn, page);
      }
      done += n;
    }
    return len;
  }

  /** Reads guest RAM without touching any counter (for DMA and tests). */
  read(addr: GuestPhysAddr, length: number): Buffer {
    this.assertLive();
    const out = Buffer.alloc(length);
    if (length === 0) return out;
    this.checkRange(addr, length, 'read');
    const page = Buffer.allocUnsafe(PAGE_SIZE);
    for (let done = 0; done < length;) {
      const at = addr + done;
      const from = at % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - from, length - done);
      const idx = Math.floor(at / PAGE_SIZE) - this.firstGfn;
      if (n === PAGE_SIZE) this.store.read(idx, out, done);
      else if (this.store.read(idx, page)) page.copy(out, done, from, from + n);
      done += n;
    }
    return out;
  }

  /** Page `gfn` as stored: bytes, or undefined for a page that reads as zero. */
  readPage(gfn: number): Buffer | undefined {
    this.assertLive();
    this.checkPage(gfn, 'read');
    const out = Buffer.allocUnsafe(PAGE_SIZE);
    return this.store.read(gfn - this.firstGfn, out) ? out : undefined;
  }

  /** Guest frame numbers of every page holding bytes, ascending. */
  residentGfns(): number[] {
    return this.store.indexes().map((i) => i + this.firstGfn);
  }

  /** Checks a fetch of [gfn, gfn + count) without doing it. */
  checkFetch(gfn: number, count: number): void {
    this.assertLive();
    if (!Number.isInteger(count) || count < 1 || count > MAX_FETCH_PAGES) {
      throw invalid(`fetch count ${count} must be between 1 and ${MAX_FETCH_PAGES}`);
    }
    for (let i = 0; i < count; i++) this.checkPage(gfn + i, 'fetch');
  }

  /** The pages [gfn, gfn + count): bytes for a written page, `zero` for one never written
   *  (nothing sent, no frame taken), `keep` where `current(gfn)` says the asker's own copy
   *  is up to date (an upgrade of a Shared page). */
  fetch(gfn: number, count: number, _forWrite = false, current?: (gfn: number) => boolean): FetchedPage[] {
    this.checkFetch(gfn, count);
    const pages: FetchedPage[] = [];
    for (let g = gfn; g < gfn + count; g++) {
      if (this.fetched.set(g - this.firstGfn)) this.firstTouchFaults++;
      if (current?.(g)) {
        pages.push({ gfn: g, zero: false, keep: true });
        continue;
      }
      // A fresh buffer: the reply must not alias bytes a later write-back changes.
      const data = Buffer.allocUnsafe(PAGE_SIZE);
      pages.push(this.store.read(g - this.firstGfn, data) ? { gfn: g, zero: false, data } : { gfn: g, zero: true });
    }
    this.fetches += count;
    return pages;
  }

  /** Stores the pages as given, all or none: every page is checked, and the frames it
   *  needs are counted against the quota and the pool, before any byte changes. Within one
   *  call a page named twice ends as its last entry says. `counted` false: bytes coming
   *  back by a recall, which the caller counts as such. */
  writeBack(pages: readonly PageWrite[], counted = true): void {
    this.assertLive();
    const final = new Map<number, Uint8Array | undefined>();
    for (const p of pages) {
      this.checkPage(p.gfn, 'write-back');
      const size = p.data?.length ?? 0;
      const at = hex(p.gfn * PAGE_SIZE);
      if (p.zero) {
        if (size !== 0) throw invalid(`write-back of page at ${at} is marked zero but carries ${size} bytes`);
        final.set(p.gfn, undefined);
      } else {
        if (size !== PAGE_SIZE) throw invalid(`write-back of page at ${at} carries ${size} bytes; a page is exactly ${PAGE_SIZE}`);
        final.set(p.gfn, p.data);
      }
    }
    let fresh = 0;
    let freed = 0;
    for (const [g, data] of final) {
      const held = this.store.has(g - this.firstGfn);
      if (data && !held) fresh++;
      if (!data && held) freed++;
    }
    this.checkRoom(fresh, freed);
    for (const [g, data] of final) if (!data) this.store.free(g - this.firstGfn);
    this.pool.release(this.vmId, freed);
    this.pool.reserve(this.vmId, fresh);
    for (const [g, data] of final) if (data) this.store.write(g - this.firstGfn, data);
    if (counted) this.writeBacks += pages.length;
  }

  /** Every page reads as zero again; the frames go back to the pool (a restore). */
  clearAll(): void {
    this.assertLive();
    const n = this.store.size;
    this.store.clear();
    this.pool.release(this.vmId, n);
  }

  /** Counts pages returned clean by their holder (no bytes to store). */
  countCleanReturns(n: number): void {
    this.writeBacks += n;
  }

  /** Gives every frame back to the pool; the space refuses all calls afterwards. */
  release(): number {
    if (this.released) return 0;
    const n = this.store.size;
    this.store.clear();
    this.store.close();
    this.fetched.clearAll();
    this.pool.release(this.vmId, n);
    this.released = true;
    return n;
  }

  /** Closes the store keeping its bytes (mmu stopping; the VM comes back on restart).
   *  Calls afterwards are refused as unavailable: the caller waits for the next mmu. */
  close(): void {
    if (this.released) return;
    this.pool.release(this.vmId, this.store.size);
    this.store.close();
    this.released = true;
    this.closed = true;
  }

  stats(): SpaceStats {
    return {
      residentPages: this.store.size,
      firstTouchFaults: this.firstTouchFaults,
      fetches: this.fetches,
      writeBacks: this.writeBacks,
      limitPages: this.limitPages,
    };
  }

  /** Throws, with nothing changed, unless `fresh` new frames fit the quota and the pool
   *  once `freeing` frames the same call gives back have gone back. */
  private checkRoom(fresh: number, freeing: number): void {
    if (fresh === 0) return;
    const after = this.store.size - freeing + fresh;
    if (after > this.limitPages) {
      throw exhausted(`vm "${this.vmId}" would hold ${after} pages, over its limit of ${this.limitPages}`);
    }
    if (!this.pool.canHold(this.vmId, after)) {
      const free = this.pool.roomFor(this.vmId) + freeing;
      throw exhausted(`host pool exhausted: vm "${this.vmId}" needs ${fresh} new frames but ${free} of the pool's ${this.pool.describe()} are free`);
    }
  }

  /** Throws naming both ranges unless [addr, addr + len) lies in this VM's RAM. */
  checkRange(addr: GuestPhysAddr, len: number, what: string): void {
    if (!(Number.isInteger(addr) && addr >= this.ramBase && addr + len <= this.ramEnd)) {
      throw invalid(`${what} [${hex(addr)}, ${hex(addr + len)}) lies outside ${this.describeRam()}`);
    }
  }

  /** Throws naming the page and `what` unless `gfn` lies in this VM's RAM. */
  checkPage(gfn: number, what: string): void {
    if (!this.holdsGfn(gfn)) {
      throw invalid(`${what} of page at ${hex(gfn * PAGE_SIZE)} (gfn ${hex(gfn)}) lies outside ${this.describeRam()}`);
    }
  }

  assertLive(): void {
    if (this.closed) throw unavailable(`mmu is stopping: vm "${this.vmId}" is closed until it starts again`);
    if (this.released) throw missing(`vm "${this.vmId}" was released`);
  }
}
