// The block compiler: a run of pre-decoded instructions (decoder.ts slots) from one page
// of RAM becomes one JavaScript function. Guest registers the block touches live in
// locals for the whole block and go back to the hart's arrays at every exit; memory
// accesses keep the interpreter's inline fast path (RAM window, alignment, page state,
// TLB probe under translation) and leave the block for mem-access.ts's slow paths.
//
// What a block is: straight-line code from its first instruction up to a terminator (JAL,
// JALR, or an instruction the compiler leaves to the interpreter), at most MAX_INSNS long,
// never reaching the page's last parcel (a 32-bit instruction there crosses pages; the
// interpreter fetches it). A conditional branch does not end it: taken, it leaves (or, to
// the block's own start, loops inside the function while the budget allows); not taken,
// the block goes on. So a loop body is one function and one call.
//
// The function is keyed by physical address but serves every virtual alias of it: each
// pc-relative value (AUIPC, links, exits) is computed from the `pc` it is called with.
//
// Exactness (the interpreter is the reference, executor.ts): every exit stores the
// registers written so far and sets s.pc; the return value is the number of instructions
// attempted, negative when the block left through a slow path or a code-invalidating
// store (the dispatcher then looks the fetch window up again, as the interpreter does).
// A trap inside a slow path has already set pc to the handler and counted the exception,
// so instret comes out as the interpreter's. The caller never starts a block whose length
// exceeds the budget left, and a loop iteration starts only if a whole one fits.

import { PAGE_SIZE } from '@splitvisor/platform';
import { SINK } from '../decoder.js';
import { Op } from '../ops.js';

/** Longest block, in instructions (per loop iteration). */
export const MAX_INSNS = 32;

/** Register locals a block's code names: l5/h5 for x5's low and high words. */
function lo(r: number): string {
  return r === 0 ? '0' : `l${r}`;
}
function hi(r: number): string {
  return r === 0 ? '0' : `h${r}`;
}

/** One decoded instruction of the block. */
export interface Insn {
  op: number;
  rd: number;
  rs1: number;
  rs2: number;
  imm: number;
  /** Byte offset from the block's start pc. */
  off: number;
  len: 2 | 4;
}

/** What compile() produced: the source of the block's body and its size. */
export interface BlockSource {
  /** Instructions in one pass through the block (the budget it needs). */
  readonly insns: number;
  /** The body of `function (s, pc, budget, rT, wT)`; it names SLOW for `slow`. */
  readonly body: string;
  /** The block's slow paths, SLOW_WORDS each (see SlowKind): the epilogue hands the one
   *  taken to the run loop's slowExit, so a block carries no code for them. */
  readonly slow: Int32Array;
}

/** A slow path's descriptor: kind, the instruction's offset and length, rs1, imm, size,
 *  then rd (loads; unsigned in bit 8) or rs2 (stores). */
export const SLOW_WORDS = 7;
export const SlowKind = { Load: 1, Store: 2 } as const;

/** True for an op the compiler emits inline (or as a helper call kept in the block). */
export function compilable(op: number): boolean {
  return (op >= Op.LUI && op <= Op.FENCE) || op === Op.LI || (op >= Op.MUL && op <= Op.REMUW);
}

/** Ops that end a block after themselves. */
function endsBlock(op: number): boolean {
  return op === Op.JAL || op === Op.JALR;
}

/**
 * Reads the block starting at byte `start` of a page's decoded slots. `slot(k)` returns
 * word 0 of slot index k (decoding it if needed); `imm(k)` its immediate. Stops at the
 * first instruction the compiler does not take (not included), after a JAL/JALR, at
 * MAX_INSNS, or before the page's last parcel.
 */
export function scanBlock(start: number, slot: (k: number) => number, imm: (k: number) => number): Insn[] {
  const out: Insn[] = [];
  let at = start;
  while (out.length < MAX_INSNS && at < PAGE_SIZE - 2) {
    const w = slot(at);
    const op = w & 0xff;
    if (!compilable(op)) break;
    const len = (w & 0x8000) === 0 ? 4 : 2;
    out.push({ op, rd: (w >>> 8) & 0x3f, rs1: (w >>> 16) & 0xff, rs2: w >>> 24, imm: imm(at), off: at - start, len });
    at += len;
    if (endsBlock(op)) break;
  }
  return out;
}

/** Emits the body of the block's function. `vm`: whether loads and stores translate
 *  through the TLB (HartState.dataVm): the code is made for one or the other. */
export function compileBlock(insns: readonly Insn[], vm: boolean): BlockSource {
  const n = insns.length;
  const { used: regs, written } = blockRegisters(insns);
  const wb = written.map((r) => `xl[${r}] = l${r}; xh[${r}] = h${r};`).join(' ');
  const ctx: Emit = { n, vm, slow: [] };
  const out: string[] = [];
  out.push('const xl = s.xl; const xh = s.xh;');
  if (regs.length > 0) out.push(`let ${regs.map((r) => `l${r} = xl[${r}], h${r} = xh[${r}]`).join(', ')};`);
  // Every exit breaks out of the loop to one epilogue that stores the registers:
  // npc is where the guest goes on, ret the instructions attempted, slow which slow path
  // (if any) to take once the registers are stored.
  out.push('let st = 0, npc = 0, ret = 0, slow = -1, jl = 0, jh = 0;');
  out.push('out: for (;;) {');
  for (let k = 0; k < n; k++) out.push(emit(insns[k]!, k, ctx));
  const last = insns[n - 1]!;
  if (!endsBlock(last.op)) out.push(exit(`pc + ${last.off + last.len}`, n));
  out.push('}');
  out.push(wb);
  out.push('if (slow === -1) { s.pc = npc; return ret; }');
  // A store changed code on a page (maybe this block's own): the dispatcher looks again.
  out.push('if (slow === -2) { s.pc = npc; return -ret; }');
  // JALR to an address beyond 2^53: the jump retired, its fetch is a step that faults.
  out.push('if (slow === -3) { s.pc = npc; jumpToPair(s, jl, jh); return -(ret + 1); }');
  out.push('return slowExit(s, pc, SLOW, slow, ret);');
  return { insns: n, body: out.join('\n'), slow: Int32Array.from(ctx.slow) };
}

/** What emit() shares across a block: its length, whether it translates, and the slow
 *  paths' descriptors. */
interface Emit {
  readonly n: number;
  readonly vm: boolean;
  readonly slow: number[];
}

/** The registers a block names, in ascending order: every one it reads or writes, and
 *  those it writes (kept in locals, stored back at the epilogue; both back ends). */
export function blockRegisters(insns: readonly Insn[]): { used: number[]; written: number[] } {
  const used = new Set<number>();
  const written = new Set<number>();
  for (const i of insns) {
    for (const r of [i.rs1, i.rs2]) if (r !== 0 && r !== SINK && readsReg(i, r)) used.add(r);
    if (i.rd !== SINK && writesRd(i.op)) {
      used.add(i.rd);
      written.add(i.rd);
    }
  }
  const sorted = (x: Set<number>) => [...x].sort((a, b) => a - b);
  return { used: sorted(used), written: sorted(written) };
}

function readsReg(i: Insn, r: number): boolean {
  switch (i.op) {
    case Op.LUI:
    case Op.AUIPC:
    case Op.JAL:
    case Op.LI:
    case Op.FENCE:
      return false;
    default:
      // rs2 is a register only for register-register ops, branches and stores.
      if (r === i.rs2 && r !== i.rs1) return usesRs2(i.op);
      return true;
  }
}

function usesRs2(op: number): boolean {
  return (
    (op >= Op.BEQ && op <= Op.BGEU) ||
    (op >= Op.SB && op <= Op.SD) ||
    (op >= Op.ADD && op <= Op.AND) ||
    (op >= Op.ADDW && op <= Op.SRAW) ||
    (op >= Op.MUL && op <= Op.REMUW)
  );
}

function writesRd(op: number): boolean {
  return !((op >= Op.BEQ && op <= Op.BGEU) || (op >= Op.SB && op <= Op.SD) || op === Op.FENCE);
}

/** Sets rd from a low-word and a high-word expression, both computed before either
 *  local changes (rd may be a source). */
function set(rd: number, l: string, h: string): string {
  if (rd === SINK) return '';
  return `{ const nl = ${l}, nh = ${h}; l${rd} = nl; h${rd} = nh; }`;
}

/** rd = pc + `off` (a link or AUIPC): the double's two words. */
function setPcRelative(rd: number, off: number): string {
  if (rd === SINK) return '';
  return `{ const v = pc + ${off}; l${rd} = v | 0; h${rd} = Math.floor(v / 4294967296) | 0; }`;
}

/** rd = a 32-bit result, sign-extended. */
function setW(rd: number, v: string): string {
  if (rd === SINK) return '';
  return `{ const v = ${v}; l${rd} = v; h${rd} = v >> 31; }`;
}

/** Leaves the block for the guest address `target` (an expression) after `done`
 *  instructions. */
function exit(target: string, done: number): string {
  return `{ npc = ${target}; ret = st + ${done}; break out; }`;
}

/** Leaves the block through a slow path (run by slowExit after the registers are
 *  stored) with `done` instructions attempted, the slow one included. */
function slowPath(ctx: Emit, done: number, kind: number, i: Insn, size: number, reg: number): string {
  const k = ctx.slow.length / SLOW_WORDS;
  ctx.slow.push(kind, i.off, i.len, i.rs1, i.imm, size, reg);
  return `{ slow = ${k}; ret = st + ${done}; break out; }`;
}

/** A taken control transfer to byte offset `to`: loops when it is the block's start and
 *  a whole pass fits the budget; otherwise leaves. */
function jump(to: number, done: number, n: number): string {
  if (to !== 0) return exit(`pc + ${to}`, done);
  return `st += ${done}; if (st + ${n} <= budget) continue; ${exit('pc', 0)}`;
}

/** `o` is in RAM with room and alignment for an access of `size` bytes. */
function inRam(size: number): string {
  return size === 1 ? 'o >= 0 && o < ramSize' : `o >= 0 && o < ramSize && (o & ${size - 1}) === 0`;
}

/** The RAM offset `o` of a load or store (-1 when the TLB has no entry for it), as the
 *  interpreter's fast path computes it: the 64-bit effective address as a double, then
 *  under translation the TLB probe (mmu/tlb.ts), else minus RAM's base. */
function address(i: Insn, vm: boolean, tlb: 'rT' | 'wT', imm: number): string {
  const a = `${hi(i.rs1)} * 4294967296 + (${lo(i.rs1)} >>> 0)`;
  if (!vm) return `const o = ${a} + ${imm} - ramBase;`;
  return `const a = ${a} + ${imm}; const t = (a >>> 11) & 510; const o = ${tlb}[t] === a - (a & 4095) ? a + ${tlb}[t + 1] : -1;`;
}

const LOADS: Record<number, { size: number; unsigned: boolean; read: (rd: number) => string }> = {
  [Op.LB]: { size: 1, unsigned: false, read: (rd) => setW(rd, 's8[o]') },
  [Op.LH]: { size: 2, unsigned: false, read: (rd) => setW(rd, 's16[o >>> 1]') },
  [Op.LW]: { size: 4, unsigned: false, read: (rd) => setW(rd, 's32[o >>> 2]') },
  [Op.LD]: { size: 8, unsigned: false, read: (rd) => set(rd, 's32[o >>> 2]', 's32[(o >>> 2) + 1]') },
  [Op.LBU]: { size: 1, unsigned: true, read: (rd) => set(rd, 'u8[o]', '0') },
  [Op.LHU]: { size: 2, unsigned: true, read: (rd) => set(rd, 'u16[o >>> 1]', '0') },
  [Op.LWU]: { size: 4, unsigned: true, read: (rd) => set(rd, 's32[o >>> 2]', '0') },
};

const STORES: Record<number, { size: number; write: (rs2: number) => string }> = {
  [Op.SB]: { size: 1, write: (r) => `u8[o] = ${lo(r)};` },
  [Op.SH]: { size: 2, write: (r) => `u16[o >>> 1] = ${lo(r)};` },
  [Op.SW]: { size: 4, write: (r) => `s32[o >>> 2] = ${lo(r)};` },
  [Op.SD]: { size: 8, write: (r) => `s32[o >>> 2] = ${lo(r)}; s32[(o >>> 2) + 1] = ${hi(r)};` },
};

/** Branch conditions on (rs1, rs2), as the interpreter evaluates them. */
function condition(op: number, a: number, b: number): string {
  switch (op) {
    case Op.BEQ:
      return `${lo(a)} === ${lo(b)} && ${hi(a)} === ${hi(b)}`;
    case Op.BNE:
      return `${lo(a)} !== ${lo(b)} || ${hi(a)} !== ${hi(b)}`;
    case Op.BLT:
      return lessThan(a, b, false);
    case Op.BGE:
      return `!(${lessThan(a, b, false)})`;
    case Op.BLTU:
      return lessThan(a, b, true);
    default: // BGEU
      return `!(${lessThan(a, b, true)})`;
  }
}

function lessThan(a: number, b: number, unsigned: boolean): string {
  return lessThanWords(hi(a), lo(a), hi(b), lo(b), unsigned);
}

function lessThanWords(ah: string, al: string, bh: string, bl: string, unsigned: boolean): string {
  const u = unsigned ? ' >>> 0' : '';
  return `((${ah})${u} < (${bh})${u} || ((${ah}) === (${bh}) && (${al}) >>> 0 < (${bl}) >>> 0))`;
}

type ShiftKind = 'l' | 'rl' | 'ra';

/** rd = (l, h) shifted by an amount of 1 to 31 (`small`) or 32 to 63 (otherwise), the
 *  amount, 32 minus it and it minus 32 given as expressions `sh`, `inv`, `over`. */
function shiftBy(rd: number, l: string, h: string, kind: ShiftKind, small: boolean, sh: string, inv: string, over: string): string {
  if (kind === 'l') return small ? set(rd, `${l} << ${sh}`, `(${h} << ${sh}) | (${l} >>> ${inv})`) : set(rd, '0', `${l} << ${over}`);
  const op = kind === 'ra' ? '>>' : '>>>';
  if (small) return set(rd, `(${l} >>> ${sh}) | (${h} << ${inv})`, `(${h} ${op} ${sh}) | 0`);
  return set(rd, `(${h} ${op} ${over}) | 0`, kind === 'ra' ? `${h} >> 31` : '0');
}

/** 64-bit shift of (l, h) by a constant amount into rd. */
function shiftConst(rd: number, l: string, h: string, sh: number, kind: ShiftKind): string {
  if (sh === 0) return set(rd, l, h);
  return shiftBy(rd, l, h, kind, sh < 32, String(sh), String(32 - sh), String(sh - 32));
}

/** 64-bit shift by a register amount (its low six bits), the three cases chosen at run time. */
function shiftVar(i: Insn, kind: ShiftKind): string {
  if (i.rd === SINK) return '';
  const l = lo(i.rs1);
  const h = hi(i.rs1);
  const [small, big] = [true, false].map((sm) => shiftBy(i.rd, l, h, kind, sm, 'sh', '(32 - sh)', '(sh - 32)'));
  return `{ const sh = ${lo(i.rs2)} & 63; if (sh === 0) ${set(i.rd, l, h)} else if (sh < 32) ${small} else ${big} }`;
}

/** The M-extension helpers of isa/m take the register arrays: operands go out, the
 *  result comes back in. */
function helperCall(i: Insn, fn: string): string {
  const store = (r: number) => (r === 0 ? '' : `xl[${r}] = l${r}; xh[${r}] = h${r};`);
  const reload = i.rd === SINK ? '' : ` l${i.rd} = xl[${i.rd}]; h${i.rd} = xh[${i.rd}];`;
  return `${store(i.rs1)} ${store(i.rs2)} ${fn}(xl, xh, ${i.rd}, ${i.rs1}, ${i.rs2});${reload}`;
}

const HELPERS: Record<number, string> = {
  [Op.MULH]: 'mulh',
  [Op.MULHSU]: 'mulhsu',
  [Op.MULHU]: 'mulhu',
  [Op.DIV]: 'div',
  [Op.DIVU]: 'divu',
  [Op.REM]: 'rem',
  [Op.REMU]: 'remu',
  [Op.DIVW]: 'divw',
  [Op.DIVUW]: 'divuw',
  [Op.REMW]: 'remw',
  [Op.REMUW]: 'remuw',
};

function emit(i: Insn, k: number, ctx: Emit): string {
  const n = ctx.n;
  const { rd, rs1, rs2, imm } = i;
  const next = i.off + i.len;
  const done = k + 1;
  const a = lo(rs1);
  const ah = hi(rs1);
  const b = lo(rs2);
  const bh = hi(rs2);
  switch (i.op) {
    case Op.LI:
    case Op.LUI:
      return set(rd, String(imm), String(imm >> 31));
    case Op.AUIPC:
      return setPcRelative(rd, i.off + imm);
    case Op.JAL:
      return `${setPcRelative(rd, next)} ${jump(i.off + imm, done, n)}`;
    case Op.JALR: {
      const link = setPcRelative(rd, next);
      return (
        `{ const tl = ((${a} + ${imm}) | 0) & ~1;` +
        ` const th = (${ah} + ${imm >> 31} + ((${a} >>> 0) + ${imm >>> 0} > 0xffffffff ? 1 : 0)) | 0;` +
        ` ${link}` +
        ` if (th >= -0x200000 && th < 0x200000) ${exit('th * 4294967296 + (tl >>> 0)', done)}` +
        ` jl = tl; jh = th; npc = pc + ${i.off}; slow = -3; ret = st + ${done}; break out; }`
      );
    }
    case Op.BEQ:
    case Op.BNE:
    case Op.BLT:
    case Op.BGE:
    case Op.BLTU:
    case Op.BGEU:
      return `if (${condition(i.op, rs1, rs2)}) { ${jump(i.off + imm, done, n)} }`;
    case Op.LB:
    case Op.LH:
    case Op.LW:
    case Op.LD:
    case Op.LBU:
    case Op.LHU:
    case Op.LWU: {
      const l = LOADS[i.op]!;
      return (
        `{ ${address(i, ctx.vm, 'rT', imm)}` +
        ` if (${inRam(l.size)} && pageState[o >>> 12] !== 0) { ${l.read(rd)} }` +
        ` else ${slowPath(ctx, done, SlowKind.Load, i, l.size, rd | (l.unsigned ? 0x100 : 0))} }`
      );
    }
    case Op.SB:
    case Op.SH:
    case Op.SW:
    case Op.SD: {
      const w = STORES[i.op]!;
      return (
        `{ ${address(i, ctx.vm, 'wT', imm)}` +
        ` if (${inRam(w.size)} && pageState[o >>> 12] === 2) { ${w.write(rs2)}` +
        // The store landed where code on the page was decoded (maybe this block's own next
        // instructions): the page's code is dropped; leave the block.
        ` if (codeMark[o >>> 12] !== 0 && code.stored(o, ${w.size})) { npc = pc + ${next}; slow = -2; ret = st + ${done}; break out; } }` +
        ` else ${slowPath(ctx, done, SlowKind.Store, i, w.size, rs2)} }`
      );
    }
    case Op.ADDI:
      return set(rd, `(${a} + ${imm}) | 0`, `(${ah} + ${imm >> 31} + ((${a} >>> 0) + ${imm >>> 0} > 0xffffffff ? 1 : 0)) | 0`);
    case Op.SLTI:
      return set(rd, `${lessThanWords(ah, a, String(imm >> 31), String(imm), false)} ? 1 : 0`, '0');
    case Op.SLTIU:
      return set(rd, `${lessThanWords(ah, a, String(imm >> 31), String(imm), true)} ? 1 : 0`, '0');
    case Op.XORI:
      return set(rd, `${a} ^ ${imm}`, `${ah} ^ ${imm >> 31}`);
    case Op.ORI:
      return set(rd, `${a} | ${imm}`, `${ah} | ${imm >> 31}`);
    case Op.ANDI:
      return set(rd, `${a} & ${imm}`, `${ah} & ${imm >> 31}`);
    case Op.SLLI:
      return shiftConst(rd, a, ah, imm, 'l');
    case Op.SRLI:
      return shiftConst(rd, a, ah, imm, 'rl');
    case Op.SRAI:
      return shiftConst(rd, a, ah, imm, 'ra');
    case Op.ADD:
      return set(rd, `(${a} + ${b}) | 0`, `(${ah} + ${bh} + ((${a} >>> 0) + (${b} >>> 0) > 0xffffffff ? 1 : 0)) | 0`);
    case Op.SUB:
      return set(rd, `(${a} - ${b}) | 0`, `(${ah} - ${bh} - ((${a} >>> 0) < (${b} >>> 0) ? 1 : 0)) | 0`);
    case Op.SLL:
      return shiftVar(i, 'l');
    case Op.SLT:
      return set(rd, `${lessThan(rs1, rs2, false)} ? 1 : 0`, '0');
    case Op.SLTU:
      return set(rd, `${lessThan(rs1, rs2, true)} ? 1 : 0`, '0');
    case Op.XOR:
      return set(rd, `${a} ^ ${b}`, `${ah} ^ ${bh}`);
    case Op.SRL:
      return shiftVar(i, 'rl');
    case Op.SRA:
      return shiftVar(i, 'ra');
    case Op.OR:
      return set(rd, `${a} | ${b}`, `${ah} | ${bh}`);
    case Op.AND:
      return set(rd, `${a} & ${b}`, `${ah} & ${bh}`);
    case Op.ADDIW:
      return setW(rd, `(${a} + ${imm}) | 0`);
    case Op.SLLIW:
      return setW(rd, `${a} << ${imm}`);
    case Op.SRLIW:
      return setW(rd, `(${a} >>> ${imm}) | 0`);
    case Op.SRAIW:
      return setW(rd, `${a} >> ${imm}`);
    case Op.ADDW:
      return setW(rd, `(${a} + ${b}) | 0`);
    case Op.SUBW:
      return setW(rd, `(${a} - ${b}) | 0`);
    case Op.SLLW:
      return setW(rd, `${a} << ${b}`);
    case Op.SRLW:
      return setW(rd, `(${a} >>> ${b}) | 0`);
    case Op.SRAW:
      return setW(rd, `${a} >> ${b}`);
    case Op.FENCE: // one hart: sequentially consistent already
      return '';
    case Op.MUL:
      return set(rd, `Math.imul(${a}, ${b})`, `(mulhu32(${a}, ${b}) + Math.imul(${a}, ${bh}) + Math.imul(${ah}, ${b})) | 0`);
    case Op.MULW:
      return setW(rd, `Math.imul(${a}, ${b})`);
    default: {
      const fn = HELPERS[i.op];
      if (fn === undefined) throw new Error(`translate: op ${i.op} is not compilable`);
      return helperCall(i, fn);
    }
  }
}
