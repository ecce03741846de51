// Posted MMIO writes: stores the vCPU does not wait for, the two ways KVM has them.
//
// - Coalesced MMIO (KVM_REGISTER_COALESCED_MMIO): a store to a registered zone is not an
//   exit. The vCPU appends it to a ring in shared memory and goes on; the VMM drains the
//   ring, in order, before it serves any other exit of that vCPU, when the ring is full
//   (that store then exits as usual, carrying the ring), and when the writes have waited a
//   short while. Only stores whose effect the guest cannot see before its next exit may be
//   coalesced: the device answers nothing to them.
// - ioeventfd: a virtio QueueNotify store is not an exit either. It goes through the same
//   ring, so it stays in order with the coalesced writes before it, and the host turns it
//   into a NATS doorbell once those are applied.
//
// The ring is one SharedArrayBuffer, preallocated: the worker (the only producer) writes an
// entry and then publishes it by bumping HEAD; the host thread (the only consumer) copies
// entries out and bumps TAIL. Atomics on HEAD/TAIL order the plain entry words around them.
import { UART0, VIRTIO_MMIO_BASE, VIRTIO_MMIO_SLOTS, VIRTIO_MMIO_STRIDE } from '@splitvisor/platform';

/** Entries the ring holds (a power of two); the next store after that exits, carrying them
 *  all. HEAD and TAIL are free-running int32 counters: differences and masks survive wrap. */
export const POSTED_CAPACITY = 1024;
const MASK = POSTED_CAPACITY - 1;
const HEAD = 0;
const TAIL = 1;
const HEADER_WORDS = 2;
/** addr, size | kind << 8, value lo, value hi */
const ENTRY_WORDS = 4;
export const POSTED_BYTES = (HEADER_WORDS + POSTED_CAPACITY * ENTRY_WORDS) * 4;

export const PostedKind = {
  /** Applied as an MMIO write through io-backend's device bus, in order. */
  Coalesced: 0,
  /** A virtio QueueNotify: published as a Doorbell event once the writes before it are in. */
  Doorbell: 1,
} as const;
export type PostedKindValue = (typeof PostedKind)[keyof typeof PostedKind];

/** virtio-mmio QueueNotify (virtio 1.2 §4.2.2): the driver names a queue with new buffers. */
export const QUEUE_NOTIFY = 0x050;

/**
 * The coalesced zones, as a VMM registers them with KVM. Only UART0's THR, one byte at
 * offset 0: the transmit path is where the guest's console output goes, and the device
 * answers nothing to it. The other UART registers stay synchronous: their writes change
 * what the next read returns (IER -> IIR, LCR -> every offset, FCR, MCR loopback -> RBR),
 * and a read must see them anyway, which it does, since it exits and drains the ring.
 *
 * With LCR.DLAB set, offset 0 is the divisor latch (DLL), not THR. Deferring that write is
 * still correct: the ring is applied in program order, so the DLL write lands after the LCR
 * write that set DLAB (a synchronous exit, already served) and before any later access of
 * this vCPU; nothing can observe the divisor in between, because every read of the UART
 * (DLL, DLM, LCR) is itself an exit that drains the ring first.
 */
export const COALESCED_ZONES: readonly { base: number; size: number }[] = [{ base: UART0.base, size: 1 }];

const VIRTIO_END = VIRTIO_MMIO_BASE + VIRTIO_MMIO_SLOTS * VIRTIO_MMIO_STRIDE;

/** What a device store at `pa` becomes: a posted kind, or -1 for an ordinary exit. Called
 *  only for stores that leave the cpu (never per instruction), allocation-free. */
export function postedKindOf(pa: number, size: number): PostedKindValue | -1 {
  if (size === 4 && pa >= VIRTIO_MMIO_BASE && pa < VIRTIO_END && (pa - VIRTIO_MMIO_BASE) % VIRTIO_MMIO_STRIDE === QUEUE_NOTIFY) {
    return PostedKind.Doorbell;
  }
  for (let i = 0; i < COALESCED_ZONES.length; i++) {
    const z = COALESCED_ZONES[i]!;
    if (pa >= z.base && pa + size <= z.base + z.size) return PostedKind.Coalesced;
  }
  return -1;
}

/** The worker's end: appends without allocating; refuses when full. */
export class PostedRingWriter {
  private readonly words: Int32Array;
  private head: number;

  constructor(buf: SharedArrayBuffer) {
    this.words = new Int32Array(buf);
    this.head = Atomics.load(this.words, HEAD);
  }

  /** Entries posted and not yet taken by the host. */
  get pending(): number {
    return (this.head - Atomics.load(this.words, TAIL)) | 0;
  }

  /** Entries ever posted, modulo 2^32 (the host has taken them all once a synchronous exit
   *  returns). */
  get posted(): number {
    return this.head;
  }

  /** Appends one store; false when the ring is full (the store must exit instead). */
  post(kind: PostedKindValue, pa: number, size: number, lo: number, hi: number): boolean {
    const w = this.words;
    if (((this.head - Atomics.load(w, TAIL)) | 0) >= POSTED_CAPACITY) return false;
    const at = HEADER_WORDS + (this.head & MASK) * ENTRY_WORDS;
    w[at] = pa | 0;
    w[at + 1] = size | (kind << 8);
    w[at + 2] = lo;
    w[at + 3] = hi;
    this.head = (this.head + 1) | 0;
    Atomics.store(w, HEAD, this.head);
    return true;
  }
}

export interface PostedEntry {
  kind: PostedKindValue;
  addr: number;
  size: number;
  lo: number;
  hi: number;
}

/** The host thread's end: takes every entry published so far, oldest first. */
export class PostedRingReader {
  private readonly words: Int32Array;

  constructor(buf: SharedArrayBuffer) {
    this.words = new Int32Array(buf);
  }

  get pending(): number {
    return (Atomics.load(this.words, HEAD) - Atomics.load(this.words, TAIL)) | 0;
  }

  take(): PostedEntry[] {
    const w = this.words;
    const head = Atomics.load(w, HEAD);
    let tail = Atomics.load(w, TAIL);
    const out: PostedEntry[] = [];
    for (; tail !== head; tail = (tail + 1) | 0) {
      const at = HEADER_WORDS + (tail & MASK) * ENTRY_WORDS;
      const sk = w[at + 1]!;
      out.push({ kind: (sk >> 8) as PostedKindValue, addr: w[at]! >>> 0, size: sk & 0xff, lo: w[at + 2]!, hi: w[at + 3]! });
    }
    // The slots are free for the worker only after they were copied.
    Atomics.store(w, TAIL, tail);
    return out;
  }
}
