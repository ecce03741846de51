// The block compiler's WebAssembly back end: the same blocks as compile.ts (scanBlock's
// instructions, the same exits, the same slow-path descriptors), emitted as one module
// whose function keeps each guest register the block touches in an i64 local. RV64's
// 64-bit arithmetic is then the host's own, where the JavaScript back end pairs int32s.
//
// A block is made for physical data addresses (HartState.dataVm off) or for translated
// ones, whose loads and stores probe the TLB set the dispatcher passes. Guest RAM, its
// page states and code marks, the hart's registers and its TLB are all in RAM's
// WebAssembly memory (wasm-memory.ts), so the fast paths read what the interpreter reads.
//
// Blocks are compiled in batches, one module for all the blocks that became hot about the
// same time (wasmModule), one exported function per block. The M-extension helpers every
// block may call are a module of their own (helperModule), made once per RAM and imported
// by each batch's module, so a batch carries and compiles only its blocks.
//
// A block's function is (pc: f64, budget: i32, hart: i32, rTlb: i32, wTlb: i32) -> i32:
// `hart` is the byte offset of the hart's area, so one module serves every hart sharing
// the code cache, and rTlb, wTlb those of the TLB tables for loads and stores. It returns
// the instructions attempted and leaves in the exit words (EXIT_AT) how it left: -1
// straight (next pc beside), -2 a store into a page with code (its RAM offset beside), -3 a
// jump beyond 2^53 (the target beside), k >= 0 slow path k. run.ts's wrapper finishes the
// exit as compile.ts's epilogue does.

import { SINK } from '../../decoder.js';
import { Op as RvOp } from '../../ops.js';
import { EXIT_AT, EXIT_NPC_AT, XH_AT } from '../../wasm-memory.js';
import { blockRegisters, SLOW_WORDS, SlowKind, type Insn } from '../compile.js';
import { Code, F64, I32, I64, Mem, moduleBytes, Op, type FuncDef, type FuncType, type Label, type MemOp } from './emit.js';

/** Where the fast paths look in the memory, and RAM's place in guest-physical space. */
export interface WasmTarget {
  readonly ramBase: number;
  readonly ramSize: number;
  readonly stateAt: number;
  readonly markAt: number;
  /** The memory's length in 64 KiB pages (the module's import declares it). */
  readonly memPages: number;
}

export interface WasmBlock {
  /** Instructions in one pass through the block. */
  readonly insns: number;
  /** Its function, for wasmModule. */
  readonly func: FuncDef;
  /** Slow-path descriptors, as compile.ts lays them out. */
  readonly slow: Int32Array;
}

// Locals: the five parameters, then the block's scratch, then one i64 per guest register.
const PC = 0;
const BUDGET = 1;
const HART = 2;
const R_TLB = 3;
const W_TLB = 4;
const PARAMS = [F64, I32, I32, I32, I32];
/** A block function's type (the dispatcher calls blocks through a table with it). */
export const BLOCK_TYPE: FuncType = { params: PARAMS, result: I32 };
const ST = 5;
const RET = 6;
const SLOW = 7;
const NPC = 8;
const O = 9;
const T = 10;
const IDX = 11;
const FIRST_REG = 12;
const SCRATCH = [I32, I32, I32, F64, I64, I64, I32];

const MIN64 = -(2n ** 63n);
const TWO53 = 2n ** 53n;

/** Helpers a block calls: functions 0.. of every module, in this order. */
const HELPERS = ['mulhu', 'mulh', 'mulhsu', 'div', 'divu', 'rem', 'remu', 'divw', 'divuw', 'remw', 'remuw'] as const;
type Helper = (typeof HELPERS)[number];
const HELPER_OF: Record<number, Helper> = {
  [RvOp.MULH]: 'mulh',
  [RvOp.MULHSU]: 'mulhsu',
  [RvOp.MULHU]: 'mulhu',
  [RvOp.DIV]: 'div',
  [RvOp.DIVU]: 'divu',
  [RvOp.REM]: 'rem',
  [RvOp.REMU]: 'remu',
  [RvOp.DIVW]: 'divw',
  [RvOp.DIVUW]: 'divuw',
  [RvOp.REMW]: 'remw',
  [RvOp.REMUW]: 'remuw',
};

const LOADS: Record<number, { size: number; unsigned: boolean; op: MemOp }> = {
  [RvOp.LB]: { size: 1, unsigned: false, op: Mem.i64Load8s },
  [RvOp.LH]: { size: 2, unsigned: false, op: Mem.i64Load16s },
  [RvOp.LW]: { size: 4, unsigned: false, op: Mem.i64Load32s },
  [RvOp.LD]: { size: 8, unsigned: false, op: Mem.i64Load },
  [RvOp.LBU]: { size: 1, unsigned: true, op: Mem.i64Load8u },
  [RvOp.LHU]: { size: 2, unsigned: true, op: Mem.i64Load16u },
  [RvOp.LWU]: { size: 4, unsigned: true, op: Mem.i64Load32u },
};
const STORES: Record<number, { size: number; op: MemOp }> = {
  [RvOp.SB]: { size: 1, op: Mem.i64Store8 },
  [RvOp.SH]: { size: 2, op: Mem.i64Store16 },
  [RvOp.SW]: { size: 4, op: Mem.i64Store32 },
  [RvOp.SD]: { size: 8, op: Mem.i64Store },
};

/** State of one block's emission. */
class BlockEmitter {
  readonly c = new Code();
  readonly slow: number[] = [];
  /** Guest register -> its local. */
  readonly local = new Map<number, number>();
  out: Label = -1;
  top: Label = -1;

  constructor(
    readonly t: WasmTarget,
    readonly n: number,
    /** Loads and stores translate through the TLB. */
    readonly vm: boolean,
  ) {}

  /** Pushes x[r] (x0 reads zero). */
  reg(r: number): void {
    if (r === 0) this.c.i64(0);
    else this.c.get(this.local.get(r)!);
  }
  /** Pops the value on the stack into rd (a write to x0, SINK, drops it). */
  setRd(rd: number): void {
    if (rd === SINK)
      this.c.op(0x1a); // drop
    else this.c.set(this.local.get(rd)!);
  }
  /** Pushes pc + off as a double. */
  pcPlus(off: number): void {
    this.c.get(PC);
    if (off !== 0) this.c.f64(off).op(Op.f64Add);
  }
  /** rd = pc + off (a link or AUIPC). */
  setPcRelative(rd: number, off: number): void {
    if (rd === SINK) return;
    this.pcPlus(off);
    this.c.op(Op.i64TruncF64s);
    this.setRd(rd);
  }
  /** Leaves the block after `done` instructions with the next pc on the stack (f64). */
  exitWithNpc(done: number): void {
    this.c.set(NPC).get(ST).i32(done).op(Op.i32Add).set(RET).br(this.out);
  }
  /** Leaves with exit kind `kind` (pc + npcOff the next pc) after `done` instructions. */
  exitKind(kind: number, npcOff: number, done: number): void {
    this.c.i32(kind).set(SLOW);
    this.pcPlus(npcOff);
    this.exitWithNpc(done);
  }
  /** A taken transfer to byte offset `to`: loops to the start while a pass fits. */
  jump(to: number, done: number): void {
    if (to !== 0) {
      this.pcPlus(to);
      this.exitWithNpc(done);
      return;
    }
    const c = this.c;
    c.get(ST).i32(done).op(Op.i32Add).tee(ST).i32(this.n).op(Op.i32Add).get(BUDGET).op(0x4c /* i32.le_s */).brIf(this.top);
    this.pcPlus(0);
    this.exitWithNpc(0);
  }
  /** o = x[rs1] + imm - ramBase, then an i32 on the stack: the access may take the fast
   *  path (in RAM, aligned, the page's state at least `state`: 1 any, 2 Modified). */
  fastCheck(i: Insn, size: number, state: number): void {
    const c = this.c;
    this.reg(i.rs1);
    if (this.vm) {
      // The TLB probe (mmu/tlb.ts): entry (va >>> 11) & 510 holds the page's base as a
      // double and the RAM offset minus it; a miss leaves o = -1, outside RAM.
      c.i64(i.imm).op(Op.i64Add).set(T);
      c.get(T).op(Op.i32WrapI64).i32(11).op(Op.i32Shru).i32(510).op(Op.i32And).i32(3).op(Op.i32Shl);
      c.get(state === 2 ? W_TLB : R_TLB)
        .op(Op.i32Add)
        .tee(IDX)
        .mem(Mem.f64Load);
      c.get(T).i64(-4096).op(Op.i64And, Op.f64ConvertI64s, Op.f64Eq).if(I64);
      c.get(T).get(IDX).mem(Mem.f64Load, 8).op(0xfc, 0x06 /* i64.trunc_sat_f64_s */, Op.i64Add);
      c.else().i64(-1).end();
    } else {
      c.i64(i.imm - this.t.ramBase).op(Op.i64Add); // both safe integers: so is the difference
    }
    c.tee(O).i64(this.t.ramSize).op(Op.i64Ltu);
    if (size > 1)
      c.get(O)
        .i64(size - 1)
        .op(Op.i64And, Op.i64Eqz, Op.i32And);
    c.if(I32);
    this.pageByte(this.t.stateAt);
    if (state === 2) c.i32(2).op(Op.i32Eq);
    c.else().i32(0).end();
  }
  /** Pushes the byte at `at + (o >> 12)`: a per-page table. */
  pageByte(at: number): void {
    this.c.get(O).i64(12).op(Op.i64Shru, Op.i32WrapI64).mem(Mem.i32Load8u, at);
  }
  /** The slow path of the access `i`: its descriptor, and the exit to it. */
  slowPath(done: number, kind: number, i: Insn, size: number, reg: number): void {
    const k = this.slow.length / SLOW_WORDS;
    this.slow.push(kind, i.off, i.len, i.rs1, i.imm, size, reg);
    this.c.i32(k).set(SLOW).get(ST).i32(done).op(Op.i32Add).set(RET).br(this.out);
  }
}

/** The import module name under which a block module finds helperModule's exports. */
export const HELPER_IMPORTS = 'm';

/** The M-extension helpers (helperFunc), exported by their names: a block module imports
 *  them (wasmModule) as its first functions, so a block calls helper k as function k. */
export function helperModule(memPages: number): Uint8Array {
  return moduleBytes(
    helperFuncs().map((f, k) => ({ ...f, exportAs: HELPERS[k] })),
    memPages,
  );
}

/** A module of blocks (compileWasmBlock's), exported as b0, b1, ... in order; it imports
 *  helperModule's functions from HELPER_IMPORTS. */
export function wasmModule(blocks: readonly WasmBlock[], memPages: number): Uint8Array {
  return moduleBytes(
    blocks.map((b, k) => ({ ...b.func, exportAs: `b${k}` })),
    memPages,
    { funcImports: HELPER_IMPORTS_LIST },
  );
}

/** Compiles a block (scanBlock's instructions) for physical data addresses, or (`vm`)
 *  for addresses the TLB translates. */
export function compileWasmBlock(insns: readonly Insn[], t: WasmTarget, vm: boolean): WasmBlock {
  const n = insns.length;
  const e = new BlockEmitter(t, n, vm);
  const c = e.c;
  const { used: order, written } = blockRegisters(insns);
  order.forEach((r, k) => e.local.set(r, FIRST_REG + k));
  // Prologue: the registers from the hart's arrays (xl unsigned, xh shifted in).
  for (const r of order) {
    c.get(HART)
      .mem(Mem.i32Load, 4 * r)
      .op(Op.i64ExtendI32u);
    c.get(HART)
      .mem(Mem.i32Load, XH_AT + 4 * r)
      .op(Op.i64ExtendI32s)
      .i64(32)
      .op(Op.i64Shl, Op.i64Or);
    c.set(e.local.get(r)!);
  }
  c.i32(-1).set(SLOW);
  e.out = c.block();
  e.top = c.loop();
  for (let k = 0; k < n; k++) emit(e, insns[k]!, k);
  const last = insns[n - 1]!;
  if (last.op !== RvOp.JAL && last.op !== RvOp.JALR) {
    e.pcPlus(last.off + last.len);
    e.exitWithNpc(n);
  }
  c.end(); // loop
  c.end(); // block
  // Epilogue: written registers back, the exit words, the count.
  for (const r of written) {
    const l = e.local.get(r)!;
    c.get(HART)
      .get(l)
      .op(Op.i32WrapI64)
      .mem(Mem.i32Store, 4 * r);
    c.get(HART)
      .get(l)
      .i64(32)
      .op(Op.i64Shru, Op.i32WrapI64)
      .mem(Mem.i32Store, XH_AT + 4 * r);
  }
  c.get(HART).get(SLOW).mem(Mem.i32Store, EXIT_AT);
  c.get(HART).get(NPC).mem(Mem.f64Store, EXIT_NPC_AT);
  c.get(RET);
  const func: FuncDef = { params: PARAMS, result: I32, locals: [...SCRATCH, ...order.map(() => I64)], body: c };
  return { insns: n, func, slow: Int32Array.from(e.slow) };
}

function emit(e: BlockEmitter, i: Insn, k: number): void {
  const c = e.c;
  const { rd, rs1, rs2, imm } = i;
  const done = k + 1;
  const next = i.off + i.len;
  // rd = f(x[rs1], imm) or f(x[rs1], x[rs2]) with one i64 opcode.
  const rri = (op: number) => {
    if (rd === SINK) return;
    e.reg(rs1);
    c.i64(imm).op(op);
    e.setRd(rd);
  };
  const rrr = (op: number) => {
    if (rd === SINK) return;
    e.reg(rs1);
    e.reg(rs2);
    c.op(op);
    e.setRd(rd);
  };
  // 32-bit ops: both operands' low words, the result sign-extended.
  const w = (op: number, b: 'imm' | 'reg') => {
    if (rd === SINK) return;
    e.reg(rs1);
    c.op(Op.i32WrapI64);
    if (b === 'imm') c.i32(imm);
    else {
      e.reg(rs2);
      c.op(Op.i32WrapI64);
    }
    c.op(op, Op.i64ExtendI32s);
    e.setRd(rd);
  };
  switch (i.op) {
    case RvOp.LI:
    case RvOp.LUI:
      if (rd !== SINK) {
        c.i64(imm);
        e.setRd(rd);
      }
      return;
    case RvOp.AUIPC:
      e.setPcRelative(rd, i.off + imm);
      return;
    case RvOp.JAL:
      e.setPcRelative(rd, next);
      e.jump(i.off + imm, done);
      return;
    case RvOp.JALR:
      // The target first: rd may be rs1.
      e.reg(rs1);
      c.i64(imm).op(Op.i64Add).i64(-2).op(Op.i64And).set(T);
      e.setPcRelative(rd, next);
      c.get(T)
        .i64(TWO53)
        .op(Op.i64Add)
        .i64(2n * TWO53)
        .op(Op.i64Ltu)
        .if();
      c.get(T).op(Op.f64ConvertI64s);
      e.exitWithNpc(done);
      c.end();
      // Beyond 2^53: the jump retires, and fetching its target is a step that faults.
      c.get(HART)
        .get(T)
        .mem(Mem.i64Store, EXIT_AT + 8);
      e.exitKind(-3, i.off, done);
      return;
    case RvOp.BEQ:
    case RvOp.BNE:
    case RvOp.BLT:
    case RvOp.BGE:
    case RvOp.BLTU:
    case RvOp.BGEU: {
      const cmp = [Op.i64Eq, Op.i64Ne, Op.i64Lts, Op.i64Ges, Op.i64Ltu, Op.i64Geu][i.op - RvOp.BEQ]!;
      e.reg(rs1);
      e.reg(rs2);
      c.op(cmp).if();
      e.jump(i.off + imm, done);
      c.end();
      return;
    }
    case RvOp.LB:
    case RvOp.LH:
    case RvOp.LW:
    case RvOp.LD:
    case RvOp.LBU:
    case RvOp.LHU:
    case RvOp.LWU: {
      const l = LOADS[i.op]!;
      e.fastCheck(i, l.size, 1);
      c.if();
      if (rd !== SINK) {
        c.get(O).op(Op.i32WrapI64).mem(l.op);
        e.setRd(rd);
      }
      c.else();
      e.slowPath(done, SlowKind.Load, i, l.size, rd | (l.unsigned ? 0x100 : 0));
      c.end();
      return;
    }
    case RvOp.SB:
    case RvOp.SH:
    case RvOp.SW:
    case RvOp.SD: {
      const s = STORES[i.op]!;
      e.fastCheck(i, s.size, 2);
      c.if();
      c.get(O).op(Op.i32WrapI64);
      e.reg(rs2);
      c.mem(s.op);
      // Code on the page may be this block's own next instructions: leave it, and the run
      // loop drops the page's code if the store landed where code was decoded.
      e.pageByte(e.t.markAt);
      c.if();
      c.get(HART)
        .get(O)
        .op(Op.i32WrapI64)
        .mem(Mem.i32Store, EXIT_AT + 4);
      e.exitKind(-2, next, done);
      c.end();
      c.else();
      e.slowPath(done, SlowKind.Store, i, s.size, rs2);
      c.end();
      return;
    }
    case RvOp.ADDI:
      return rri(Op.i64Add);
    case RvOp.SLTI:
    case RvOp.SLTIU:
      if (rd === SINK) return;
      e.reg(rs1);
      c.i64(imm).op(i.op === RvOp.SLTI ? Op.i64Lts : Op.i64Ltu, Op.i64ExtendI32u);
      e.setRd(rd);
      return;
    case RvOp.XORI:
      return rri(Op.i64Xor);
    case RvOp.ORI:
      return rri(Op.i64Or);
    case RvOp.ANDI:
      return rri(Op.i64And);
    case RvOp.SLLI:
      return rri(Op.i64Shl);
    case RvOp.SRLI:
      return rri(Op.i64Shru);
    case RvOp.SRAI:
      return rri(Op.i64Shrs);
    case RvOp.ADD:
      return rrr(Op.i64Add);
    case RvOp.SUB:
      return rrr(Op.i64Sub);
    // Shift amounts: WebAssembly takes them modulo 64 (32 for i32), RISC-V their low six
    // (five) bits: the same.
    case RvOp.SLL:
      return rrr(Op.i64Shl);
    case RvOp.SRL:
      return rrr(Op.i64Shru);
    case RvOp.SRA:
      return rrr(Op.i64Shrs);
    case RvOp.SLT:
    case RvOp.SLTU:
      if (rd === SINK) return;
      e.reg(rs1);
      e.reg(rs2);
      c.op(i.op === RvOp.SLT ? Op.i64Lts : Op.i64Ltu, Op.i64ExtendI32u);
      e.setRd(rd);
      return;
    case RvOp.XOR:
      return rrr(Op.i64Xor);
    case RvOp.OR:
      return rrr(Op.i64Or);
    case RvOp.AND:
      return rrr(Op.i64And);
    case RvOp.ADDIW:
      return w(Op.i32Add, 'imm');
    case RvOp.SLLIW:
      return w(Op.i32Shl, 'imm');
    case RvOp.SRLIW:
      return w(Op.i32Shru, 'imm');
    case RvOp.SRAIW:
      return w(Op.i32Shrs, 'imm');
    case RvOp.ADDW:
      return w(Op.i32Add, 'reg');
    case RvOp.SUBW:
      return w(Op.i32Sub, 'reg');
    case RvOp.SLLW:
      return w(Op.i32Shl, 'reg');
    case RvOp.SRLW:
      return w(Op.i32Shru, 'reg');
    case RvOp.SRAW:
      return w(Op.i32Shrs, 'reg');
    case RvOp.FENCE: // one hart: sequentially consistent already
      return;
    case RvOp.MUL:
      return rrr(Op.i64Mul);
    case RvOp.MULW:
      return w(Op.i32Mul, 'reg');
    default: {
      const h = HELPER_OF[i.op];
      if (h === undefined) throw new Error(`translate/wasm: op ${i.op} is not compilable`);
      if (rd === SINK) return; // M ops have no side effects (division by zero does not trap)
      e.reg(rs1);
      e.reg(rs2);
      c.op(0x10); // call
      c.bytes.push(HELPERS.indexOf(h)); // helper indices stay below 128: one LEB byte
      e.setRd(rd);
    }
  }
}

const HELPER_TYPE: FuncType = { params: [I64, I64], result: I64 };
const HELPER_IMPORTS_LIST = HELPERS.map((name) => ({ module: HELPER_IMPORTS, name, type: HELPER_TYPE }));

let helperDefs: FuncDef[] | null = null;
function helperFuncs(): FuncDef[] {
  helperDefs ??= HELPERS.map(helperFunc);
  return helperDefs;
}

/** The M extension's results where WebAssembly's instructions differ or lack one
 *  (unpriv 13.2: division by zero gives all ones or the dividend, signed overflow the
 *  dividend or zero; no trap). (a, b) -> i64, with locals 2.. as scratch. */
function helperFunc(h: Helper): FuncDef {
  const c = new Code();
  const A = 0;
  const B = 1;
  const locals: number[] = [];
  // b (or its low word) is zero: push `ifZero`, else what `otherwise` pushes.
  const byZero = (word: boolean, ifZero: () => void, otherwise: () => void) => {
    c.get(B);
    if (word) c.op(Op.i32WrapI64, Op.i32Eqz);
    else c.op(Op.i64Eqz);
    c.if(I64);
    ifZero();
    c.else();
    otherwise();
    c.end();
  };
  const w32 = (l: number) => c.get(l).op(Op.i32WrapI64);
  switch (h) {
    case 'mulhu': {
      // Four 32x32 products; the middle column's carries into the high half.
      locals.push(I64, I64, I64);
      const [P1, P2, MID] = [2, 3, 4];
      c.get(A).i64(0xffffffff).op(Op.i64And).get(B).i64(32).op(Op.i64Shru, Op.i64Mul).set(P1);
      c.get(A).i64(32).op(Op.i64Shru).get(B).i64(0xffffffff).op(Op.i64And, Op.i64Mul).set(P2);
      c.get(A).i64(0xffffffff).op(Op.i64And).get(B).i64(0xffffffff).op(Op.i64And, Op.i64Mul).i64(32).op(Op.i64Shru);
      c.get(P1).i64(0xffffffff).op(Op.i64And, Op.i64Add).get(P2).i64(0xffffffff).op(Op.i64And, Op.i64Add).set(MID);
      c.get(A).i64(32).op(Op.i64Shru).get(B).i64(32).op(Op.i64Shru, Op.i64Mul);
      c.get(P1).i64(32).op(Op.i64Shru, Op.i64Add).get(P2).i64(32).op(Op.i64Shru, Op.i64Add);
      c.get(MID).i64(32).op(Op.i64Shru, Op.i64Add);
      break;
    }
    case 'mulh':
    case 'mulhsu': {
      // The unsigned high half, less b where a is negative (and a where b is, for mulh).
      c.get(A).get(B).op(0x10).bytes.push(HELPERS.indexOf('mulhu'));
      c.get(B).i64(0).get(A).i64(0).op(Op.i64Lts, Op.select, Op.i64Sub);
      if (h === 'mulh') c.get(A).i64(0).get(B).i64(0).op(Op.i64Lts, Op.select, Op.i64Sub);
      break;
    }
    case 'div':
      byZero(
        false,
        () => c.i64(-1),
        () => {
          c.get(A).i64(MIN64).op(Op.i64Eq).get(B).i64(-1).op(Op.i64Eq, Op.i32And).if(I64);
          c.i64(MIN64).else().get(A).get(B).op(Op.i64Divs).end();
        },
      );
      break;
    case 'divu':
      byZero(
        false,
        () => c.i64(-1),
        () => c.get(A).get(B).op(Op.i64Divu),
      );
      break;
    case 'rem': // i64.rem_s of MIN by -1 is 0, as RISC-V wants, without a trap
      byZero(
        false,
        () => c.get(A),
        () => c.get(A).get(B).op(Op.i64Rems),
      );
      break;
    case 'remu':
      byZero(
        false,
        () => c.get(A),
        () => c.get(A).get(B).op(Op.i64Remu),
      );
      break;
    case 'divw':
      byZero(
        true,
        () => c.i64(-1),
        () => {
          w32(A).i32(-0x80000000).op(Op.i32Eq);
          w32(B).i32(-1).op(Op.i32Eq, Op.i32And).if(I64);
          c.i64(-0x80000000).else();
          w32(A);
          w32(B).op(Op.i32Divs, Op.i64ExtendI32s).end();
        },
      );
      break;
    case 'divuw':
      byZero(
        true,
        () => c.i64(-1),
        () => {
          w32(A);
          w32(B).op(Op.i32Divu, Op.i64ExtendI32s);
        },
      );
      break;
    case 'remw':
    case 'remuw':
      byZero(
        true,
        () => w32(A).op(Op.i64ExtendI32s),
        () => {
          w32(A);
          w32(B).op(h === 'remw' ? Op.i32Rems : Op.i32Remu, Op.i64ExtendI32s);
        },
      );
      break;
  }
  return { ...HELPER_TYPE, locals, body: c };
}
