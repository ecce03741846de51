// The SiFive PLIC of the virt machine, as QEMU models it (hw/intc/sifive_plic.c, created
// by hw/riscv/virt.c with VIRT_IRQCHIP_NUM_SOURCES = 96, VIRT_IRQCHIP_NUM_PRIO_BITS = 3
// and hart config "MS" per hart, so context 2*hart is M-mode and 2*hart+1 is S-mode).
//
//   0x000000 + 4*source     priority     sources 0..95 (0 exists as a register, never fires)
//   0x001000 + 4*word       pending      read-only, one bit per source
//   0x002000 + 0x80*ctx     enables      one bit per source, per context
//   0x200000 + 0x1000*ctx   threshold
//   0x200004 + 0x1000*ctx   claim (read) / complete (write)
//
// Every other offset in the window reads 0 and ignores writes (QEMU logs a guest error).
// Only aligned 4-byte accesses are valid (QEMU sifive_plic_ops.valid 4..4, unaligned not
// allowed): anything else is an access fault.
//
// Priorities and thresholds are WARL over 3 bits: QEMU keeps `value % (num_priorities+1)`
// = value & 7 when num_priorities + 1 is a power of two, as here (7 + 1 = 8).
//
// Sources are level-triggered lines (our IRQ lines arrive as level state over NATS).
// As in QEMU's sifive_plic_irq_request, a line's pending bit follows its level: a line
// that drops before it is claimed stops being pending. A claim picks the enabled pending
// unclaimed source of highest priority strictly above the context's threshold, the lowest
// id on a tie (QEMU sifive_plic_claimed), clears its pending bit and marks it claimed
// until completed. Two departures from QEMU, both towards the PLIC spec:
//  - a completion re-arms the gateway: a line still high becomes pending again at once
//    (QEMU only re-pends on the line's next change, so a level held across the claim is
//    lost there; PLIC spec 1.0.0, "Interrupt Gateways");
//  - the outputs are re-evaluated after every register write, enables included (QEMU does
//    not update after an enable write, so enabling an already pending source waits for
//    the next event).
// Outputs: onIrq(context, level), MEIP for even contexts and SEIP for odd ones; a line is
// announced only when its level changes, except by reset(), which announces every line.
import { PLIC, PLIC_SOURCES, type MmioOffset } from '@splitvisor/platform';
import { IRQ_M_EXT, IRQ_S_EXT } from './irq.js';
import { answer, LOCAL_OK, refuse, type LocalAccessSize, type LocalDevice, type LocalResult } from './local-device.js';

export const PLIC_PRIORITY_BASE = 0x0;
export const PLIC_PENDING_BASE = 0x1000;
export const PLIC_ENABLE_BASE = 0x2000;
export const PLIC_ENABLE_STRIDE = 0x80;
export const PLIC_CONTEXT_BASE = 0x200000;
export const PLIC_CONTEXT_STRIDE = 0x1000;
export const PLIC_PRIORITY_BITS = 3;
/** Highest priority; also the WARL mask of priority and threshold registers. */
export const PLIC_MAX_PRIORITY = (1 << PLIC_PRIORITY_BITS) - 1;
/** Contexts the 0x600000 window has room for (QEMU VIRT_PLIC_SIZE(VIRT_CPUS_MAX * 2)). */
export const PLIC_MAX_CONTEXTS = (PLIC.size - PLIC_CONTEXT_BASE) / PLIC_CONTEXT_STRIDE;

/** The hart a context belongs to. */
export function plicContextHart(context: number): number {
  return context >>> 1;
}

/** The mip bit a context drives: MEIP (11) for M contexts, SEIP (9) for S contexts. */
export function plicContextIrq(context: number): number {
  return (context & 1) === 0 ? IRQ_M_EXT : IRQ_S_EXT;
}

/** The context of a hart's mode: 2*hart for M, 2*hart+1 for S. */
export function plicContext(hart: number, mode: 'M' | 'S'): number {
  return 2 * hart + (mode === 'S' ? 1 : 0);
}

export interface PlicOptions {
  /** Harts 0..harts-1, each with an M and an S context. */
  harts: number;
  /** Drives a context's external interrupt line (wire to plicContextHart/plicContextIrq). */
  onIrq: (context: number, level: boolean) => void;
  /** Sources including the reserved 0 (QEMU num-sources); default PLIC_SOURCES (96). */
  sources?: number;
  /** Device name (default "plic"). */
  name?: string;
}

export class Plic implements LocalDevice {
  readonly name: string;
  readonly size = PLIC.size;
  readonly sources: number;
  readonly contexts: number;
  private readonly onIrq: (context: number, level: boolean) => void;
  /** 32-bit words of a per-source bit field. */
  private readonly words: number;
  private readonly priority: Uint32Array;
  private readonly threshold: Uint32Array;
  private readonly level: Uint32Array;
  private readonly pending: Uint32Array;
  private readonly claimed: Uint32Array;
  /** contexts * words, context-major. */
  private readonly enable: Uint32Array;
  /** Level last announced per context. */
  private readonly out: Uint8Array;

  constructor(opts: PlicOptions) {
    const sources = opts.sources ?? PLIC_SOURCES;
    if (!Number.isInteger(sources) || sources < 2 || sources > 1024) throw new RangeError(`PLIC sources ${sources} out of range 2..1024`);
    if (!Number.isInteger(opts.harts) || opts.harts < 1 || opts.harts * 2 > PLIC_MAX_CONTEXTS) {
      throw new RangeError(`PLIC harts ${opts.harts} out of range 1..${PLIC_MAX_CONTEXTS / 2}`);
    }
    this.name = opts.name ?? 'plic';
    this.sources = sources;
    this.contexts = opts.harts * 2;
    this.onIrq = opts.onIrq;
    this.words = (sources + 31) >>> 5;
    this.priority = new Uint32Array(sources);
    this.threshold = new Uint32Array(this.contexts);
    this.level = new Uint32Array(this.words);
    this.pending = new Uint32Array(this.words);
    this.claimed = new Uint32Array(this.words);
    this.enable = new Uint32Array(this.contexts * this.words);
    this.out = new Uint8Array(this.contexts);
  }

  /**
   * Drives source line `source` (1..sources-1) to `level`. False, and nothing changes,
   * for a number that is no source: the caller's input, not a fault of the guest.
   */
  setLevel(source: number, level: boolean): boolean {
    if (!Number.isInteger(source) || source < 1 || source >= this.sources) return false;
    const w = source >>> 5;
    const bit = 1 << (source & 31);
    if (level) {
      this.level[w]! |= bit;
      this.pending[w]! |= bit;
    } else {
      this.level[w]! &= ~bit;
      this.pending[w]! &= ~bit;
    }
    this.update();
    return true;
  }

  read(offset: MmioOffset, size: LocalAccessSize, out: Int32Array): LocalResult {
    if (size !== 4 || (offset & 3) !== 0) return refuse(this.name, 'read', offset, size, 'the PLIC takes aligned 4-byte accesses');
    if (offset < PLIC_PRIORITY_BASE + this.sources * 4) return answer(out, this.priority[offset >>> 2]!, 0);
    if (offset >= PLIC_PENDING_BASE && offset < PLIC_PENDING_BASE + this.words * 4) {
      return answer(out, this.pending[(offset - PLIC_PENDING_BASE) >>> 2]!, 0);
    }
    if (offset >= PLIC_ENABLE_BASE && offset < PLIC_ENABLE_BASE + this.contexts * PLIC_ENABLE_STRIDE) {
      const rel = offset - PLIC_ENABLE_BASE;
      const word = (rel & (PLIC_ENABLE_STRIDE - 1)) >>> 2;
      const ctx = (rel / PLIC_ENABLE_STRIDE) | 0;
      return answer(out, word < this.words ? this.enable[ctx * this.words + word]! : 0, 0);
    }
    if (offset >= PLIC_CONTEXT_BASE && offset < PLIC_CONTEXT_BASE + this.contexts * PLIC_CONTEXT_STRIDE) {
      const rel = offset - PLIC_CONTEXT_BASE;
      const reg = rel & (PLIC_CONTEXT_STRIDE - 1);
      const ctx = (rel / PLIC_CONTEXT_STRIDE) | 0;
      if (reg === 0) return answer(out, this.threshold[ctx]!, 0);
      if (reg === 4) return answer(out, this.claim(ctx), 0);
    }
    return answer(out, 0, 0);
  }

  write(offset: MmioOffset, size: LocalAccessSize, lo: number, _hi: number): LocalResult {
    if (size !== 4 || (offset & 3) !== 0) return refuse(this.name, 'write', offset, size, 'the PLIC takes aligned 4-byte accesses');
    const value = lo >>> 0;
    if (offset < PLIC_PRIORITY_BASE + this.sources * 4) {
      this.priority[offset >>> 2] = value & PLIC_MAX_PRIORITY;
    } else if (offset >= PLIC_ENABLE_BASE && offset < PLIC_ENABLE_BASE + this.contexts * PLIC_ENABLE_STRIDE) {
      const rel = offset - PLIC_ENABLE_BASE;
      const word = (rel & (PLIC_ENABLE_STRIDE - 1)) >>> 2;
      if (word >= this.words) return LOCAL_OK;
      this.enable[((rel / PLIC_ENABLE_STRIDE) | 0) * this.words + word] = value;
    } else if (offset >= PLIC_CONTEXT_BASE && offset < PLIC_CONTEXT_BASE + this.contexts * PLIC_CONTEXT_STRIDE) {
      const rel = offset - PLIC_CONTEXT_BASE;
      const reg = rel & (PLIC_CONTEXT_STRIDE - 1);
      if (reg === 0) {
        this.threshold[(rel / PLIC_CONTEXT_STRIDE) | 0] = value & PLIC_MAX_PRIORITY;
      } else if (reg === 4) {
        if (value >= this.sources) return LOCAL_OK; // QEMU: ignored
        this.complete(value);
      } else {
        return LOCAL_OK;
      }
    } else {
      // Pending bits are read-only; everything else is no register.
      return LOCAL_OK;
    }
    this.update();
    return LOCAL_OK;
  }

  /** Power-on: every register 0, no line pending or claimed; every output announced low.
   *  Line levels are kept: they are the devices' state, which they re-announce. */
  reset(): void {
    this.priority.fill(0);
    this.threshold.fill(0);
    this.pending.fill(0);
    this.claimed.fill(0);
    this.enable.fill(0);
    // A line still high is pending again, as it would be on the next level event.
    for (let w = 0; w < this.words; w++) this.pending[w] = this.level[w]!;
    for (let c = 0; c < this.contexts; c++) {
      this.out[c] = 0;
      this.onIrq(c, false);
    }
  }

  /** The source a claim by `context` would return now, without claiming it (0 = none). */
  peek(context: number): number {
    return this.best(context);
  }

  private claim(ctx: number): number {
    const id = this.best(ctx);
    if (id !== 0) {
      const w = id >>> 5;
      const bit = 1 << (id & 31);
      this.pending[w]! &= ~bit;
      this.claimed[w]! |= bit;
    }
    this.update();
    return id;
  }

  private complete(id: number): void {
    const w = id >>> 5;
    const bit = 1 << (id & 31);
    this.claimed[w]! &= ~bit;
    // The gateway forwards a new request if the line is still asserted.
    if (id !== 0 && (this.level[w]! & bit) !== 0) this.pending[w]! |= bit;
  }

  /** Highest-priority enabled, pending, unclaimed source above the threshold; 0 if none. */
  private best(ctx: number): number {
    let id = 0;
    let max = this.threshold[ctx]!;
    const base = ctx * this.words;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pending[w]! & ~this.claimed[w]! & this.enable[base + w]!;
      while (bits !== 0) {
        const j = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const src = (w << 5) + j;
        if (src >= this.sources) break;
        const p = this.priority[src]!;
        // Strictly greater: equal priority keeps the lower id found first.
        if (p > max) {
          max = p;
          id = src;
        }
      }
    }
    return id;
  }

  private update(): void {
    for (let c = 0; c < this.contexts; c++) {
      const level = this.best(c) !== 0 ? 1 : 0;
      if (this.out[c] !== level) {
        this.out[c] = level;
        this.onIrq(c, level === 1);
      }
    }
  }
}
