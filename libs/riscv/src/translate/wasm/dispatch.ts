// Block chaining for WebAssembly blocks: a dispatcher, itself WebAssembly, that runs one
// compiled block after another without coming back to JavaScript, the way QEMU's blocks
// find the next one through its jump cache. Each block returns to the dispatcher; the
// dispatcher finds the block at the next pc in the jump cache (compiled blocks by physical
// address, in RAM's WebAssembly memory: wasm-memory.ts) and calls it through a table of
// functions, until the next pc has no compiled block there, a block leaves by a slow path
// (or a store over code, or a far jump), or the budget is spent. The run loop (run.ts)
// then goes on from where it stopped, so the rules for what runs compiled stay its own.
//
// A jump-cache entry, 16 bytes, direct-mapped by instruction slot: the block's physical
// offset + 1 (0: empty), its page's epoch when it was filed (cache.ts bumps a page's epoch
// when its blocks go, so a stale entry never matches), its table index, and its length
// in instructions | (1 << 8 when it was made for translated data addresses).
//
// Fetch: with translation off the pc is the physical address; with it on, the fetch TLB
// set (mmu/tlb.ts) is probed as fetchLookup probes it, and a miss goes back to the run
// loop. A page that is not present here (its state Invalid) goes back too.
//
// Host steps: an entry may instead name one instruction the host runs (HOST_ENTRY in the
// length word; the raw instruction in the index word, rd in the low byte): a CSR access,
// which a block does not compile. The dispatcher calls the imported `env.host` for it,
// as QEMU's blocks call a helper, and goes on from the next instruction when the host
// says so (it ran straight, nothing the chain depends on changed), so a polling loop that
// reads `time` between blocks stays in WebAssembly. Otherwise (a trap, or a write that
// asks the outer loop to look: s.brk) it leaves with HOST_EXIT, the pc already set.

import { EXIT_AT, EXIT_BLOCK_PC_AT, EXIT_NPC_AT, JUMP_ENTRIES, Wasm, type WasmLayout, type WasmMemory, type WasmTable } from '../../wasm-memory.js';
import { Code, F64, I32, I64, Mem, moduleBytes, Op } from './emit.js';
import { BLOCK_TYPE } from './compile.js';

// Parameters and locals of the dispatcher.
const PC = 0;
const BUDGET = 1;
const HART = 2;
const R_TLB = 3;
const W_TLB = 4;
const X_TLB = 5;
const VM = 6;
const IDX = 7;
const STEPS = 8;
const R = 9;
const O = 10;
const E = 11;
const A = 12;
const T = 13;

/** The length word's flag of a host-step entry. */
const HOST_ENTRY = 1 << 9;
/** The exit kind after a host step that did not go straight on: the host set pc, and the
 *  dispatcher's count includes the step. */
export const HOST_EXIT = -4;

/** The host's side of a host step: runs the instruction `inst` (destination `rd`) at `pc`
 *  after `steps` instructions of this dispatcher call; 1 when it went straight on and the
 *  chain may continue at pc + 4, 0 when the run loop must look (pc is set either way). */
export type HostStepFn = (pc: number, steps: number, inst: number, rd: number) => number;

/** run(pc, budget, hart, rTlb, wTlb, xTlb, vm, first) -> instructions of the blocks that
 *  ran and left straight (the exit words say where to go on, and about a block that left
 *  otherwise: wasm-memory.ts EXIT_AT). `first` is the table index of the block at pc,
 *  which the run loop found; xTlb is -1 when fetches are physical. */
export type DispatchFn = (pc: number, budget: number, hart: number, rTlb: number, wTlb: number, xTlb: number, vm: number, first: number) => number;

function dispatcherBytes(lay: WasmLayout, ramBase: number, ramSize: number): Uint8Array {
  const c = new Code();
  const out = c.block();
  const next = c.loop();
  // Run the block: straight on, or leave it to the run loop to finish its exit.
  c.get(PC).get(BUDGET).get(STEPS).op(Op.i32Sub).get(HART).get(R_TLB).get(W_TLB).get(IDX).callIndirect(0).set(R);
  c.get(HART).mem(Mem.i32Load, EXIT_AT).i32(-1).op(Op.i32Ne).if();
  c.get(HART)
    .get(R)
    .mem(Mem.i32Store, EXIT_AT + 24);
  c.get(HART)
    .get(IDX)
    .mem(Mem.i32Store, EXIT_AT + 28);
  c.get(HART).get(PC).mem(Mem.f64Store, EXIT_BLOCK_PC_AT);
  c.br(out).end();
  c.get(STEPS).get(R).op(Op.i32Add).set(STEPS);
  c.get(HART).mem(Mem.f64Load, EXIT_NPC_AT).set(PC);
  // The next block (or host step): budget left, the pc's physical offset, present, in the
  // jump cache.
  const look = c.loop();
  c.get(BUDGET).get(STEPS).op(Op.i32Sub).i32(0).op(0x4c /* i32.le_s */).brIf(out);
  c.get(PC).op(0xfc, 0x06 /* i64.trunc_sat_f64_s */).set(A);
  c.get(X_TLB).i32(0).op(0x48 /* i32.lt_s */).if(I64);
  c.get(A).i64(ramBase).op(Op.i64Sub);
  c.else();
  c.get(A).op(Op.i32WrapI64).i32(11).op(Op.i32Shru).i32(510).op(Op.i32And).i32(3).op(Op.i32Shl).get(X_TLB).op(Op.i32Add).set(E);
  c.get(E).mem(Mem.f64Load).get(A).i64(-4096).op(Op.i64And, Op.f64ConvertI64s, Op.f64Eq).if(I64);
  c.get(A).get(E).mem(Mem.f64Load, 8).op(0xfc, 0x06, Op.i64Add);
  c.else().i64(-1).end();
  c.end();
  c.tee(O).i64(ramSize).op(Op.i64Ltu, Op.i32Eqz).brIf(out);
  c.get(O).i64(12).op(Op.i64Shru, Op.i32WrapI64).set(T);
  c.get(T).mem(Mem.i32Load8u, lay.stateAt).op(Op.i32Eqz).brIf(out);
  c.get(O)
    .op(Op.i32WrapI64)
    .i32(1)
    .op(Op.i32Shru)
    .i32(JUMP_ENTRIES - 1)
    .op(Op.i32And)
    .i32(4)
    .op(Op.i32Shl)
    .set(E);
  c.get(E).mem(Mem.i32Load, lay.jumpAt).get(O).op(Op.i32WrapI64).i32(1).op(Op.i32Add, Op.i32Ne).brIf(out);
  c.get(E)
    .mem(Mem.i32Load, lay.jumpAt + 4)
    .get(T)
    .i32(2)
    .op(Op.i32Shl)
    .mem(Mem.i32Load, lay.epochAt)
    .op(Op.i32Ne)
    .brIf(out);
  c.get(E)
    .mem(Mem.i32Load, lay.jumpAt + 12)
    .set(R);
  c.get(R).i32(HOST_ENTRY).op(Op.i32And).if();
  c.get(PC)
    .get(STEPS)
    .get(E)
    .mem(Mem.i32Load, lay.jumpAt + 8)
    .get(R)
    .i32(255)
    .op(Op.i32And)
    .op(0x10 /* call */, 0 /* env.host, the only imported function */);
  c.get(STEPS).i32(1).op(Op.i32Add).set(STEPS);
  c.op(Op.i32Eqz).if();
  c.get(HART).i32(HOST_EXIT).mem(Mem.i32Store, EXIT_AT);
  c.br(out).end();
  c.get(PC).f64(4).op(Op.f64Add).set(PC);
  c.get(HART).get(PC).mem(Mem.f64Store, EXIT_NPC_AT);
  c.br(look).end();
  c.get(R).i32(8).op(Op.i32Shru).get(VM).op(Op.i32Ne).brIf(out);
  c.get(R).i32(255).op(Op.i32And).get(BUDGET).get(STEPS).op(Op.i32Sub).op(Op.i32Gts).brIf(out);
  c.get(E)
    .mem(Mem.i32Load, lay.jumpAt + 8)
    .set(IDX);
  c.br(next);
  c.end(); // look
  c.end(); // next
  c.end(); // out
  c.get(STEPS);
  return moduleBytes(
    [{ params: [F64, I32, I32, I32, I32, I32, I32, I32], result: I32, locals: [I32, I32, I64, I32, I64, I32], body: c, exportAs: 'run' }],
    lay.bytes / 65536,
    { table: true, callTypes: [BLOCK_TYPE], funcImports: [{ module: 'env', name: 'host', type: { params: [F64, I32, I32, I32], result: I32 } }] },
  );
}

/** The dispatcher of one RAM's code cache, its table of blocks and its jump cache. */
export class WasmDispatch {
  readonly run: DispatchFn;
  private readonly table: WasmTable;
  /** Free table indices. */
  private readonly free: number[] = [];
  private readonly jump: Int32Array;

  constructor(memory: WasmMemory, lay: WasmLayout, ramBase: number, ramSize: number, host: HostStepFn) {
    this.table = new Wasm.Table({ element: 'anyfunc', initial: 0 });
    const exports = new Wasm.Instance(new Wasm.Module(dispatcherBytes(lay, ramBase, ramSize)), { env: { mem: memory, table: this.table, host } }).exports;
    this.run = exports['run'] as DispatchFn;
    this.jump = new Int32Array(memory.buffer, lay.jumpAt, JUMP_ENTRIES * 4);
    this.jump.fill(0);
  }

  /** Files a block's function; returns its table index. */
  add(fn: unknown): number {
    let i = this.free.pop();
    if (i === undefined) {
      i = this.table.length;
      this.table.grow(Math.max(64, i));
      for (let k = this.table.length - 1; k > i; k--) this.free.push(k);
    }
    this.table.set(i, fn);
    return i;
  }

  /** Points the jump cache at block `idx` for physical offset `off` (its page at `epoch`). */
  link(off: number, epoch: number, idx: number, insns: number, vm: boolean): void {
    const e = ((off >>> 1) & (JUMP_ENTRIES - 1)) * 4;
    const j = this.jump;
    j[e] = off + 1;
    j[e + 1] = epoch;
    j[e + 2] = idx;
    j[e + 3] = insns | (vm ? 1 << 8 : 0);
  }

  /** Points the jump cache at a host step for physical offset `off` (its page at `epoch`):
   *  the raw instruction `inst` with destination `rd` (decoder.ts: SINK for x0). */
  linkHost(off: number, epoch: number, inst: number, rd: number): void {
    const e = ((off >>> 1) & (JUMP_ENTRIES - 1)) * 4;
    const j = this.jump;
    j[e] = off + 1;
    j[e + 1] = epoch;
    j[e + 2] = inst;
    j[e + 3] = HOST_ENTRY | rd;
  }

  /** Forgets block `idx` at physical offset `off`: its entry, if still its own, and its index. */
  remove(off: number, idx: number): void {
    const e = ((off >>> 1) & (JUMP_ENTRIES - 1)) * 4;
    if (this.jump[e] === off + 1 && this.jump[e + 2] === idx) this.jump[e] = 0;
    this.table.set(idx, null);
    this.free.push(idx);
  }
}
