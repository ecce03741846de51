// The only way a virtio device reaches guest RAM (STYLE.md 6: ask for what you use). In
// io-backend each call is a DMA round trip through the mmu (~0.5 ms, more when it must
// recall a page from a vCPU), so callers batch: one read for a ring, one for a descriptor
// table, and one writev for what a completion writes (data, status, used element, used.idx).
import { hex } from '@splitvisor/platform';

export interface GuestRange {
  addr: number;
  len: number;
}

export interface GuestWrite {
  addr: number;
  data: Uint8Array;
}

/**
 * A rejection that is not a GuestMemoryError says the memory could not be reached at all,
 * and the queue then gives up on the device (DEVICE_NEEDS_RESET). So an implementation
 * whose calls can fail for a while (io-backend's DMA through mmu: a deadline, a restart)
 * asks again itself before it rejects: a driver such as Linux's virtio_blk never resets a
 * device that needs it, and its requests hang.
 */
export interface GuestMemory {
  /** Rejects with an Error naming the range when any byte is outside guest RAM. */
  read(addr: number, length: number): Promise<Uint8Array>;
  write(addr: number, data: Uint8Array): Promise<void>;
  /** Several ranges in one call: each one's bytes, in the order asked. Nothing is read
   *  unless every range is guest RAM. */
  readv(ranges: readonly GuestRange[]): Promise<Uint8Array[]>;
  /**
   * Several writes as one call: every range is checked before any byte is written, then
   * they are applied in the order given, and no reader (a vCPU, another device) sees
   * memory between two of them. That is what lets a used element and used.idx go
   * together (virtio 1.2 §2.7.8: the idx must not cover an element not yet written).
   */
  writev(writes: readonly GuestWrite[]): Promise<void>;
}

/**
 * A range the guest named that is not guest RAM, or not an address at all (past 2^53, an
 * overflowing addr+len). The queue turns it into a QueueError: a guest that hands the
 * device such a buffer has broken the ring (virtio 1.2 §2.1.2, DEVICE_NEEDS_RESET).
 */
export class GuestMemoryError extends Error {
  constructor(
    readonly addr: number,
    readonly length: number,
    why: string,
  ) {
    super(`guest range ${describeRange(addr, length)}: ${why}`);
    this.name = 'GuestMemoryError';
  }
}

export function describeRange(addr: number, length: number): string {
  const a = Number.isSafeInteger(addr) && addr >= 0 ? hex(addr) : String(addr);
  const end = Number.isSafeInteger(addr) && Number.isSafeInteger(length) && addr >= 0 && length >= 0 ? hex(addr + length) : '?';
  return `[${a}, ${end}) (${length} bytes)`;
}

/**
 * Throws GuestMemoryError unless [addr, addr+length) is a range of exact addresses: both
 * non-negative safe integers and the end at most 2^53 - 1, so nothing ever wraps or rounds.
 */
export function checkRange(addr: number, length: number): void {
  if (!Number.isSafeInteger(addr) || addr < 0)
    throw new GuestMemoryError(addr, length, 'address is not an exact guest-physical address (above 2^53 or negative)');
  if (!Number.isSafeInteger(length) || length < 0) throw new GuestMemoryError(addr, length, 'length is not a non-negative integer');
  if (addr + length > Number.MAX_SAFE_INTEGER) throw new GuestMemoryError(addr, length, 'addr + len passes 2^53 (would overflow)');
}

/**
 * A 64-bit guest value as a number, from its little-endian 32-bit halves. Undefined when it
 * is above 2^53 - 1: such a value cannot be an address we represent exactly, and rounding
 * it could land inside RAM.
 */
export function u64ToNumber(lo: number, hi: number): number | undefined {
  if (hi >>> 0 > 0x1fffff) return undefined;
  return (hi >>> 0) * 0x1_0000_0000 + (lo >>> 0);
}

/** Guest RAM as one host buffer at [base, base+size): for tests and `splitvisor exec`. */
export class FlatMemory implements GuestMemory {
  readonly bytes: Uint8Array;
  /** Memory calls made, for tests that count round trips. */
  reads = 0;
  writes = 0;

  constructor(
    readonly base: number,
    readonly size: number,
  ) {
    checkRange(base, size);
    this.bytes = new Uint8Array(size);
  }

  read(addr: number, length: number): Promise<Uint8Array> {
    try {
      const off = this.offset(addr, length);
      this.reads++;
      return Promise.resolve(this.bytes.slice(off, off + length));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  write(addr: number, data: Uint8Array): Promise<void> {
    try {
      const off = this.offset(addr, data.length);
      this.writes++;
      this.bytes.set(data, off);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  readv(ranges: readonly GuestRange[]): Promise<Uint8Array[]> {
    try {
      const offs = ranges.map((r) => this.offset(r.addr, r.len));
      this.reads++;
      return Promise.resolve(ranges.map((r, i) => this.bytes.slice(offs[i], offs[i]! + r.len)));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  writev(writes: readonly GuestWrite[]): Promise<void> {
    try {
      const offs = writes.map((w) => this.offset(w.addr, w.data.length));
      this.writes++;
      writes.forEach((w, i) => this.bytes.set(w.data, offs[i]));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  /** Synchronous view for test drivers (the guest side), same bounds checks. */
  view(addr: number, length: number): DataView {
    const off = this.offset(addr, length);
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + off, length);
  }

  private offset(addr: number, length: number): number {
    checkRange(addr, length);
    if (addr < this.base || addr + length > this.base + this.size) {
      throw new GuestMemoryError(addr, length, `outside guest RAM ${describeRange(this.base, this.size)}`);
    }
    return addr - this.base;
  }
}
