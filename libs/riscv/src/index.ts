// @splitvisor/riscv: the hart engine. It knows guest RAM and a synchronous physical bus,
// nothing of gRPC, NATS or worker threads (DESIGN.md, "Shape of the code").

export { Hart, REGISTER_SNAPSHOT_WORDS, ENGINES, EXIT_BUDGET, EXIT_MONITOR_TRAP, EXIT_STOPPED, EXIT_WFI } from './hart.js';
export type { Engine, HartExit, HartOptions, HartStats } from './hart.js';
export type { TranslationStats } from './translate/index.js';
export { DEFAULT_MAX_BLOCKS, HOT_ENTRIES } from './translate/index.js';
export { GuestRam, PageState, EMPTY_BUS } from './memory.js';
export { fitsWasm, newWasmMemory, isWasmMemory, type WasmMemory } from './wasm-memory.js';
export type { PhysBus, PageStateValue } from './memory.js';
export { DecodeCache, SLOT_SHIFT } from './decode-cache.js';
export { Cause, Irq, causeName } from './trap.js';
export { Csr, MISA_LO, MISA_HI } from './csr.js';
export { HCsr } from './hypervisor/csr.js';
export { Htif } from './htif.js';
export type { HtifOptions } from './htif.js';
export { decodeInto, SINK, wordOp, wordRd, wordRs1, wordRs2 } from './decoder.js';
export { Op, opName } from './ops.js';
export type { OpCode } from './ops.js';
export * as encode from './testing/encode.js';
