// One VM's guest-physical RAM: a page-aligned range, a map from guest frame number to host
// frame, and the counters the lab reads. Frames are taken from the host pool on first
// write, never before; a page never written reads as zeros and costs nothing (demand-zero,
// as an anonymous mapping behind a KVM memslot).
//
// The coherence directory (owner/sharers per page, recalls), DMA from devices and dirty
// logging come later and sit beside the frame map; fetch already says whether it is for
// write so the protocol has somewhere to start.
import { PAGE_SIZE, gpa, hex, type GuestPhysAddr } from '@splitvisor/platform';
import { exhausted, invalid, missing } from './errors.js';
import type { Frame, FramePool } from './frame-pool.js';
import { PageBitmap } from './page-bitmap.js';

/** Sv48 guest-physical space; the virt machine places nothing above it. */
export const GUEST_PHYS_LIMIT = 2 ** 48;
/** Most pages one fetch may ask for: 256 KiB per reply, well under gRPC's message cap. */
export const MAX_FETCH_PAGES = 64;

export type FetchedPage = { gfn: number; zero: true } | { gfn: number; zero: false; data: Buffer };

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
  private readonly frames = new Map<number, Frame>();
  private readonly fetched: PageBitmap;
  private firstTouchFaults = 0;
  private fetches = 0;
  private writeBacks = 0;
  private released = false;

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
  }

  get residentPages(): number {
    return this.frames.size;
  }

  /** "RAM [0x80000000, 0x84000000)", for messages. */
  describeRam(): string {
    return `RAM [${hex(this.ramBase)}, ${hex(this.ramEnd)})`;
  }

  holdsGfn(gfn: number): boolean {
    return Number.isInteger(gfn) && gfn >= this.firstGfn && gfn < this.firstGfn + this.pageCount;
  }

  /** Copies `data` into guest RAM at `addr`; `what` names the caller's unit in errors. */
  write(addr: number, data: Uint8Array, what = 'write'): number {
    this.assertLive();
    const len = data.length;
    // An empty write touches no byte, so it has no range to check (a stream's header chunk).
    if (len === 0) return 0;
    this.checkRange(addr, len, what);
    const first = Math.floor(addr / PAGE_SIZE);
    const last = Math.floor((addr + len - 1) / PAGE_SIZE);
    const fresh: number[] = [];
    for (let g = first; g <= last; g++) if (!this.frames.has(g)) fresh.push(g);
    this.checkRoom(fresh.length, 0);
    this.install(fresh);
    let done = 0;
    for (let g = first; g <= last; g++) {
      const frame = this.frames.get(g)!;
      const from = g === first ? addr % PAGE_SIZE : 0;
      const n = Math.min(PAGE_SIZE - from, len - done);
      frame.set(data.subarray(done, done + n), from);
      done += n;
    }
    return len;
  }

  /** Reads guest RAM without touching any counter (for DMA and tests). */
  read(addr: number, length: number): Buffer {
    this.assertLive();
    const out = Buffer.alloc(length);
    if (length === 0) return out;
    this.checkRange(addr, length, 'read');
    for (let done = 0; done < length; ) {
      const at = addr + done;
      const from = at % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - from, length - done);
      this.frames.get(Math.floor(at / PAGE_SIZE))?.copy(out, done, from, from + n);
      done += n;
    }
    return out;
  }

  /** The pages [gfn, gfn + count): bytes for a written page, `zero` for one never written
   *  (nothing sent, no frame taken). `_forWrite` is where the directory will grant the
   *  only writable copy. */
  fetch(gfn: number, count: number, _forWrite = false): FetchedPage[] {
    this.assertLive();
    if (!Number.isInteger(count) || count < 1 || count > MAX_FETCH_PAGES) {
      throw invalid(`fetch count ${count} must be between 1 and ${MAX_FETCH_PAGES}`);
    }
    for (let i = 0; i < count; i++) this.checkPage(gfn + i, 'fetch');
    const pages: FetchedPage[] = [];
    for (let g = gfn; g < gfn + count; g++) {
      if (this.fetched.set(g - this.firstGfn)) this.firstTouchFaults++;
      const frame = this.frames.get(g);
      // A copy: the reply must not alias a frame a later write-back changes.
      pages.push(frame ? { gfn: g, zero: false, data: Buffer.from(frame) } : { gfn: g, zero: true });
    }
    this.fetches += count;
    return pages;
  }

  /** Stores the pages as given, all or none: every page is checked, and the frames it
   *  needs are counted against the quota and the pool, before any byte changes. Within one
   *  call a page named twice ends as its last entry says. */
  writeBack(pages: readonly PageWrite[]): void {
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
    const fresh: number[] = [];
    const freed: number[] = [];
    for (const [g, data] of final) {
      if (data && !this.frames.has(g)) fresh.push(g);
      if (!data && this.frames.has(g)) freed.push(g);
    }
    this.checkRoom(fresh.length, freed.length);
    for (const g of freed) this.frames.delete(g);
    this.pool.release(this.vmId, freed.length);
    this.install(fresh);
    for (const [g, data] of final) if (data) this.frames.get(g)!.set(data);
    this.writeBacks += pages.length;
  }

  /** Gives every frame back to the pool; the space refuses all calls afterwards. */
  release(): number {
    if (this.released) return 0;
    const n = this.frames.size;
    this.frames.clear();
    this.fetched.clearAll();
    this.pool.release(this.vmId, n);
    this.released = true;
    return n;
  }

  stats(): SpaceStats {
    return {
      residentPages: this.frames.size,
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
    const after = this.frames.size - freeing + fresh;
    if (after > this.limitPages) {
      throw exhausted(`vm "${this.vmId}" would hold ${after} pages, over its limit of ${this.limitPages}`);
    }
    const free = this.pool.available + freeing;
    if (fresh > free) {
      throw exhausted(`host pool exhausted: vm "${this.vmId}" needs ${fresh} new frames but ${free} of the pool's ${this.pool.describe()} are free`);
    }
  }

  /** Takes a frame for each page; checkRoom has said they fit. */
  private install(fresh: readonly number[]): void {
    if (fresh.length === 0) return;
    const frames = this.pool.allocate(this.vmId, fresh.length);
    if (!frames) throw exhausted(`host pool exhausted: vm "${this.vmId}" needs ${fresh.length} new frames`);
    fresh.forEach((g, i) => this.frames.set(g, frames[i]!));
  }

  private checkRange(addr: number, len: number, what: string): void {
    if (!(Number.isInteger(addr) && addr >= this.ramBase && addr + len <= this.ramEnd)) {
      throw invalid(`${what} [${hex(addr)}, ${hex(addr + len)}) lies outside ${this.describeRam()}`);
    }
  }

  private checkPage(gfn: number, what: string): void {
    if (!this.holdsGfn(gfn)) {
      throw invalid(`${what} of page at ${hex(gfn * PAGE_SIZE)} (gfn ${hex(gfn)}) lies outside ${this.describeRam()}`);
    }
  }

  private assertLive(): void {
    if (this.released) throw missing(`vm "${this.vmId}" was released`);
  }
}
