// The read shadow's shared words (issue 17, speed 1): device registers io-backend granted
// this vCPU, served by the worker without an exit. A grant rides on an MMIO reply; the host
// thread writes it here before it answers that exit, so the worker, blocked in the exit,
// sees it when it wakes. A revoke (NATS, any time) clears a slot's valid bits; a load the
// worker began before that is ordered before the revoke, and io-backend applies its change
// only after the host has cleared the bits and answered.
//
// One writer, the host thread (ReadShadowWriter); one reader, the worker (ReadShadowReader),
// which checks it on every device load: no allocation, no message, a few Atomics loads.
// Per slot: VALID (bit i: the register at BASE + i), BASE, EXPIRES (ms since the epoch, in
// the Float64 view: a grant the host never hears revoked goes stale for at most its
// lifetime), then one word per register value.

/** Devices with a shadow at once (UART0 today; slots are reused by base). */
export const SHADOW_SLOTS = 4;
/** Registers per grant, at one byte each from the device's base. */
export const SHADOW_REGISTERS = 8;
const VALID = 0;
const BASE = 1;
const VALUES = 2;
/** Int32 words per slot (VALID, BASE, values), then the slot's expiry as one Float64. */
const SLOT_WORDS = VALUES + SHADOW_REGISTERS;
const EXPIRES_AT = SHADOW_SLOTS * SLOT_WORDS; // Float64 index base: (EXPIRES_AT / 2) + slot
export const SHADOW_BYTES = (EXPIRES_AT + 2 * SHADOW_SLOTS) * 4;

/** Milliseconds since the epoch, comparable across threads (their performance.now() origins
 *  differ) and monotonic within one. */
export const shadowClock = (): number => performance.timeOrigin + performance.now();

/** The host thread's end: installs and clears grants. */
export class ReadShadowWriter {
  private readonly words: Int32Array;
  private readonly expiry: Float64Array;

  constructor(buf: SharedArrayBuffer) {
    this.words = new Int32Array(buf);
    this.expiry = new Float64Array(buf, EXPIRES_AT * 4, SHADOW_SLOTS);
  }

  /** Grants registers `valid` of the device at `base`, reading as `values`, until `expiresAt`
   *  (shadowClock ms). The valid bits are published last. False when no slot is free. */
  install(base: number, valid: number, values: ArrayLike<number>, expiresAt: number): boolean {
    const slot = this.slotOf(base) ?? this.freeSlot();
    if (slot === undefined) return false;
    const w = this.words;
    const at = slot * SLOT_WORDS;
    Atomics.store(w, at + VALID, 0);
    w[at + BASE] = base | 0;
    for (let i = 0; i < SHADOW_REGISTERS; i++) w[at + VALUES + i] = values[i] ?? 0;
    this.expiry[slot] = expiresAt;
    Atomics.store(w, at + VALID, valid & 0xff);
    return true;
  }

  /** Drops the grant of the device at `base`, if any: no load is served from it after this. */
  drop(base: number): void {
    const slot = this.slotOf(base);
    if (slot !== undefined) Atomics.store(this.words, slot * SLOT_WORDS + VALID, 0);
  }

  /** Drops every grant. */
  dropAll(): void {
    for (let s = 0; s < SHADOW_SLOTS; s++) Atomics.store(this.words, s * SLOT_WORDS + VALID, 0);
  }

  /** The base of the granted device whose registers hold `addr`, or undefined. */
  baseHolding(addr: number): number | undefined {
    for (let s = 0; s < SHADOW_SLOTS; s++) {
      const at = s * SLOT_WORDS;
      const base = this.words[at + BASE]! >>> 0;
      if (Atomics.load(this.words, at + VALID) !== 0 && addr >= base && addr < base + SHADOW_REGISTERS) return base;
    }
    return undefined;
  }

  private slotOf(base: number): number | undefined {
    for (let s = 0; s < SHADOW_SLOTS; s++) if (this.words[s * SLOT_WORDS + BASE]! >>> 0 === base >>> 0) return s;
    return undefined;
  }

  private freeSlot(): number | undefined {
    for (let s = 0; s < SHADOW_SLOTS; s++) {
      const at = s * SLOT_WORDS;
      if (Atomics.load(this.words, at + VALID) === 0 || this.expiry[s]! < shadowClock()) return s;
    }
    return undefined;
  }
}

/** The worker's end: serves a load from a grant, or says it cannot. */
export class ReadShadowReader {
  private readonly words: Int32Array;
  private readonly expiry: Float64Array;

  constructor(buf: SharedArrayBuffer) {
    this.words = new Int32Array(buf);
    this.expiry = new Float64Array(buf, EXPIRES_AT * 4, SHADOW_SLOTS);
  }

  /** When (shadowClock ms) the live grant that serves a byte load at `pa` runs out; 0
   *  when none does. */
  expiresAt(pa: number): number {
    const w = this.words;
    for (let s = 0; s < SHADOW_SLOTS; s++) {
      const at = s * SLOT_WORDS;
      const valid = Atomics.load(w, at + VALID);
      const off = pa - (w[at + BASE]! >>> 0);
      if (valid !== 0 && off >= 0 && off < SHADOW_REGISTERS && ((valid >> off) & 1) !== 0) return this.expiry[s]!;
    }
    return 0;
  }

  /** A byte load at `pa` served from a live grant (the value in out[0], out[1] = 0): true;
   *  false when it must exit. Allocation-free. */
  serve(pa: number, size: number, out: Int32Array): boolean {
    if (size !== 1) return false;
    const w = this.words;
    for (let s = 0; s < SHADOW_SLOTS; s++) {
      const at = s * SLOT_WORDS;
      const valid = Atomics.load(w, at + VALID);
      if (valid === 0) continue;
      const off = pa - (w[at + BASE]! >>> 0);
      if (off < 0 || off >= SHADOW_REGISTERS || ((valid >> off) & 1) === 0) continue;
      if (this.expiry[s]! < shadowClock()) return false;
      out[0] = w[at + VALUES + off]!;
      out[1] = 0;
      return true;
    }
    return false;
  }
}
