// Guest RAM inside a WebAssembly memory, so that blocks the translator emits as
// WebAssembly (translate/wasm/) address it directly. The memory holds, in order:
//
//   [0, size)                  guest RAM, byte for byte (GuestRam.bytes)
//   [stateAt, + pages)         per page, its coherence state (GuestRam.pageState)
//   [markAt, + pages)          per page, 1 when code was decoded from it (DecodeCache.mark)
//   [epochAt, + 4 * pages)     per page, a count bumped when its compiled blocks are dropped
//   [jumpAt, + JUMP_ENTRIES * 16)
//                              the jump cache: compiled blocks by physical address, for
//                              the dispatcher that chains blocks (translate/wasm/dispatch.ts)
//   [hartsAt, + WASM_HARTS * HART_AREA)
//                              per hart: x0..x31 low words, high words, the words a block
//                              leaves its exit in (HartState.xl, xh, exit), and from
//                              TLB_AT its TLB's tables (mmu/tlb.ts)
//
// so a block's fast path is the interpreter's (RAM window, page state, code mark) read
// from the one memory, and its registers come from and go back to where the interpreter
// keeps them. The memory is shared (a SharedArrayBuffer), as guest RAM is between the cpu
// service's host thread and its vCPU worker.

import { PAGE_SIZE } from '@splitvisor/platform';

/** The part of WebAssembly this package uses (the TypeScript lib it compiles with,
 *  ES2023 without the DOM, does not describe WebAssembly). */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
}
interface WasmModule {
  readonly __module?: never;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
/** A table of functions (`call_indirect` reaches the blocks through it). */
export interface WasmTable {
  readonly length: number;
  get(i: number): unknown;
  set(i: number, f: unknown): void;
  grow(n: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Table: new (d: { element: 'anyfunc'; initial: number }) => WasmTable;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (m: WasmModule, imports: object) => WasmInstance;
}
export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Harts whose registers the memory has room for (hart ids 0..WASM_HARTS-1). */
export const WASM_HARTS = 16;
/** Bytes per hart area: xl at 0, xh at XH_AT, the exit words at EXIT_AT, the TLB's
 *  tables from TLB_AT (at most 7 sets of 3 tables of 4 KiB). */
export const HART_AREA = 128 * 1024;
export const TLB_AT = 4096;
export const XH_AT = 136;
/** Exit words (int32 index from EXIT_AT): 0 the exit kind, 1 a page, 2..3 the 64-bit
 *  jump target (low, high); the f64 at byte EXIT_AT + 16 is the next pc. The dispatcher
 *  leaves, for a block that ended it by a kind other than -1, the block's count at word 6
 *  and its table index at word 7, and the pc it was called with at byte EXIT_AT + 32. */
export const EXIT_AT = 272;
export const EXIT_NPC_AT = EXIT_AT + 16;
export const EXIT_BLOCK_PC_AT = EXIT_AT + 32;
const WASM_PAGE = 65536;
/** WebAssembly's 32-bit memories stop at 4 GiB. */
const WASM_MAX_BYTES = 2 ** 32;

/** Entries of the jump cache (16 bytes each, direct-mapped by instruction slot). */
export const JUMP_ENTRIES = 16384;

/** Where things are in the memory for guest RAM of `size` bytes. */
export interface WasmLayout {
  readonly stateAt: number;
  readonly markAt: number;
  readonly epochAt: number;
  readonly jumpAt: number;
  readonly hartsAt: number;
  /** The memory's length, whole WebAssembly pages. */
  readonly bytes: number;
}

export function wasmLayout(size: number): WasmLayout {
  const pages = size / PAGE_SIZE;
  const stateAt = size;
  const markAt = stateAt + pages;
  const epochAt = Math.ceil((markAt + pages) / 16) * 16;
  const jumpAt = epochAt + 4 * pages;
  const hartsAt = Math.ceil((jumpAt + JUMP_ENTRIES * 16) / HART_AREA) * HART_AREA;
  const bytes = Math.ceil((hartsAt + WASM_HARTS * HART_AREA) / WASM_PAGE) * WASM_PAGE;
  return { stateAt, markAt, epochAt, jumpAt, hartsAt, bytes };
}

/** True when guest RAM of `size` bytes fits a WebAssembly memory with the areas after it. */
export function fitsWasm(size: number): boolean {
  return wasmLayout(size).bytes <= WASM_MAX_BYTES;
}

/** A shared WebAssembly memory for guest RAM of `size` bytes (pass it to GuestRam). */
export function newWasmMemory(size: number): WasmMemory {
  if (!fitsWasm(size)) throw new RangeError(`RAM of ${size} bytes leaves no room in a 4 GiB WebAssembly memory for its page table`);
  const pages = wasmLayout(size).bytes / WASM_PAGE;
  return new Wasm.Memory({ initial: pages, maximum: pages, shared: true });
}

/** A WebAssembly.Memory rather than a bare buffer. */
export function isWasmMemory(x: unknown): x is WasmMemory {
  return typeof x === 'object' && x !== null && !(x instanceof ArrayBuffer) && !(x instanceof SharedArrayBuffer) && 'buffer' in x;
}
