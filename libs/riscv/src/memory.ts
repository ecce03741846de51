// The hart's view of the physical address space: one RAM range it reads and writes
// directly (its cache of the mmu's pages, DESIGN.md "mmu") and a bus for everything else.

import { PAGE_SHIFT, PAGE_SIZE, PageState, type GuestPhysAddr, type PageStateValue } from '@splitvisor/platform';
import { DecodeCache } from './decode-cache.js';
import { isWasmMemory, wasmLayout, type WasmLayout, type WasmMemory } from './wasm-memory.js';

// Per-page coherence state at this cpu: the platform's one definition, re-exported for
// the hart's users.
export { PageState, type PageStateValue };

/** Everything that is not RAM: devices, boot ROM, CLINT, PLIC. Called synchronously from
 *  inside `Hart.run`; a callback may call `hart.stop()` or raise an interrupt line and
 *  the hart notices after the current instruction. */
export interface PhysBus {
  /** Fills out[0] (low word) and out[1] (high word), zero-extended; false = access fault. */
  load(pa: GuestPhysAddr, size: 1 | 2 | 4 | 8, out: Int32Array): boolean;
  /** lo/hi hold the value zero-extended from `size` bytes; false = access fault. */
  store(pa: GuestPhysAddr, size: 1 | 2 | 4 | 8, lo: number, hi: number): boolean;
}

/** A bus with nothing on it: every access faults. */
export const EMPTY_BUS: PhysBus = {
  load: () => false,
  store: () => false,
};

export class GuestRam {
  readonly base: number;
  readonly size: number;
  /** All of RAM, little-endian. Whoever writes it other than through a hart (loader, DMA,
   *  a refill outside onMiss) must call `invalidateCode` for the pages touched. */
  readonly bytes: Uint8Array;
  /** Views over the same bytes for the hart's aligned fast paths. */
  readonly s8: Int8Array;
  readonly s16: Int16Array;
  readonly u16: Uint16Array;
  readonly s32: Int32Array;
  /** Per 4 KiB page: a PageState value. The owner may lower a state at any safepoint
   *  (a recall: between runs or inside a bus/onMiss callback); code decoded from a page
   *  seen Invalid is dropped before it could run again. Bytes of a page may change only
   *  while it is Invalid, or through `invalidateCode`. */
  readonly pageState: Uint8Array;
  /** Instructions decoded from this RAM; shared by every hart that runs on it. */
  readonly code: DecodeCache;
  /** Called synchronously when a page's state is insufficient for an access. It must
   *  fill `bytes` and set `pageState` and return true, or return false, which the guest
   *  sees as an access fault. The default treats RAM as local and demand-zero. */
  onMiss: (pageIndex: number, write: boolean) => boolean;
  /** Times onMiss was consulted. */
  misses = 0;
  /** Pages that must never be Modified here (keepShared): every store to them then leaves
   *  the executor's fast path, whatever translation produced it. */
  private readonly shared: number[] = [];
  /** The WebAssembly memory RAM lives in (wasm-memory.ts), with its layout; null when
   *  RAM is a plain buffer (then the translator emits JavaScript only). */
  readonly memory: WasmMemory | null;
  readonly layout: WasmLayout | null;

  constructor(base: number, size: number, buffer?: ArrayBuffer | SharedArrayBuffer | WasmMemory) {
    if (!Number.isSafeInteger(base) || base < 0 || base % PAGE_SIZE !== 0) {
      throw new RangeError(`GuestRam base ${base} must be a page-aligned guest-physical address`);
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0 || size > 2 ** 32) {
      throw new RangeError(`GuestRam size ${size} must be a positive multiple of ${PAGE_SIZE}, at most 4 GiB`);
    }
    this.memory = isWasmMemory(buffer) ? buffer : null;
    this.layout = this.memory ? wasmLayout(size) : null;
    const buf = this.memory ? this.memory.buffer : ((buffer as ArrayBuffer | SharedArrayBuffer | undefined) ?? new ArrayBuffer(size));
    const need = this.layout ? this.layout.bytes : size;
    if (buf.byteLength < need) {
      throw new RangeError(`GuestRam ${this.memory ? 'WebAssembly memory' : 'buffer'} holds ${buf.byteLength} bytes, needs ${need}`);
    }
    this.base = base;
    this.size = size;
    this.bytes = new Uint8Array(buf, 0, size);
    this.s8 = new Int8Array(buf, 0, size);
    this.s16 = new Int16Array(buf, 0, size >>> 1);
    this.u16 = new Uint16Array(buf, 0, size >>> 1);
    this.s32 = new Int32Array(buf, 0, size >>> 2);
    const pages = size / PAGE_SIZE;
    this.pageState = this.layout ? new Uint8Array(buf, this.layout.stateAt, pages) : new Uint8Array(pages);
    this.code = new DecodeCache(pages, this.layout ? new Uint8Array(buf, this.layout.markAt, pages) : undefined);
    // A memory handed over again (a restarted worker) starts with no page and no code.
    this.pageState.fill(0);
    this.code.mark.fill(0);
    this.onMiss = (pageIndex) => {
      this.pageState[pageIndex] = PageState.Modified;
      return true;
    };
  }

  /** Page index of a guest-physical address inside RAM, or -1. */
  pageOf(pa: number): number {
    const off = pa - this.base;
    return off >= 0 && off < this.size ? Math.floor(off / PAGE_SIZE) : -1;
  }

  /** True when [pa, pa + len) lies inside RAM. */
  contains(pa: number, len: number): boolean {
    const off = pa - this.base;
    return off >= 0 && off + len <= this.size;
  }

  /** Asks onMiss for a page until its state allows the access; false = access fault.
   *  Decoded instructions of the page are dropped, and of every page recalled since:
   *  a refill may bring new bytes, also for pages onMiss fills beside the one asked. */
  miss(page: number, write: boolean): boolean {
    this.misses++;
    this.code.dropInvalid(this.pageState);
    const ok = this.onMiss(page, write);
    this.code.invalidate(page);
    // A refill may grant Modified (the default does, for a load too; a run of pages may
    // include a kept one): keep those pages below it. A store to one is then written
    // while Shared by whoever asked for it (the hart's watched-store path).
    let kept = false;
    for (let i = 0; i < this.shared.length; i++) {
      const p = this.shared[i]!;
      if (this.pageState[p] === PageState.Modified) this.pageState[p] = PageState.Shared;
      if (p === page) kept = true;
    }
    return ok && this.pageState[page]! >= (write && !kept ? PageState.Modified : PageState.Shared);
  }

  /**
   * Keeps a page from ever being Modified at this RAM, so that every store to it, through
   * any mapping and from any mode, takes the slow path where it can be seen (HTIF's
   * tohost, Hart.watchStores). A page held Modified now is lowered to Shared.
   */
  keepShared(page: number): void {
    if (!(page >= 0 && page < this.pageState.length)) throw new RangeError(`keepShared: no page ${page} in RAM`);
    if (!this.shared.includes(page)) this.shared.push(page);
    if (this.pageState[page] === PageState.Modified) this.pageState[page] = PageState.Shared;
  }

  /** Forget instructions decoded from a page whose bytes were changed directly. */
  invalidateCode(pageIndex: number): void {
    this.code.invalidate(pageIndex);
  }

  /** Loader/test helper: copies bytes in (no coherence traffic) and drops stale code. */
  writeBytes(pa: number, src: Uint8Array): void {
    if (!this.contains(pa, src.length)) throw new RangeError(`writeBytes outside RAM at 0x${pa.toString(16)}`);
    const off = pa - this.base;
    this.bytes.set(src, off);
    const last = src.length === 0 ? off : off + src.length - 1;
    for (let p = off >>> PAGE_SHIFT; p <= last >>> PAGE_SHIFT; p++) this.code.invalidate(p);
  }

  /** Loader/test helper: little-endian 32-bit words, e.g. an encoded program. */
  writeWords(pa: number, words: readonly number[]): void {
    const b = new Uint8Array(words.length * 4);
    const dv = new DataView(b.buffer);
    words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
    this.writeBytes(pa, b);
  }

  readBytes(pa: number, len: number): Uint8Array {
    if (!this.contains(pa, len)) throw new RangeError(`readBytes outside RAM at 0x${pa.toString(16)}`);
    const off = pa - this.base;
    return this.bytes.slice(off, off + len);
  }
}
