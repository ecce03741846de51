// Pre-decoded instructions, one block per 4 KiB physical page of RAM, filled lazily one
// slot at a time as the hart first fetches it (TinyEMU and QEMU both key translated code
// by physical page for the same reason: aliases through different virtual mappings share
// it, and a store only has to check one flag per physical page).
//
// A slot is SLOT_WORDS int32s (see decoder.ts); a slot whose first word is 0 is not yet
// decoded. Invalidation zero-fills a block in place instead of dropping it, so the
// executor can hold a block across a store into its own page and simply re-decode.
//
// A store into a marked page drops its code only when it lands in a 64-byte chunk that
// holds a decoded instruction (QEMU keeps a bitmap of the bytes translated code came from
// for the same reason: small programs keep their stack and data on the page of their
// code). The mark stays the store fast path's one test; the chunk mask is the slow check
// behind it.

import { PAGE_SIZE } from '@splitvisor/platform';
import { SLOT_WORDS } from './decoder.js';
import { TranslationCache, type WasmRam } from './translate/cache.js';

/** log2 of the instruction-slot granule: 2 bytes, IALIGN = 16 with C. A slot's int32
 *  index in its block is then (offset >> 1) * SLOT_WORDS = the byte offset itself. */
export const SLOT_SHIFT = 1;
export const SLOTS_PER_PAGE = PAGE_SIZE >> SLOT_SHIFT;

/** log2 of the chunk a store is checked against: one bit per 64 bytes of a page. */
const CHUNK_SHIFT = 6;
/** Chunk-mask words (32 chunks each) per page. */
const MASK_WORDS = (PAGE_SIZE >> CHUNK_SHIFT) >> 5;

export class DecodeCache {
  /** Per page: 1 once any slot of its block holds a decoded instruction. A store tests
   *  this byte and nothing else on its fast path. */
  readonly mark: Uint8Array;
  private readonly blocks: (Int32Array | null)[];
  /** Per page, MASK_WORDS words: bit c set once an instruction decoded on the page has a
   *  byte in chunk c. Cleared with the page's block. */
  private readonly chunks: Uint32Array;
  private readonly allocated: number[] = [];
  /** Slots decoded, blocks invalidated, whole-cache flushes: for `perf`-style stats. */
  decodes = 0;
  invalidations = 0;
  flushes = 0;
  /** Compiled blocks of these pages (the translate engine), dropped with their page. */
  translations: TranslationCache | null = null;

  /** `mark`: where the per-page marks live, when not in an array of their own (zeroed;
   *  guest RAM in a WebAssembly memory keeps them there for compiled blocks). */
  constructor(pages: number, mark?: Uint8Array) {
    if (mark !== undefined && mark.length !== pages) throw new RangeError(`DecodeCache: ${mark.length} marks for ${pages} pages`);
    this.mark = mark ?? new Uint8Array(pages);
    this.blocks = new Array<Int32Array | null>(pages).fill(null);
    this.chunks = new Uint32Array(pages * MASK_WORDS);
  }

  /** An instruction of `len` bytes at RAM offset `off` was decoded into its page's block
   *  (both its bytes on that page). */
  decoded(off: number, len: number): void {
    const page = Math.floor(off / PAGE_SIZE);
    this.mark[page] = 1;
    this.decodes++;
    const at = page * MASK_WORDS;
    const first = (off % PAGE_SIZE) >>> CHUNK_SHIFT;
    const last = ((off % PAGE_SIZE) + len - 1) >>> CHUNK_SHIFT;
    this.chunks[at + (first >>> 5)]! |= 1 << (first & 31);
    this.chunks[at + (last >>> 5)]! |= 1 << (last & 31);
  }

  /**
   * Bytes [off, off + len) of RAM changed on one page (a store, len <= 8, not crossing the
   * page; its caller saw the page's mark set): drops the page's code if they overlap a
   * chunk with decoded code. True when it did, and code after the store must be fetched
   * again.
   */
  stored(off: number, len: number): boolean {
    const page = Math.floor(off / PAGE_SIZE);
    const at = page * MASK_WORDS;
    const first = (off % PAGE_SIZE) >>> CHUNK_SHIFT;
    const last = ((off % PAGE_SIZE) + len - 1) >>> CHUNK_SHIFT;
    if ((this.chunks[at + (first >>> 5)]! & (1 << (first & 31))) === 0 && (this.chunks[at + (last >>> 5)]! & (1 << (last & 31))) === 0) {
      return false;
    }
    this.invalidate(page);
    return true;
  }

  /** The block of a page, created empty on first use. */
  block(page: number): Int32Array {
    let b = this.blocks[page];
    if (b === null || b === undefined) {
      b = new Int32Array(SLOTS_PER_PAGE * SLOT_WORDS);
      this.blocks[page] = b;
      this.allocated.push(page);
    }
    return b;
  }

  /** Forget every decoded slot of a page (its bytes changed or may have). */
  invalidate(page: number): void {
    if (this.mark[page] === 0) return;
    this.mark[page] = 0;
    this.blocks[page]!.fill(0);
    this.chunks.fill(0, page * MASK_WORDS, (page + 1) * MASK_WORDS);
    this.invalidations++;
    if (this.translations !== null) this.translations.dropPage(page);
  }

  /** The code cache of these pages, made on first use (harts sharing RAM share it). */
  useTranslations(maxBlocks: number, hotEntries: number, batchBlocks: number, wasm: WasmRam | null = null): TranslationCache {
    if (this.translations === null) this.translations = new TranslationCache(this.mark.length, maxBlocks, hotEntries, batchBlocks, wasm);
    return this.translations;
  }

  /** Forget the code of every page now Invalid: its bytes are no longer this cpu's to
   *  trust, and whatever refills it (a batch prefetch by onMiss for another page, say)
   *  may bring different ones. */
  dropInvalid(pageState: Uint8Array): void {
    for (const page of this.allocated) if (this.mark[page] !== 0 && pageState[page] === 0) this.invalidate(page);
  }

  /** Forget everything (FENCE.I; bytes changed behind the hart's back). */
  flushAll(): void {
    for (const page of this.allocated) this.invalidate(page);
    this.flushes++;
  }
}
