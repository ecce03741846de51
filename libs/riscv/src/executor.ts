// The interpreter loop: runs pre-decoded instructions until `limit` steps are done or
// something needs the outer loop (hart.ts): a stop request, WFI, a change to interrupt
// state, a fatal trap loop.
//
// Hot-path rules: no allocation, no BigInt, no calls on the common path of an
// instruction. Registers are (lo, hi) int32 pairs in two typed arrays; a loaded or stored
// address in RAM is computed as a double (exact below 2^53), translated by an inline TLB
// probe when translation is on (index (va >>> 11) & 510, mmu/tlb.ts TLB_INDEX_MASK), and
// checked against the RAM window, alignment and page state inline; everything else goes
// to mem-access.ts.
// `case` labels are Op numbers written as literals (see ops.ts for why).
// Why one file of ~800 lines: the whole dispatch is one function with one switch, so V8
// keeps the registers' typed arrays and the inline TLB probe in one optimized frame; cut
// into modules, every instruction would pay a call on the hot path.

import { csrInstruction } from './csr.js';
import { div, divu, divuw, divw, mul, mulh, mulhsu, mulhu, mulw, rem, remu, remuw, remw } from './isa/m/execute.js';
import { fpExecute, fpLoad, fpStore } from './isa/fd/execute.js';
import { amo, loadReserved, storeConditional } from './isa/a/execute.js';
import { decodeRamSlot, fetchLookup, loadSlow, storeSlow } from './mem-access.js';
import { Cause, jumpToPair, raiseException, sfenceVma, wfi, xret } from './trap.js';
import type { HartState } from './state.js';
import { hypInstruction } from './hypervisor/instructions.js';

const TWO32 = 4294967296;

/** Runs at most `limit` instructions; returns how many were attempted. */
export function executeBatch(s: HartState, limit: number): number {
  const xl = s.xl;
  const xh = s.xh;
  const ram = s.ram;
  const ramBase = ram.base;
  const ramSize = ram.size;
  const u8 = ram.bytes;
  const s8 = ram.s8;
  const s16 = ram.s16;
  const u16 = ram.u16;
  const s32 = ram.s32;
  const pageState = ram.pageState;
  const code = ram.code;
  const codeMark = code.mark;
  // Under translation (or PMP checks) a data address goes through the TLB set of the
  // effective privilege (mmu/tlb.ts); anything that changes these ends the batch.
  const vm = s.dataVm;
  const rT = s.dSet.r;
  const wT = s.dSet.w;
  const instret0 = s.instret;
  const cycles0 = s.cycles;
  const exc0 = s.exceptions;

  let pc = s.pc;
  let blk = s.fBlk;
  let blkBase = 0;
  let blkLen = 0; // 0 forces a lookup before the first fetch
  let steps = 0;

  loop: while (steps < limit) {
    const off = pc - blkBase;
    if (!(off >= 0 && off < blkLen)) {
      s.pc = pc;
      if (fetchLookup(s, pc)) {
        blk = s.fBlk;
        blkBase = s.fBase;
        blkLen = s.fLen;
        // A callback during the fetch (onMiss, a bus read of ROM) asked for the outer
        // loop: end the batch after this instruction (not before it, so a callback that
        // always asks cannot stall the hart).
        if (s.brk) limit = steps + 1;
      } else {
        steps++; // the fetch fault is this step's outcome
        pc = s.pc;
        blkLen = 0;
        if (s.brk) break;
      }
      continue;
    }
    // Slot index times SLOT_WORDS: (off >> SLOT_SHIFT) * 2 = off with 2-byte slots.
    const k = off | 0;
    let w = blk[k]!;
    if (w === 0) w = decodeRamSlot(s, blk, k, pc);
    const imm = blk[k + 1]!;
    const rd = (w >>> 8) & 0x3f;
    // 2 for a compressed instruction (decoder.ts C_FLAG), else 4. Written as a choice
    // of constants: the arithmetic form (4 - ((w >>> 14) & 2)) measured 25% slower.
    const ilen = (w & 0x8000) === 0 ? 4 : 2;
    const rs1 = (w >>> 16) & 0xff;
    const rs2 = w >>> 24;
    steps++;

    switch (w & 0xff) {
      case 58: // LI (addi rd, x0, imm)
        xl[rd] = imm;
        xh[rd] = imm >> 31;
        break;
      case 2: // LUI
        xl[rd] = imm;
        xh[rd] = imm >> 31;
        break;
      case 3: {
        // AUIPC
        const v = pc + imm;
        xl[rd] = v | 0;
        xh[rd] = Math.floor(v / TWO32) | 0;
        break;
      }
      case 4: {
        // JAL
        const link = pc + ilen;
        xl[rd] = link | 0;
        xh[rd] = Math.floor(link / TWO32) | 0;
        pc += imm;
        continue;
      }
      case 5: {
        // JALR: target = (rs1 + imm) & ~1, computed exactly before rd (may be rs1) changes.
        const a = xl[rs1]!;
        const tlo = ((a + imm) | 0) & ~1;
        const thi = (xh[rs1]! + (imm >> 31) + ((a >>> 0) + (imm >>> 0) > 0xffffffff ? 1 : 0)) | 0;
        s.pc = pc;
        const link = pc + ilen;
        xl[rd] = link | 0;
        xh[rd] = Math.floor(link / TWO32) | 0;
        if (thi >= -0x200000 && thi < 0x200000) {
          pc = thi * TWO32 + (tlo >>> 0);
          continue;
        }
        // The jump retired; fetching its target is a step of its own that faults.
        jumpToPair(s, tlo, thi);
        steps++;
        pc = s.pc;
        if (s.brk) break loop;
        continue;
      }
      case 6: // BEQ
        if (xl[rs1] === xl[rs2] && xh[rs1] === xh[rs2]) {
          pc += imm;
          continue;
        }
        pc += ilen;
        continue;
      case 7: // BNE
        if (xl[rs1] !== xl[rs2] || xh[rs1] !== xh[rs2]) {
          pc += imm;
          continue;
        }
        pc += ilen;
        continue;
      case 8: {
        // BLT
        const ah = xh[rs1]!;
        const bh = xh[rs2]!;
        if (ah < bh || (ah === bh && xl[rs1]! >>> 0 < xl[rs2]! >>> 0)) {
          pc += imm;
          continue;
        }
        pc += ilen;
        continue;
      }
      case 9: {
        // BGE
        const ah = xh[rs1]!;
        const bh = xh[rs2]!;
        if (ah > bh || (ah === bh && xl[rs1]! >>> 0 >= xl[rs2]! >>> 0)) {
          pc += imm;
          continue;
        }
        pc += ilen;
        continue;
      }
      case 10: {
        // BLTU
        const ah = xh[rs1]! >>> 0;
        const bh = xh[rs2]! >>> 0;
        if (ah < bh || (ah === bh && xl[rs1]! >>> 0 < xl[rs2]! >>> 0)) {
          pc += imm;
          continue;
        }
        pc += ilen;
        continue;
      }
      case 11: {
        // BGEU
        const ah = xh[rs1]! >>> 0;
        const bh = xh[rs2]! >>> 0;
        if (ah > bh || (ah === bh && xl[rs1]! >>> 0 >= xl[rs2]! >>> 0)) {
          pc += imm;
          continue;
        }
        pc += ilen;
        continue;
      }

      // ---- Loads: fast path = in RAM, naturally aligned, page readable ----
      case 12: {
        // LB
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = rT[t] === a - (a & 4095) ? a + rT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize && pageState[o >>> 12] !== 0) {
          const v = s8[o]!;
          xl[rd] = v;
          xh[rd] = v >> 31;
          pc += ilen;
          continue;
        }
        s.pc = pc;
        pc = loadSlow(s, rs1, imm, 1, false, rd) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 13: {
        // LH
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = rT[t] === a - (a & 4095) ? a + rT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize && (o & 1) === 0 && pageState[o >>> 12] !== 0) {
          const v = s16[o >>> 1]!;
          xl[rd] = v;
          xh[rd] = v >> 31;
          pc += ilen;
          continue;
        }
        s.pc = pc;
        pc = loadSlow(s, rs1, imm, 2, false, rd) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 14: {
        // LW
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = rT[t] === a - (a & 4095) ? a + rT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize && (o & 3) === 0 && pageState[o >>> 12] !== 0) {
          const v = s32[o >>> 2]!;
          xl[rd] = v;
          xh[rd] = v >> 31;
          pc += ilen;
          continue;
        }
        s.pc = pc;
        pc = loadSlow(s, rs1, imm, 4, false, rd) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 15: {
        // LD
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = rT[t] === a - (a & 4095) ? a + rT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize && (o & 7) === 0 && pageState[o >>> 12] !== 0) {
          const i = o >>> 2;
          xl[rd] = s32[i]!;
          xh[rd] = s32[i + 1]!;
          pc += ilen;
          continue;
        }
        s.pc = pc;
        pc = loadSlow(s, rs1, imm, 8, false, rd) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 16: {
        // LBU
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = rT[t] === a - (a & 4095) ? a + rT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize && pageState[o >>> 12] !== 0) {
          xl[rd] = u8[o]!;
          xh[rd] = 0;
          pc += ilen;
          continue;
        }
        s.pc = pc;
        pc = loadSlow(s, rs1, imm, 1, true, rd) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 17: {
        // LHU
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = rT[t] === a - (a & 4095) ? a + rT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize && (o & 1) === 0 && pageState[o >>> 12] !== 0) {
          xl[rd] = u16[o >>> 1]!;
          xh[rd] = 0;
          pc += ilen;
          continue;
        }
        s.pc = pc;
        pc = loadSlow(s, rs1, imm, 2, true, rd) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 18: {
        // LWU
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = rT[t] === a - (a & 4095) ? a + rT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize && (o & 3) === 0 && pageState[o >>> 12] !== 0) {
          xl[rd] = s32[o >>> 2]!;
          xh[rd] = 0;
          pc += ilen;
          continue;
        }
        s.pc = pc;
        pc = loadSlow(s, rs1, imm, 4, true, rd) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }

      // ---- Stores: fast path = in RAM, aligned, page Modified; code on the page is
      //      invalidated so self-modifying code sees its own stores ----
      case 19: {
        // SB
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = wT[t] === a - (a & 4095) ? a + wT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize) {
          const p = o >>> 12;
          if (pageState[p] === 2) {
            u8[o] = xl[rs2]!;
            if (codeMark[p] !== 0) code.stored(o, 1);
            pc += ilen;
            continue;
          }
        }
        s.pc = pc;
        pc = storeSlow(s, rs1, imm, 1, rs2) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 20: {
        // SH
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = wT[t] === a - (a & 4095) ? a + wT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize && (o & 1) === 0) {
          const p = o >>> 12;
          if (pageState[p] === 2) {
            u16[o >>> 1] = xl[rs2]!;
            if (codeMark[p] !== 0) code.stored(o, 2);
            pc += ilen;
            continue;
          }
        }
        s.pc = pc;
        pc = storeSlow(s, rs1, imm, 2, rs2) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 21: {
        // SW
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = wT[t] === a - (a & 4095) ? a + wT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize && (o & 3) === 0) {
          const p = o >>> 12;
          if (pageState[p] === 2) {
            s32[o >>> 2] = xl[rs2]!;
            if (codeMark[p] !== 0) code.stored(o, 4);
            pc += ilen;
            continue;
          }
        }
        s.pc = pc;
        pc = storeSlow(s, rs1, imm, 4, rs2) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 22: {
        // SD
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + imm;
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = wT[t] === a - (a & 4095) ? a + wT[t + 1]! : -1;
        }
        if (o >= 0 && o < ramSize && (o & 7) === 0) {
          const p = o >>> 12;
          if (pageState[p] === 2) {
            const i = o >>> 2;
            s32[i] = xl[rs2]!;
            s32[i + 1] = xh[rs2]!;
            if (codeMark[p] !== 0) code.stored(o, 8);
            pc += ilen;
            continue;
          }
        }
        s.pc = pc;
        pc = storeSlow(s, rs1, imm, 8, rs2) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }

      // ---- Register-immediate ----
      case 23: {
        // ADDI
        const a = xl[rs1]!;
        const hi = (xh[rs1]! + (imm >> 31) + ((a >>> 0) + (imm >>> 0) > 0xffffffff ? 1 : 0)) | 0;
        xl[rd] = (a + imm) | 0;
        xh[rd] = hi;
        break;
      }
      case 24: {
        // SLTI
        const ah = xh[rs1]!;
        const bh = imm >> 31;
        xl[rd] = ah < bh || (ah === bh && xl[rs1]! >>> 0 < imm >>> 0) ? 1 : 0;
        xh[rd] = 0;
        break;
      }
      case 25: {
        // SLTIU: the immediate is sign-extended, then compared unsigned.
        const ah = xh[rs1]! >>> 0;
        const bh = (imm >> 31) >>> 0;
        xl[rd] = ah < bh || (ah === bh && xl[rs1]! >>> 0 < imm >>> 0) ? 1 : 0;
        xh[rd] = 0;
        break;
      }
      case 26: // XORI
        xh[rd] = xh[rs1]! ^ (imm >> 31);
        xl[rd] = xl[rs1]! ^ imm;
        break;
      case 27: // ORI
        xh[rd] = xh[rs1]! | (imm >> 31);
        xl[rd] = xl[rs1]! | imm;
        break;
      case 28: // ANDI
        xh[rd] = xh[rs1]! & (imm >> 31);
        xl[rd] = xl[rs1]! & imm;
        break;
      case 29: // SLLI
        shiftLeft(xl, xh, rd, xl[rs1]!, xh[rs1]!, imm);
        break;
      case 30: // SRLI
        shiftRight(xl, xh, rd, xl[rs1]!, xh[rs1]!, imm, false);
        break;
      case 31: // SRAI
        shiftRight(xl, xh, rd, xl[rs1]!, xh[rs1]!, imm, true);
        break;

      // ---- Register-register ----
      case 32: {
        // ADD
        const a = xl[rs1]!;
        const b = xl[rs2]!;
        const hi = (xh[rs1]! + xh[rs2]! + ((a >>> 0) + (b >>> 0) > 0xffffffff ? 1 : 0)) | 0;
        xl[rd] = (a + b) | 0;
        xh[rd] = hi;
        break;
      }
      case 33: {
        // SUB
        const a = xl[rs1]!;
        const b = xl[rs2]!;
        const hi = (xh[rs1]! - xh[rs2]! - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
        xl[rd] = (a - b) | 0;
        xh[rd] = hi;
        break;
      }
      case 34: // SLL
        shiftLeft(xl, xh, rd, xl[rs1]!, xh[rs1]!, xl[rs2]! & 63);
        break;
      case 35: {
        // SLT
        const ah = xh[rs1]!;
        const bh = xh[rs2]!;
        xl[rd] = ah < bh || (ah === bh && xl[rs1]! >>> 0 < xl[rs2]! >>> 0) ? 1 : 0;
        xh[rd] = 0;
        break;
      }
      case 36: {
        // SLTU
        const ah = xh[rs1]! >>> 0;
        const bh = xh[rs2]! >>> 0;
        xl[rd] = ah < bh || (ah === bh && xl[rs1]! >>> 0 < xl[rs2]! >>> 0) ? 1 : 0;
        xh[rd] = 0;
        break;
      }
      case 37: // XOR
        xh[rd] = xh[rs1]! ^ xh[rs2]!;
        xl[rd] = xl[rs1]! ^ xl[rs2]!;
        break;
      case 38: // SRL
        shiftRight(xl, xh, rd, xl[rs1]!, xh[rs1]!, xl[rs2]! & 63, false);
        break;
      case 39: // SRA
        shiftRight(xl, xh, rd, xl[rs1]!, xh[rs1]!, xl[rs2]! & 63, true);
        break;
      case 40: // OR
        xh[rd] = xh[rs1]! | xh[rs2]!;
        xl[rd] = xl[rs1]! | xl[rs2]!;
        break;
      case 41: // AND
        xh[rd] = xh[rs1]! & xh[rs2]!;
        xl[rd] = xl[rs1]! & xl[rs2]!;
        break;

      // ---- 32-bit ops: compute on the low word, sign-extend the result ----
      case 42: {
        // ADDIW
        const v = (xl[rs1]! + imm) | 0;
        xl[rd] = v;
        xh[rd] = v >> 31;
        break;
      }
      case 43: {
        // SLLIW
        const v = xl[rs1]! << imm;
        xl[rd] = v;
        xh[rd] = v >> 31;
        break;
      }
      case 44: {
        // SRLIW
        const v = (xl[rs1]! >>> imm) | 0;
        xl[rd] = v;
        xh[rd] = v >> 31;
        break;
      }
      case 45: {
        // SRAIW
        const v = xl[rs1]! >> imm;
        xl[rd] = v;
        xh[rd] = v >> 31;
        break;
      }
      case 46: {
        // ADDW
        const v = (xl[rs1]! + xl[rs2]!) | 0;
        xl[rd] = v;
        xh[rd] = v >> 31;
        break;
      }
      case 47: {
        // SUBW
        const v = (xl[rs1]! - xl[rs2]!) | 0;
        xl[rd] = v;
        xh[rd] = v >> 31;
        break;
      }
      case 48: {
        // SLLW (JS masks shift counts to 5 bits, as the spec does for *W)
        const v = xl[rs1]! << xl[rs2]!;
        xl[rd] = v;
        xh[rd] = v >> 31;
        break;
      }
      case 49: {
        // SRLW
        const v = (xl[rs1]! >>> xl[rs2]!) | 0;
        xl[rd] = v;
        xh[rd] = v >> 31;
        break;
      }
      case 50: {
        // SRAW
        const v = xl[rs1]! >> xl[rs2]!;
        xl[rd] = v;
        xh[rd] = v >> 31;
        break;
      }

      // ---- Misc-mem and system ----
      case 51: // FENCE: one hart, sequentially consistent already
        break;
      case 52: // FENCE.I: stores already invalidate their page; this also catches bytes
        // changed behind the hart's back by someone who forgot ram.invalidateCode.
        code.flushAll();
        break;
      case 53: // ECALL: cause 8 + priv gives 8 (U), 9 (S), 11 (M); with V=1 VU 8, VS 10
        s.pc = pc;
        raiseException(s, Cause.EcallU + s.priv + (s.virt & s.priv), 0, 0);
        pc = s.pc;
        if (s.brk) break loop;
        continue;
      case 54: // EBREAK: tval = pc, as QEMU
        s.pc = pc;
        raiseException(s, Cause.Breakpoint, pc | 0, Math.floor(pc / TWO32) | 0);
        pc = s.pc;
        if (s.brk) break loop;
        continue;
      case 55: // MRET
      case 59: {
        // SRET. Either changes mode (trap.ts); xIE may have come back on, so the outer
        // loop looks.
        s.pc = pc;
        const exc = s.exceptions;
        if (xret(s, (w & 0xff) === 59) && s.exceptions !== exc) steps++; // retired, then its target failed to fetch
        pc = s.pc;
        break loop;
      }
      case 56: // WFI: retires (unless TW/U-mode make it illegal); the hart idles only if
        // nothing in mie is pending
        s.pc = pc;
        pc = wfi(s) ? pc + ilen : s.pc;
        break loop;
      case 60: // SFENCE.VMA: a TLB flush point; the current code page may map elsewhere now
        s.pc = pc;
        pc = sfenceVma(s, imm, rs1) ? pc + ilen : s.pc;
        break loop;
      case 61: // HLV/HLVX/HSV/HFENCE (H extension): rare, so out of line
        s.pc = pc;
        pc = hypInstruction(s, imm) ? pc + ilen : s.pc;
        blkLen = 0;
        break loop;
      case 57: // CSRRW/CSRRS/CSRRC/CSRRWI/CSRRSI/CSRRCI
        // Counters are read as of before this instruction.
        s.cycles = cycles0 + steps - 1;
        s.instret = instret0 + steps - 1 - (s.exceptions - exc0);
        s.pc = pc;
        pc = csrInstruction(s, imm, rd) ? pc + ilen : s.pc;
        if (s.brk) break loop;
        continue;

      // ---- M extension (isa/m) ----
      case 100:
        mul(xl, xh, rd, rs1, rs2);
        break;
      case 101:
        mulh(xl, xh, rd, rs1, rs2);
        break;
      case 102:
        mulhsu(xl, xh, rd, rs1, rs2);
        break;
      case 103:
        mulhu(xl, xh, rd, rs1, rs2);
        break;
      case 104:
        div(xl, xh, rd, rs1, rs2);
        break;
      case 105:
        divu(xl, xh, rd, rs1, rs2);
        break;
      case 106:
        rem(xl, xh, rd, rs1, rs2);
        break;
      case 107:
        remu(xl, xh, rd, rs1, rs2);
        break;
      case 108:
        mulw(xl, xh, rd, rs1, rs2);
        break;
      case 109:
        divw(xl, xh, rd, rs1, rs2);
        break;
      case 110:
        divuw(xl, xh, rd, rs1, rs2);
        break;
      case 111:
        remw(xl, xh, rd, rs1, rs2);
        break;
      case 112:
        remuw(xl, xh, rd, rs1, rs2);
        break;

      // ---- A extension (isa/a) ----
      case 113: // LR.W
      case 114: // LR.D
        s.pc = pc;
        pc = loadReserved(s, rd, rs1, (w & 0xff) === 113 ? 4 : 8) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      case 115: // SC.W
      case 116: // SC.D
        s.pc = pc;
        pc = storeConditional(s, rd, rs1, rs2, (w & 0xff) === 115 ? 4 : 8) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      case 117: // AMO*.W
      case 118: // AMO*.D
        s.pc = pc;
        pc = amo(s, imm, rd, rs1, rs2, (w & 0xff) === 117 ? 4 : 8) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;

      // ---- F and D (isa/fd/execute.ts); loads and stores share the integer slow paths ----
      case 119: // FLW
      case 120: {
        // FLD. Fast path as LD's, into f[rd] (FLW NaN-boxes); imm bits 11:0 = offset.
        const dbl = (w & 0xff) === 120;
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + ((imm << 20) >> 20);
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = rT[t] === a - (a & 4095) ? a + rT[t + 1]! : -1;
        }
        if (s.mstatusFs !== 0 && o >= 0 && o < ramSize && (o & (dbl ? 7 : 3)) === 0 && pageState[o >>> 12] !== 0) {
          const i = o >>> 2;
          const fw = s.fw;
          fw[2 * rd] = s32[i]!;
          fw[2 * rd + 1] = dbl ? s32[i + 1]! : -1;
          s.mstatusFs = 3;
          pc += ilen;
          continue;
        }
        s.pc = pc;
        pc = fpLoad(s, rd, rs1, imm, dbl ? 8 : 4) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 121: // FSW
      case 122: {
        // FSD. Fast path as SD's, from f[rs2] (FSW stores the low word as it is).
        const dbl = (w & 0xff) === 122;
        const a = xh[rs1]! * TWO32 + (xl[rs1]! >>> 0) + ((imm << 20) >> 20);
        let o = a - ramBase;
        if (vm) {
          const t = (a >>> 11) & 510;
          o = wT[t] === a - (a & 4095) ? a + wT[t + 1]! : -1;
        }
        if (s.mstatusFs !== 0 && o >= 0 && o < ramSize && (o & (dbl ? 7 : 3)) === 0) {
          const p = o >>> 12;
          if (pageState[p] === 2) {
            const i = o >>> 2;
            const fw = s.fw;
            s32[i] = fw[2 * rs2]!;
            if (dbl) s32[i + 1] = fw[2 * rs2 + 1]!;
            if (codeMark[p] !== 0) code.stored(o, dbl ? 8 : 4);
            pc += ilen;
            continue;
          }
        }
        s.pc = pc;
        pc = fpStore(s, rs2, rs1, imm, dbl ? 8 : 4) ? pc + ilen : s.pc;
        blkLen = 0;
        if (s.brk) break loop;
        continue;
      }
      case 123: // every other F/D instruction; imm is the raw instruction
        s.pc = pc;
        if (!fpExecute(s, imm)) {
          pc = s.pc;
          if (s.brk) break loop;
          continue;
        }
        break;

      default: // ILLEGAL (and anything undecodable)
        s.pc = pc;
        raiseException(s, Cause.IllegalInstruction, imm, 0);
        pc = s.pc;
        if (s.brk) break loop;
        continue;
    }
    pc += ilen;
  }

  s.pc = pc;
  s.fBlk = blk;
  s.cycles = cycles0 + steps;
  s.instret = instret0 + steps - (s.exceptions - exc0);
  return steps;
}

function shiftLeft(xl: Int32Array, xh: Int32Array, rd: number, lo: number, hi: number, sh: number): void {
  if (sh === 0) {
    xl[rd] = lo;
    xh[rd] = hi;
  } else if (sh < 32) {
    xh[rd] = (hi << sh) | (lo >>> (32 - sh));
    xl[rd] = lo << sh;
  } else {
    xh[rd] = lo << (sh - 32);
    xl[rd] = 0;
  }
}

function shiftRight(xl: Int32Array, xh: Int32Array, rd: number, lo: number, hi: number, sh: number, arith: boolean): void {
  if (sh === 0) {
    xl[rd] = lo;
    xh[rd] = hi;
  } else if (sh < 32) {
    xl[rd] = (lo >>> sh) | (hi << (32 - sh));
    xh[rd] = arith ? hi >> sh : hi >>> sh;
  } else {
    xl[rd] = arith ? hi >> (sh - 32) : hi >>> (sh - 32);
    xh[rd] = arith ? hi >> 31 : 0;
  }
}
