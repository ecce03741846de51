// The SiFive CLINT of the virt machine, as QEMU builds it (hw/riscv/virt.c): two ACLINT
// devices side by side in the 64 KiB CLINT window (hw/intc/riscv_aclint.c).
//
//   0x0000 + 4*hart   msip      MSWI, 4-byte accesses only (valid 4..4); bit 0 drives MSIP
//   0x4000 + 8*hart   mtimecmp  MTIMER (0x4000..0xbfff), 4- or 8-byte accesses (valid 4..8)
//   0xbff8            mtime     MTIMER
//   0xc000..0xffff    nothing   QEMU maps no device there: an access faults
//
// Inside each ACLINT device an offset that is no register (a hart that does not exist,
// msip bytes 1..3 of a word) reads 0 and ignores writes, as QEMU (it only logs them).
// QEMU's memory core refuses accesses of a size outside `valid` and unaligned ones
// (valid.unaligned is false), so those are access faults here too; an 8-byte access at
// mtimecmp+4 is therefore refused rather than reaching the device's "invalid hi write".
//
// mtime = source ticks + an offset that an mtime write sets (QEMU's time_delta), all
// arithmetic modulo 2^64 on 32-bit halves: no BigInt, nothing allocated per access.
// MTIP is the level mtime >= mtimecmp, re-evaluated on every mtimecmp or mtime write
// (QEMU riscv_aclint_mtimer_write_timecmp) and on tick(), which the vCPU calls between
// batches in place of QEMU's host timer. An interrupt line is announced only when its
// level changes, except by reset(), which announces every line.
import { CLINT, CLINT_MSIP, CLINT_MTIME, CLINT_MTIMECMP, type MmioOffset } from '@splitvisor/platform';
import type { TickSource } from './clock.js';
import { IRQ_M_SOFT, IRQ_M_TIMER, type HartIrqSink } from './irq.js';
import { answer, LOCAL_OK, refuse, type LocalAccessSize, type LocalDevice, type LocalResult } from './local-device.js';

/** RISCV_ACLINT_SWI_SIZE: the MSWI device's window; the MTIMER follows it. */
const SWI_SIZE = CLINT_MTIMECMP;
/** RISCV_ACLINT_DEFAULT_MTIMER_SIZE */
const MTIMER_END = SWI_SIZE + 0x8000;
/** RISCV_ACLINT_MAX_HARTS */
export const CLINT_MAX_HARTS = 4095;

const TWO_32 = 4294967296;

export interface ClintOptions {
  /** Harts 0..harts-1 (hartid-base 0, one socket). */
  harts: number;
  /** mtime's source, ticks at TIMEBASE_HZ. */
  clock: TickSource;
  /** Drives MSIP (bit 3) and MTIP (bit 7) of a hart. */
  onIrq: HartIrqSink;
  /** Device name (default "clint"). */
  name?: string;
}

export class Clint implements LocalDevice {
  readonly name: string;
  readonly size = CLINT.size;
  readonly harts: number;
  private readonly clock: TickSource;
  private readonly onIrq: HartIrqSink;
  private readonly msip: Uint8Array;
  private readonly cmpLo: Uint32Array;
  private readonly cmpHi: Uint32Array;
  /** Level last announced per hart, so unchanged lines cost no callback. */
  private readonly mtip: Uint8Array;
  /** mtime - source ticks, modulo 2^64. */
  private deltaLo = 0;
  private deltaHi = 0;
  /** mtime as of the last sample(). */
  private tLo = 0;
  private tHi = 0;

  constructor(opts: ClintOptions) {
    if (!Number.isInteger(opts.harts) || opts.harts < 1 || opts.harts > CLINT_MAX_HARTS) {
      throw new RangeError(`CLINT harts ${opts.harts} out of range 1..${CLINT_MAX_HARTS}`);
    }
    this.name = opts.name ?? 'clint';
    this.harts = opts.harts;
    this.clock = opts.clock;
    this.onIrq = opts.onIrq;
    this.msip = new Uint8Array(opts.harts);
    this.cmpLo = new Uint32Array(opts.harts);
    this.cmpHi = new Uint32Array(opts.harts);
    this.mtip = new Uint8Array(opts.harts);
  }

  read(offset: MmioOffset, size: LocalAccessSize, out: Int32Array): LocalResult {
    if (offset < SWI_SIZE) {
      if (size !== 4 || (offset & 3) !== 0) return refuse(this.name, 'read', offset, size, 'msip takes aligned 4-byte accesses');
      const hart = (offset - CLINT_MSIP) >>> 2;
      return answer(out, hart < this.harts ? this.msip[hart]! : 0, 0);
    }
    const bad = this.checkMtimer('read', offset, size);
    if (bad) return bad;
    const off = offset - SWI_SIZE;
    if (off < this.harts * 8) {
      const hart = off >>> 3;
      // 8 bytes only at a register's start (aligned); 4 bytes picks the half.
      if (size === 8) return answer(out, this.cmpLo[hart]!, this.cmpHi[hart]!);
      return answer(out, (off & 4) === 0 ? this.cmpLo[hart]! : this.cmpHi[hart]!, 0);
    }
    const t = offset - CLINT_MTIME;
    if (t === 0 || t === 4) {
      this.sample();
      if (size === 8) return answer(out, this.tLo, this.tHi);
      return answer(out, t === 0 ? this.tLo : this.tHi, 0);
    }
    return answer(out, 0, 0);
  }

  write(offset: MmioOffset, size: LocalAccessSize, lo: number, hi: number): LocalResult {
    if (offset < SWI_SIZE) {
      if (size !== 4 || (offset & 3) !== 0) return refuse(this.name, 'write', offset, size, 'msip takes aligned 4-byte accesses');
      const hart = (offset - CLINT_MSIP) >>> 2;
      if (hart < this.harts) {
        const level = lo & 1;
        if (this.msip[hart] !== level) {
          this.msip[hart] = level;
          this.onIrq(hart, IRQ_M_SOFT, level === 1);
        }
      }
      return LOCAL_OK;
    }
    const bad = this.checkMtimer('write', offset, size);
    if (bad) return bad;
    const off = offset - SWI_SIZE;
    if (off < this.harts * 8) {
      const hart = off >>> 3;
      if (size === 8) {
        this.cmpLo[hart] = lo;
        this.cmpHi[hart] = hi;
      } else if ((off & 4) === 0) {
        this.cmpLo[hart] = lo;
      } else {
        this.cmpHi[hart] = lo;
      }
      this.sample();
      this.evaluate(hart);
      return LOCAL_OK;
    }
    const t = offset - CLINT_MTIME;
    if (t === 0 || t === 4) {
      this.sample();
      // The new mtime: both halves, or one half with the other kept (QEMU time_lo/time_hi).
      const newLo = size === 8 || t === 0 ? lo >>> 0 : this.tLo;
      const newHi = size === 8 ? hi >>> 0 : t === 4 ? lo >>> 0 : this.tHi;
      this.setMtime(newLo, newHi);
      for (let h = 0; h < this.harts; h++) this.evaluate(h);
    }
    return LOCAL_OK;
  }

  /** Re-evaluates every hart's MTIP against the source's time now. Call between batches. */
  tick(): void {
    this.sample();
    for (let h = 0; h < this.harts; h++) this.evaluate(h);
  }

  /**
   * Ticks until the earliest timer that has not fired yet (of `hart`, or of any hart),
   * or Infinity when none is armed: how long a vCPU idle in WFI may sleep before tick().
   * A timer already firing is not counted, its MTIP is up and its hart was told.
   * Beyond 2^53 ticks the result is rounded; a disarmed mtimecmp (all ones) is ~1.8e19.
   */
  nextDeadline(hart?: number): number {
    this.sample();
    let best = Infinity;
    const from = hart ?? 0;
    const to = hart === undefined ? this.harts : Math.min(hart + 1, this.harts);
    for (let h = from; h < to; h++) {
      if (this.due(h)) continue;
      const d = (this.cmpHi[h]! - this.tHi) * TWO_32 + (this.cmpLo[h]! - this.tLo);
      if (d < best) best = d;
    }
    return best;
  }

  /** mtime now into out[0] (low word) and out[1] (high word): the `time` CSR's value. */
  readTime(out: Int32Array): void {
    this.sample();
    out[0] = this.tLo;
    out[1] = this.tHi;
  }

  /** mtime now as a number (exact below 2^53). */
  mtime(): number {
    this.sample();
    return this.tHi * TWO_32 + this.tLo;
  }

  /**
   * Power-on state, as QEMU's reset: msip cleared, mtime written to 0. mtimecmp is left
   * as it is, which at power-on is 0 (QEMU sets timecmp to 0 at creation), so MTIP is up
   * until firmware writes mtimecmp, as on QEMU. Every line is announced.
   */
  reset(): void {
    this.msip.fill(0);
    this.setMtime(0, 0);
    for (let h = 0; h < this.harts; h++) {
      this.onIrq(h, IRQ_M_SOFT, false);
      const level = this.due(h) ? 1 : 0;
      this.mtip[h] = level;
      this.onIrq(h, IRQ_M_TIMER, level === 1);
    }
  }

  private checkMtimer(kind: 'read' | 'write', offset: number, size: number): LocalResult | undefined {
    if (offset >= MTIMER_END) return refuse(this.name, kind, offset, size, 'no device there (QEMU maps nothing past the mtimer)');
    if (size < 4 || (offset & (size - 1)) !== 0) return refuse(this.name, kind, offset, size, 'the mtimer takes aligned 4- or 8-byte accesses');
    return undefined;
  }

  /** tLo/tHi = source ticks + delta, modulo 2^64. */
  private sample(): void {
    const c = Math.floor(this.clock());
    const cHi = Math.floor(c / TWO_32);
    const lo = c - cHi * TWO_32 + this.deltaLo;
    const carry = lo >= TWO_32 ? 1 : 0;
    this.tLo = lo - carry * TWO_32;
    this.tHi = (cHi + this.deltaHi + carry) >>> 0;
  }

  /** Makes mtime read (lo, hi) now: delta = new - source ticks, modulo 2^64; the sample
   *  becomes (lo, hi). */
  private setMtime(lo: number, hi: number): void {
    const c = Math.floor(this.clock());
    const cHi = Math.floor(c / TWO_32);
    const d = lo - (c - cHi * TWO_32);
    const borrow = d < 0 ? 1 : 0;
    this.deltaLo = d + borrow * TWO_32;
    this.deltaHi = (hi - cHi - borrow) >>> 0;
    this.tLo = lo;
    this.tHi = hi;
  }

  /** mtime (as last sampled) >= mtimecmp[hart], unsigned 64-bit. */
  private due(hart: number): boolean {
    const h = this.cmpHi[hart]!;
    return this.tHi > h || (this.tHi === h && this.tLo >= this.cmpLo[hart]!);
  }

  private evaluate(hart: number): void {
    const level = this.due(hart) ? 1 : 0;
    if (this.mtip[hart] !== level) {
      this.mtip[hart] = level;
      this.onIrq(hart, IRQ_M_TIMER, level === 1);
    }
  }
}
