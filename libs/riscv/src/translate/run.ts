// The translating engine's batch loop: the same contract as executeBatch (executor.ts),
// at most `limit` instructions, counters and pc left exactly as the interpreter leaves
// them, but hot code runs as compiled blocks (compile.ts) from the code cache (cache.ts).
//
// Per block entry: is pc inside the current fetch window (a RAM page, as fetchLookup
// found it)? Is there a compiled block at this physical slot? Has the slot become hot?
// Anything else (ROM, the page's last parcel, a fetch fault, an instruction the compiler
// leaves out, a block longer than the budget left, a cold block) is the interpreter's, for
// exactly the instructions it covers, so the reference semantics stay in one place.

import { PAGE_SIZE } from '@splitvisor/platform';
import { executeBatch } from '../executor.js';
import { decodeRamSlot, fetchLookup, loadSlow, storeSlow } from '../mem-access.js';
import { jumpToPair } from '../trap.js';
import { div, divu, divuw, divw, mulh, mulhsu, mulhu, mulhu32, rem, remu, remuw, remw } from '../isa/m/execute.js';
import type { HartState } from '../state.js';
import { compileBlock, scanBlock, SLOW_WORDS, SlowKind, type BlockSource } from './compile.js';
import type { BlockFn, TranslationCache } from './cache.js';
import { compileWasmBlock, HELPER_IMPORTS, helperModule, wasmModule, type WasmTarget } from './wasm/compile.js';
import { HOST_EXIT } from './wasm/dispatch.js';
import { hostChain } from './host-step.js';
import { Op } from '../ops.js';
import { wordOp, wordRd } from '../decoder.js';
import { Wasm } from '../wasm-memory.js';

/** Entries into a block before it is compiled, by default: compiling a block costs about
 *  as much as interpreting a few thousand instructions, so code that runs once stays
 *  interpreted. */
export const HOT_ENTRIES = 32;

/** Hot blocks compiled together into one WebAssembly module, by default: a module costs
 *  about a millisecond to make whatever it holds, so blocks that become hot together are
 *  compiled together (and at the latest at the end of the run). */
export const COMPILE_BATCH = 32;
/** A batch is compiled, full or not, once this many instructions ran since its first
 *  block was queued: blocks wait to be compiled for less than a module costs. */
const PENDING_STEPS = 5_000;

/** Runs at most `limit` instructions through the code cache; returns how many were
 *  attempted. */
export function executeTranslated(s: HartState, tc: TranslationCache, limit: number): number {
  const instret0 = s.instret;
  const cycles0 = s.cycles;
  const exc0 = s.exceptions;
  const vm = s.dataVm;
  const vmFlag = vm ? 1 : 0;
  const rT = s.dSet.r;
  const wT = s.dSet.w;
  // The dispatcher chains WebAssembly blocks (wasm/dispatch.ts): the TLB tables as
  // offsets in RAM's memory, the fetch set's only when fetches translate.
  const chain = s.wasmAt >= 0 ? tc.dispatch : null;
  const rAt = rT.byteOffset;
  const wAt = wT.byteOffset;
  const xAt = s.fetchVm ? s.fSet.x.byteOffset : -1;
  if (chain !== null) {
    // Whose counters a host step inside a chain reads (host-step.ts).
    hostChain.s = s;
    hostChain.cycles0 = cycles0;
    hostChain.instret0 = instret0;
    hostChain.exc0 = exc0;
    hostChain.stats = tc.stats;
  }
  let steps = 0;
  let base = 0; // the fetch window: virtual base, length, physical offset, page table
  let len = 0;
  let phys = 0;
  let table = tc.page(0);
  let pendingSince = 0; // steps when the first block of the pending batch was queued

  while (steps < limit) {
    const pc = s.pc;
    let off = pc - base;
    if (!(off >= 0 && off < len)) {
      if (!fetchLookup(s, pc)) {
        steps++; // the fetch fault is this step's outcome
        if (s.brk) break;
        continue;
      }
      if (s.brk || s.fRom !== null || s.fLen !== PAGE_SIZE - 2) {
        // A callback asked for the outer loop (one instruction, then stop, as the
        // interpreter does), or code outside a RAM page: the interpreter's.
        steps += interpret(s, 1, cycles0, instret0, exc0, steps);
        if (s.brk) break;
        continue;
      }
      base = s.fBase;
      len = s.fLen;
      phys = s.fPhysOff;
      table = tc.page(phys / PAGE_SIZE);
      off = pc - base;
    }
    const slot = off >>> 1;
    const fn = table.fns[slot];
    const left = limit - steps;
    // A WebAssembly block (idx >= 0) runs through the dispatcher; a hart with no area in
    // RAM's WebAssembly memory (chain null: past WASM_HARTS) interprets it.
    const idx = table.idx[slot]!;
    if (fn !== undefined && table.vm[slot] === vmFlag && table.insns[slot]! <= left && (idx < 0 || chain !== null)) {
      if (idx >= 0) {
        // This block and those after it (and the host steps between them), until one
        // leaves otherwise than straight on.
        hostChain.before = steps;
        steps += chain!.run(pc, left, s.wasmAt, rAt, wAt, xAt, vmFlag, idx);
        const kind = s.exitWords[0]!;
        if (kind === HOST_EXIT) {
          len = 0; // a host step trapped or asked for the outer loop: pc is set, and counted
        } else if (kind !== -1) {
          const r = finishWasmExit(s, s.exitBlockPc[0]!, kind, s.exitWords[6]!, tc.wasmSlow[s.exitWords[7]!]!);
          steps -= r;
          len = 0; // a slow path ran: look the window up again, as the interpreter does
        } else {
          s.pc = s.exitNpc[0]!;
        }
        if (s.brk) break;
        continue;
      }
      const r = fn(s, pc, left, rT, wT);
      if (r < 0) {
        steps -= r;
        len = 0; // a slow path ran: look the window up again, as the interpreter does
      } else {
        steps += r;
      }
      if (s.brk) break;
      continue;
    }
    // Not compiled (or too long for the budget left): the block's extent, from the
    // decoded slots once, then compile it if it is hot, else interpret exactly that far.
    if (tc.pending.length > 0 && steps - pendingSince >= PENDING_STEPS) {
      compilePending(s, tc);
      continue;
    }
    let n = table.extent[slot]! - 1;
    if (n < 0) {
      n = scan(s, base, phys, off).length;
      table.extent[slot] = n + 1;
    }
    if (n === 0) {
      // An instruction no block takes. A CSR access becomes a host step the dispatcher
      // runs between blocks (wasm/dispatch.ts), so the next chain need not stop here.
      if (chain !== null) {
        const blk = s.ram.code.block(phys / PAGE_SIZE);
        const w = blk[off]!;
        if (wordOp(w) === Op.CSR) tc.linkHostStep(phys / PAGE_SIZE, slot, blk[off + 1]!, wordRd(w));
      }
      steps += interpret(s, 1, cycles0, instret0, exc0, steps);
      len = 0;
      if (s.brk) break;
      continue;
    }
    if ((fn === undefined || table.vm[slot] !== vmFlag) && n <= left && table.queued[slot] === 0 && ++table.hits[slot]! >= tc.hotEntries) {
      // WebAssembly where RAM and this hart's registers and TLB are in a WebAssembly
      // memory, compiled a batch at a time; JavaScript otherwise.
      const insns = scan(s, base, phys, off);
      if (s.wasmAt >= 0) {
        if (tc.pending.length === 0) pendingSince = steps;
        tc.enqueue(phys / PAGE_SIZE, slot, insns, vm);
        if (tc.pending.length >= tc.batchBlocks) {
          compilePending(s, tc);
          continue; // run it from the top of the loop
        }
      } else {
        const t0 = performance.now();
        const src = compileBlock(insns, vm);
        tc.insert(phys / PAGE_SIZE, slot, src.insns, src.body.length, null, makeBlock(src, s.ram), vm, performance.now() - t0);
        continue; // run it from the top of the loop
      }
    }
    steps += interpret(s, n < left ? n : left, cycles0, instret0, exc0, steps);
    len = 0;
    if (s.brk) break;
  }

  if (tc.pending.length > 0) compilePending(s, tc);
  s.cycles = cycles0 + steps;
  s.instret = instret0 + steps - (s.exceptions - exc0);
  return steps;
}

/** Compiles the pending batch into one WebAssembly module and files its blocks. */
function compilePending(s: HartState, tc: TranslationCache): void {
  const t0 = performance.now();
  const ram = s.ram;
  const lay = ram.layout!;
  const batch = tc.takePending();
  if (batch.length === 0) return;
  const target: WasmTarget = { ramBase: ram.base, ramSize: ram.size, stateAt: lay.stateAt, markAt: lay.markAt, memPages: lay.bytes / 65536 };
  const blocks = batch.map((p) => compileWasmBlock(p.insns, target, p.vm));
  const bytes = wasmModule(blocks, target.memPages);
  const helpers = (tc.wasmHelpers ??= new Wasm.Instance(new Wasm.Module(helperModule(target.memPages)), { env: { mem: ram.memory } }).exports);
  const exports = new Wasm.Instance(new Wasm.Module(bytes), { env: { mem: ram.memory }, [HELPER_IMPORTS]: helpers }).exports;
  const ms = (performance.now() - t0) / batch.length;
  const share = Math.floor(bytes.length / batch.length);
  batch.forEach((p, k) => {
    tc.insert(p.page, p.slot, blocks[k]!.insns, share, { run: exports[`b${k}`], slow: blocks[k]!.slow }, RUN_BY_DISPATCHER, p.vm, ms);
  });
}

/** The instructions of the block at byte `off` of the window's page (decoding slots the
 *  interpreter has not yet decoded). */
function scan(s: HartState, base: number, phys: number, off: number) {
  const blk = s.ram.code.block(phys / PAGE_SIZE);
  s.fBlk = blk;
  s.fBase = base;
  s.fPhysOff = phys;
  s.fRom = null;
  return scanBlock(
    off,
    (k) => (blk[k] !== 0 ? blk[k]! : decodeRamSlot(s, blk, k, base + k)),
    (k) => blk[k + 1]!,
  );
}

/** A block's slow path `k` (compile.ts SLOW_WORDS), after it stored its registers:
 *  the interpreter's own slow path for the load or store, which may trap. */
function slowExit(s: HartState, pc: number, d: Int32Array, k: number, ret: number): number {
  const at = k * SLOW_WORDS;
  const off = d[at + 1]!;
  const reg = d[at + 6]!;
  const size = d[at + 5]! as 1 | 2 | 4 | 8;
  s.pc = pc + off;
  const ok =
    d[at] === SlowKind.Load ? loadSlow(s, d[at + 3]!, d[at + 4]!, size, (reg & 0x100) !== 0, reg & 0xff) : storeSlow(s, d[at + 3]!, d[at + 4]!, size, reg);
  if (ok) s.pc = pc + off + d[at + 2]!;
  return -ret;
}

/** The interpreter for `n` instructions, with the counters it reads brought up to date. */
function interpret(s: HartState, n: number, cycles0: number, instret0: number, exc0: number, steps: number): number {
  s.cycles = cycles0 + steps;
  s.instret = instret0 + steps - (s.exceptions - exc0);
  return executeBatch(s, n);
}

/** What a compiled block's code names besides its arguments: guest RAM's views and the
 *  slow paths, bound once per block by the closure `new Function` builds. */
function makeBlock(src: BlockSource, ram: HartState['ram']): BlockFn {
  const factory = new Function(
    'env',
    'const { u8, s8, s16, u16, s32, pageState, codeMark, code, ramBase, ramSize, SLOW, slowExit, jumpToPair, mulhu32, mulh, mulhsu, mulhu, div, divu, rem, remu, divw, divuw, remw, remuw } = env;\n' +
      `return function block(s, pc, budget, rT, wT) {\n${src.body}\n};`,
  ) as (env: object) => BlockFn;
  return factory({
    SLOW: src.slow,
    slowExit,
    u8: ram.bytes,
    s8: ram.s8,
    s16: ram.s16,
    u16: ram.u16,
    s32: ram.s32,
    pageState: ram.pageState,
    codeMark: ram.code.mark,
    code: ram.code,
    ramBase: ram.base,
    ramSize: ram.size,
    jumpToPair,
    mulhu32,
    mulh,
    mulhsu,
    mulhu,
    div,
    divu,
    rem,
    remu,
    divw,
    divuw,
    remw,
    remuw,
  });
}

/** The code table's entry for a WebAssembly block: the dispatcher runs those blocks
 *  (through its own table), so the run loop never calls this. */
const RUN_BY_DISPATCHER: BlockFn = () => {
  throw new Error('translate: a WebAssembly block called outside the dispatcher');
};

/** Finishes the exit of a WebAssembly block called at `pc` that left by `kind` (not -1)
 *  after `ret` instructions, as compile.ts's epilogue does; returns the count negated. */
function finishWasmExit(s: HartState, pc: number, kind: number, ret: number, slow: Int32Array): number {
  if (kind >= 0) return slowExit(s, pc, slow, kind, ret);
  s.pc = s.exitNpc[0]!;
  if (kind === -2) {
    // The store is done and aligned (the fast path's condition), so one byte names its
    // chunk: the page's code goes if the store hit code.
    s.ram.code.stored(s.exitWords[1]! >>> 0, 1);
    return -ret;
  }
  // -3: a jump beyond 2^53 retired; fetching its target is a step that faults.
  jumpToPair(s, s.exitWords[2]!, s.exitWords[3]!);
  return -(ret + 1);
}
