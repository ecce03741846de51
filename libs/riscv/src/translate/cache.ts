// The code cache: compiled blocks by physical page and byte offset, beside the decode
// cache whose invalidation points it shares (decode-cache.ts: a store into a page with
// code, FENCE.I, a page recalled by mmu). Per page it keeps, for each 2-byte slot that
// started a block, how often the dispatcher came there (a block is compiled once it is
// hot) and the compiled function. Tables are cleared in place, never replaced, so a
// dispatcher holding one while a store invalidates it reads empty slots, not stale code.
//
// The bound is on compiled blocks (`maxBlocks`): past it the whole cache is dropped and
// refills with what is hot now, the policy QEMU applies when its translation buffer is
// full; simple, and it never keeps a block a store has made wrong.

import { PAGE_SIZE } from '@splitvisor/platform';
import type { HartState } from '../state.js';
import type { Insn } from './compile.js';
import { WasmDispatch } from './wasm/dispatch.js';
import { hostStep } from './host-step.js';
import type { WasmLayout, WasmMemory } from '../wasm-memory.js';

/** A WebAssembly block as filed: its function (for the dispatcher's table) and its
 *  slow-path descriptors. */
export interface WasmFiled {
  readonly run: unknown;
  readonly slow: Int32Array;
}

/** A compiled block: runs from `pc`, at most `budget` instructions (a loop checks it per
 *  pass), and returns the instructions attempted, negated when it left through a slow
 *  path (see compile.ts). */
export type BlockFn = (s: HartState, pc: number, budget: number, rT: Float64Array, wT: Float64Array) => number;

export interface PageTable {
  /** Times the dispatcher entered a block at this slot without a compiled one. */
  readonly hits: Uint16Array;
  /** Instructions of the block starting at this slot plus one, as last scanned (0: not
   *  scanned; 1: its first instruction is not one the compiler takes). */
  readonly extent: Uint8Array;
  /** 1 when the compiled block at this slot translates loads and stores through the TLB
   *  (made for HartState.dataVm on), 0 when it is made for physical addresses. */
  readonly vm: Uint8Array;
  /** Instructions in the compiled block at this slot (0: none). */
  readonly insns: Uint8Array;
  readonly fns: (BlockFn | undefined)[];
  /** 1 while a block for this slot waits in the cache's pending batch. */
  readonly queued: Uint8Array;
  /** The WebAssembly block's index in the dispatcher's table (-1: none, or JavaScript). */
  readonly idx: Int32Array;
}

/** What the code cache needs of RAM to chain WebAssembly blocks (GuestRam in a
 *  WebAssembly memory). */
export interface WasmRam {
  readonly memory: WasmMemory;
  readonly layout: WasmLayout;
  readonly base: number;
  readonly size: number;
}

/** A hot block waiting to be compiled with others into one WebAssembly module: its
 *  place, its instructions as scanned, and its page's epoch then (a block whose page was
 *  dropped since is not compiled: its instructions may be stale). */
export interface PendingBlock {
  readonly page: number;
  readonly slot: number;
  readonly insns: readonly Insn[];
  /** Made for translated data addresses (HartState.dataVm). */
  readonly vm: boolean;
  readonly epoch: number;
}

export interface TranslationStats {
  /** Blocks compiled since the hart was made. */
  compiled: number;
  /** Blocks now in the cache. */
  live: number;
  /** Guest instructions in the blocks now in the cache. */
  liveInsns: number;
  /** Bytes of generated code of the blocks now in the cache: JavaScript source, or the
   *  WebAssembly module of a block compiled to WebAssembly. */
  liveSourceBytes: number;
  /** Of the blocks compiled, those compiled to WebAssembly (the rest are JavaScript). */
  compiledWasm: number;
  /** Milliseconds spent compiling (generating code, and `new Function` or
   *  `new WebAssembly.Module` and its instance). */
  compileMs: number;
  /** Whole-cache drops because the bound was reached. */
  evictions: number;
  /** Pages whose blocks were dropped because their code changed or may have. */
  invalidations: number;
  /** CSR accesses run as host steps inside a chain of WebAssembly blocks
   *  (wasm/dispatch.ts), without going back to the run loop. */
  hostSteps: number;
}

const SLOTS = PAGE_SIZE >> 1;

export class TranslationCache {
  private readonly pages: (PageTable | null)[];
  private readonly inUse: number[] = [];
  /** Per page, bumped whenever its blocks are dropped (PendingBlock.epoch, and the
   *  dispatcher's jump cache: in RAM's WebAssembly memory when there is one). */
  private readonly epochs: Uint32Array;
  /** The chaining dispatcher of WebAssembly blocks (null without a WebAssembly RAM). */
  readonly dispatch: WasmDispatch | null;
  /** Slow-path descriptors of WebAssembly blocks by table index. */
  readonly wasmSlow: (Int32Array | undefined)[] = [];
  /** The instance of the M-extension helpers every WebAssembly block module imports
   *  (wasm/compile.ts helperModule), made with the first batch. */
  wasmHelpers: Record<string, unknown> | null = null;
  /** Hot blocks not yet compiled (WebAssembly is compiled a batch at a time). */
  readonly pending: PendingBlock[] = [];
  /** Source bytes per live block, for the memory figure. */
  private readonly sourceBytes: (Uint32Array | null)[];
  readonly stats: TranslationStats = {
    compiled: 0,
    live: 0,
    liveInsns: 0,
    liveSourceBytes: 0,
    compiledWasm: 0,
    compileMs: 0,
    evictions: 0,
    invalidations: 0,
    hostSteps: 0,
  };

  constructor(
    pages: number,
    /** Compiled blocks kept before the cache is dropped whole. */
    readonly maxBlocks: number,
    /** Entries into a block before it is compiled. */
    readonly hotEntries: number,
    /** Hot blocks compiled together into one WebAssembly module. */
    readonly batchBlocks: number,
    wasm: WasmRam | null = null,
  ) {
    if (!Number.isSafeInteger(batchBlocks) || batchBlocks < 1 || batchBlocks > 1024)
      throw new RangeError(`compileBatch ${batchBlocks}: an integer from 1 to 1024`);
    if (!Number.isSafeInteger(maxBlocks) || maxBlocks < 1) throw new RangeError(`maxBlocks ${maxBlocks}: a positive integer`);
    if (!Number.isSafeInteger(hotEntries) || hotEntries < 1 || hotEntries > 0xffff)
      throw new RangeError(`hotEntries ${hotEntries}: an integer from 1 to 65535`);
    this.pages = new Array<PageTable | null>(pages).fill(null);
    this.epochs = wasm ? new Uint32Array(wasm.memory.buffer, wasm.layout.epochAt, pages).fill(0) : new Uint32Array(pages);
    this.dispatch = wasm ? new WasmDispatch(wasm.memory, wasm.layout, wasm.base, wasm.size, hostStep) : null;
    this.sourceBytes = new Array<Uint32Array | null>(pages).fill(null);
  }

  /** The table of a page, made empty on first use. */
  page(page: number): PageTable {
    let t = this.pages[page];
    if (t === null || t === undefined) {
      t = {
        hits: new Uint16Array(SLOTS),
        extent: new Uint8Array(SLOTS),
        vm: new Uint8Array(SLOTS),
        insns: new Uint8Array(SLOTS),
        fns: new Array<BlockFn | undefined>(SLOTS).fill(undefined),
        queued: new Uint8Array(SLOTS),
        idx: new Int32Array(SLOTS).fill(-1),
      };
      this.pages[page] = t;
      this.sourceBytes[page] = new Uint32Array(SLOTS);
      this.inUse.push(page);
    }
    return t;
  }

  /** Stores a compiled block of `insns` instructions and `codeBytes` of generated code (in
   *  place of one made for the other `vm`); drops the whole cache first when it is full. */
  insert(page: number, slot: number, insns: number, codeBytes: number, wasm: WasmFiled | null, fn: BlockFn, vm: boolean, ms: number): void {
    const old = this.pages[page];
    if (old && old.fns[slot] !== undefined) this.forget(old, page, slot);
    if (this.stats.live >= this.maxBlocks) {
      this.clearAll();
      this.stats.evictions++;
    }
    const t = this.page(page);
    t.fns[slot] = fn;
    t.vm[slot] = vm ? 1 : 0;
    t.insns[slot] = insns;
    t.hits[slot] = 0;
    if (wasm !== null && this.dispatch !== null) {
      const idx = this.dispatch.add(wasm.run);
      this.wasmSlow[idx] = wasm.slow;
      t.idx[slot] = idx;
      this.dispatch.link(page * PAGE_SIZE + slot * 2, this.epochs[page]!, idx, insns, vm);
    }
    this.sourceBytes[page]![slot] = codeBytes;
    const st = this.stats;
    st.compiled++;
    if (wasm !== null) st.compiledWasm++;
    st.live++;
    st.liveInsns += insns;
    st.liveSourceBytes += codeBytes;
    st.compileMs += ms;
  }

  /** Files the CSR instruction `inst` (destination `rd`) at `slot` of `page` as a host
   *  step the dispatcher runs between blocks (wasm/dispatch.ts), until the page's blocks
   *  are dropped. */
  linkHostStep(page: number, slot: number, inst: number, rd: number): void {
    this.dispatch?.linkHost(page * PAGE_SIZE + slot * 2, this.epochs[page]!, inst, rd);
  }

  /** Queues a hot block for the next batch; false when it is already queued. */
  enqueue(page: number, slot: number, insns: readonly Insn[], vm: boolean): boolean {
    const t = this.page(page);
    if (t.queued[slot] !== 0) return false;
    t.queued[slot] = 1;
    this.pending.push({ page, slot, insns, vm, epoch: this.epochs[page]! });
    return true;
  }

  /** Takes the pending batch, without the blocks whose page was dropped since. */
  takePending(): PendingBlock[] {
    const out: PendingBlock[] = [];
    for (const p of this.pending) {
      const t = this.pages[p.page];
      if (t === null || t === undefined || p.epoch !== this.epochs[p.page]) continue;
      t.queued[p.slot] = 0;
      out.push(p);
    }
    this.pending.length = 0;
    return out;
  }

  /** Forgets a page's blocks and counts (its bytes changed or may have). */
  dropPage(page: number): void {
    this.epochs[page]!++;
    const t = this.pages[page];
    if (t === null || t === undefined) return;
    let any = false;
    for (let k = 0; k < SLOTS; k++) {
      if (t.fns[k] === undefined) continue;
      any = true;
      this.forget(t, page, k);
    }
    t.hits.fill(0);
    t.extent.fill(0);
    t.queued.fill(0);
    if (any) this.stats.invalidations++;
  }

  private forget(t: PageTable, page: number, slot: number): void {
    const bytes = this.sourceBytes[page]!;
    const st = this.stats;
    st.live--;
    st.liveInsns -= t.insns[slot]!;
    st.liveSourceBytes -= bytes[slot]!;
    t.fns[slot] = undefined;
    t.insns[slot] = 0;
    bytes[slot] = 0;
    const idx = t.idx[slot]!;
    if (idx >= 0) {
      this.dispatch!.remove(page * PAGE_SIZE + slot * 2, idx);
      this.wasmSlow[idx] = undefined;
      t.idx[slot] = -1;
    }
  }

  private clearAll(): void {
    for (const page of this.inUse) {
      const t = this.pages[page]!;
      for (let k = 0; k < SLOTS; k++) if (t.fns[k] !== undefined) this.forget(t, page, k);
      this.epochs[page]!++;
      t.queued.fill(0);
      t.fns.fill(undefined);
      t.insns.fill(0);
      t.hits.fill(0);
      t.extent.fill(0);
      this.sourceBytes[page]!.fill(0);
    }
    this.stats.live = 0;
    this.stats.liveInsns = 0;
    this.stats.liveSourceBytes = 0;
  }
}
