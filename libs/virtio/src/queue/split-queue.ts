// The device side of a split virtqueue (virtio 1.2 §2.7), written once and written for a
// hostile guest: every index, flag, length and address it reads is checked before use, and
// every violation is a QueueError naming the queue, the index and the address.
//
// Memory calls are round trips (~0.5 ms through the mmu), so a pop costs few of them: the
// whole avail ring (flags, idx, every entry) is one read, and the heads published below that
// idx are kept for later pops; a queue of up to 512 entries has its descriptor table read in
// one call per pop, a larger one in 4 KiB windows; an indirect table is one read.
import { hex } from '@splitvisor/platform';
import { GuestMemoryError, checkRange, describeRange, u64ToNumber, type GuestMemory, type GuestWrite } from '../memory.js';
import { QueueError } from './queue-error.js';
import {
  AVAIL_ALIGN,
  DESC_ALIGN,
  DESC_SIZE,
  MAX_QUEUE_SIZE,
  USED_ALIGN,
  USED_ELEM_SIZE,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  availRingBytes,
  descTableBytes,
  isPowerOfTwo,
  needEvent,
  usedRingBytes,
} from './ring.js';

export interface QueueLayout {
  /** Queue Size: entries in each ring, a power of two. */
  size: number;
  /** Guest-physical addresses of the descriptor table, the driver (avail) and device (used) areas. */
  desc: number;
  avail: number;
  used: number;
}

export interface Segment {
  addr: number;
  len: number;
}

export interface DescriptorChain {
  /** The head descriptor index, what pushUsed gives back. */
  head: number;
  /** Device-readable buffers, in chain order (zero-length descriptors are left out). */
  readable: Segment[];
  /** Device-writable buffers, in chain order, all after the readable ones (§2.7.4.2). */
  writable: Segment[];
  readableBytes: number;
  writableBytes: number;
}

/** A chain given back to the driver: its head, the bytes written into it, and what the
 *  device still has to write into it (written first). */
export interface UsedChain {
  head: number;
  written: number;
  data?: readonly GuestWrite[];
}

export interface SplitQueueOptions {
  /** VIRTIO_RING_F_EVENT_IDX negotiated (§2.7.10). */
  eventIdx: boolean;
  /** VIRTIO_RING_F_INDIRECT_DESC negotiated (§2.7.5.3). */
  indirect: boolean;
  /** Largest readable + writable total a chain may have (default 2^32 - 1, what used.len can say). */
  maxChainBytes?: number;
  /** For messages, e.g. "blk0 queue 0" (default "queue"). */
  name?: string;
}

/** Tables up to this size are read whole, once per pop. */
const WHOLE_TABLE_BYTES = 8192;
const WINDOW_DESCS = 256;
const MAX_U32 = 0xffff_ffff;

/**
 * Why `layout` cannot be a split queue (size, alignment, addresses), or undefined. The
 * transport asks before it builds a SplitQueue, so a bad QueueReady is refused, not thrown.
 */
export function layoutProblem(layout: QueueLayout, maxSize = MAX_QUEUE_SIZE): string | undefined {
  const { size, desc, avail, used } = layout;
  if (!isPowerOfTwo(size)) return `queue size ${size} is not a power of two`;
  if (size > maxSize) return `queue size ${size} is above the maximum ${maxSize}`;
  const areas: [string, number, number, number][] = [
    ['descriptor table', desc, descTableBytes(size), DESC_ALIGN],
    ['driver area (avail ring)', avail, availRingBytes(size), AVAIL_ALIGN],
    ['device area (used ring)', used, usedRingBytes(size), USED_ALIGN],
  ];
  for (const [what, addr, bytes, align] of areas) {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr + bytes > Number.MAX_SAFE_INTEGER)
      return `${what} at ${String(addr)} is not an exact guest-physical range`;
    if (addr === 0) return `${what} address is 0 (never set)`;
    if (addr % align !== 0) return `${what} at ${hex(addr)} is not ${align}-byte aligned`;
  }
  return undefined;
}

export class SplitQueue {
  readonly size: number;
  readonly name: string;
  private readonly layout: QueueLayout;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private readonly maxChainBytes: number;

  /** Next avail ring position the device will consume (free-running, mod 2^16). */
  private lastAvail = 0;
  /** Next used ring position (free-running, mod 2^16); the device owns used.idx. */
  private nextUsed = 0;
  /** used.idx at the last interrupt decision (§2.7.10 "old"). */
  private signalledUsed = 0;
  /** avail_event last written, or -1. */
  private availEventWritten = -1;
  /** Heads published below the last avail.idx read and not popped yet. */
  private readonly pending: Uint16Array;
  private pendingStart = 0;
  private pendingCount = 0;
  /** Per head: popped and not yet given back. */
  private readonly inFlight: Uint8Array;
  private inFlightCount = 0;
  /** Per descriptor: the walk stamp that last visited it (loop detection without clearing). */
  private readonly visited: Uint32Array;
  private stamp = 0;
  /** Used-ring writes are serialized so used.idx never covers an entry not yet written. */
  private usedTail: Promise<void> = Promise.resolve();
  private popping = false;
  private killed = false;
  /** The descriptor table as the last refill read it, for the heads that refill found. */
  private table: DataView | undefined;
  /** pushUsed calls whose writes have not completed. */
  private pushing = 0;
  /** avail.flags and used_event as a refill read them, and used.idx then (-1: none). A
   *  read issued after used.idx reached its value is what §2.7.10 asks for. */
  private eventSeenAt = -1;
  private eventFlags = 0;
  private eventUsed = 0;

  constructor(
    private readonly mem: GuestMemory,
    layout: QueueLayout,
    opts: SplitQueueOptions,
  ) {
    this.name = opts.name ?? 'queue';
    const problem = layoutProblem(layout);
    if (problem) throw new QueueError(`${this.name}: ${problem}`);
    this.layout = { ...layout };
    this.size = layout.size;
    this.eventIdx = opts.eventIdx;
    this.indirect = opts.indirect;
    this.maxChainBytes = Math.min(opts.maxChainBytes ?? MAX_U32, MAX_U32);
    this.pending = new Uint16Array(this.size);
    this.inFlight = new Uint8Array(this.size);
    this.visited = new Uint32Array(this.size);
  }

  get isKilled(): boolean {
    return this.killed;
  }

  /** Chains popped and not yet pushed back. */
  get inFlightChains(): number {
    return this.inFlightCount;
  }

  /** The device's used.idx (what it last wrote, or is about to). */
  get usedIdx(): number {
    return this.nextUsed;
  }

  get availIdxSeen(): number {
    return this.lastAvail;
  }

  /**
   * The next available chain, or null when the driver has published nothing new. Throws
   * QueueError when the ring or the chain breaks the spec's rules. Not reentrant: one pop at
   * a time per queue (QueueRunner makes sure).
   */
  async pop(): Promise<DescriptorChain | null> {
    if (this.killed) return null;
    if (this.popping) throw new Error(`${this.name}: pop() while another pop() is running`);
    this.popping = true;
    try {
      if (this.pendingCount === 0) {
        await this.refill();
        if (this.pendingCount === 0 && this.eventIdx && !this.killed) {
          // §2.7.10: the driver kicks only when avail.idx passes avail_event, so publish where
          // we are, then look again: a buffer added in between would otherwise sit unnoticed.
          await this.publishAvailEvent();
          await this.refill();
        }
        if (this.pendingCount === 0 || this.killed) return null;
      }
      const head = this.pending[this.pendingStart]!;
      const chain = await this.walk(head);
      if (this.killed) return null;
      this.pendingStart++;
      this.pendingCount--;
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      this.inFlight[head] = 1;
      this.inFlightCount++;
      return chain;
    } finally {
      this.popping = false;
    }
  }

  /**
   * Gives chain `head` back with `written` bytes written into its writable part (§2.7.8):
   * `data` (what the device still had to write into the chain: a status byte, the last of
   * a payload), then the used element, then used.idx, in one memory call. GuestMemory's
   * writev applies them in that order with nobody looking in between, so the driver
   * never sees an idx that covers an element or a buffer not yet written (§2.7.8, and
   * §2.7.13.3's write barrier before the idx update). After kill() it writes nothing.
   */
  pushUsed(head: number, written: number, data: readonly GuestWrite[] = []): Promise<void> {
    return this.pushUsedMany([{ head, written, data }]);
  }

  /**
   * Gives several chains back, in this order, in one memory call: every chain's data, then
   * their used elements, then used.idx once (§2.7.8 and §2.7.13.3 as in pushUsed; the
   * driver sees none of them or all). A device that finished several chains at once (frames
   * that arrived together) pays one DMA call, and one update of the vCPU's copy, for all.
   * Nothing is given back when one of them is refused.
   */
  pushUsedMany(chains: readonly UsedChain[]): Promise<void> {
    if (this.killed || chains.length === 0) return Promise.resolve();
    for (let i = 0; i < chains.length; i++) {
      const { head, written } = chains[i]!;
      const twice = chains.findIndex((c) => c.head === head) !== i;
      if (!Number.isInteger(head) || head < 0 || head >= this.size || this.inFlight[head] !== 1 || twice) {
        return Promise.reject(new Error(`${this.name}: pushUsed(${head}): that head is not in flight${twice ? ' (given back twice in one call)' : ''}`));
      }
      if (!Number.isInteger(written) || written < 0 || written > MAX_U32) {
        return Promise.reject(new Error(`${this.name}: pushUsed(${head}, ${written}): written must be a u32`));
      }
    }
    for (const { head } of chains) this.inFlight[head] = 0;
    this.inFlightCount -= chains.length;
    this.pushing++;
    const run = async () => {
      if (this.killed) return;
      const writes: GuestWrite[] = [];
      /** Which chain each write is for (-1: used.idx), and which are used elements. */
      const whose: number[] = [];
      const elemAt: number[] = [];
      chains.forEach((c, i) => {
        for (const w of c.data ?? []) {
          writes.push(w);
          whose.push(i);
        }
      });
      const elems = new Uint8Array(USED_ELEM_SIZE * chains.length);
      const dv = new DataView(elems.buffer);
      chains.forEach((c, i) => {
        const slot = (this.nextUsed + i) % this.size;
        dv.setUint32(i * USED_ELEM_SIZE, c.head, true);
        dv.setUint32(i * USED_ELEM_SIZE + 4, c.written, true);
        elemAt.push(writes.length);
        writes.push({ addr: this.layout.used + 4 + slot * USED_ELEM_SIZE, data: elems.subarray(i * USED_ELEM_SIZE, (i + 1) * USED_ELEM_SIZE) });
        whose.push(i);
      });
      const next = (this.nextUsed + chains.length) & 0xffff;
      writes.push({ addr: this.layout.used + 2, data: Uint8Array.of(next & 0xff, next >>> 8) });
      whose.push(-1);
      try {
        await this.mem.writev(writes);
      } catch (e) {
        if (!(e instanceof GuestMemoryError)) throw e;
        let k = writes.findIndex((w) => w.addr === e.addr && w.data.length === e.length);
        if (k < 0) k = elemAt[0]!;
        const i = whose[k]!;
        const what =
          i < 0 ? 'used.idx' : elemAt[i] === k ? `used ring entry ${(this.nextUsed + i) % this.size}` : `buffer of the chain from head ${chains[i]!.head}`;
        throw new QueueError(`${this.name}: ${what} at ${describeRange(writes[k]!.addr, writes[k]!.data.length)}: ${e.message}`);
      }
      if (this.killed) return;
      this.nextUsed = next;
    };
    const p = this.usedTail.then(run).finally(() => this.pushing--);
    this.usedTail = p.catch(() => undefined);
    return p;
  }

  /**
   * Whether the driver wants an interrupt for the used entries pushed since the last call:
   * VIRTQ_AVAIL_F_NO_INTERRUPT without EVENT_IDX, used_event with it (§2.7.10). The
   * guest's value as read after used.idx took its present value: by the pop that found
   * the ring empty at the end of a drain when there was one since, else read now (the
   * driver changes it at will).
   */
  async needsInterrupt(): Promise<boolean> {
    await this.usedTail;
    if (this.killed) return false;
    const old = this.signalledUsed;
    const now = this.nextUsed;
    if (old === now) return false;
    this.signalledUsed = now;
    const fresh = this.eventSeenAt === now;
    if (this.eventIdx) {
      if (fresh) return needEvent(this.eventUsed, now, old);
      const at = this.layout.avail + 4 + 2 * this.size;
      const b = await this.guard(this.mem.read(at, 2), 'avail.used_event', at, 2);
      return needEvent(b[0]! | (b[1]! << 8), now, old);
    }
    if (fresh) return (this.eventFlags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    const b = await this.guard(this.mem.read(this.layout.avail, 2), 'avail.flags', this.layout.avail, 2);
    return ((b[0]! | (b[1]! << 8)) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /**
   * A queue taken over from a device backend that died (io-backend restarted): the device
   * had consumed the avail ring up to some point and completed chains up to used.idx, which
   * it wrote into guest RAM. Every device here completes the chains of one queue in the
   * order it popped them (QueueRunner awaits each pushUsed before the next pop; virtio-net's
   * receive fill gives back the chains it popped, in order, before it pops more), so used.idx
   * is also where the device's avail
   * position stood but for the chains in flight when it died: resuming at used.idx pops
   * those again, as vhost-user-blk's backend recovers last_avail_idx from the used ring.
   * Only before the first pop.
   */
  resume(usedIdx: number): void {
    if (!Number.isInteger(usedIdx) || usedIdx < 0 || usedIdx > 0xffff) throw new Error(`${this.name}: resume(${usedIdx}): used.idx must be a u16`);
    if (this.lastAvail !== 0 || this.nextUsed !== 0 || this.inFlightCount !== 0 || this.pendingCount !== 0)
      throw new Error(`${this.name}: resume(${usedIdx}) after the queue was used`);
    this.lastAvail = usedIdx;
    this.nextUsed = usedIdx;
    this.signalledUsed = usedIdx;
  }

  /** After a reset or NEEDS_RESET: nothing more is read or written; in-flight chains are dropped. */
  kill(): void {
    this.killed = true;
    this.pendingCount = 0;
  }

  /**
   * Reads flags, idx and the whole ring in one call, and a table of up to WHOLE_TABLE_BYTES
   * with it; keeps the heads below idx (§2.7.6). The table read with the idx serves every
   * chain below that idx: §2.7.13 has the driver write a chain's descriptors before the idx
   * that publishes it, and a published chain's descriptors are the device's until it gives
   * the chain back. The idx is read no later than the table (§2.7.13.3's read barrier):
   * one DmaRead is one step at mmu, whose recalls go out in the order of the ranges.
   */
  private async refill(): Promise<void> {
    const { avail, desc } = this.layout;
    const bytes = availRingBytes(this.size); // used_event too, for needsInterrupt
    const tableBytes = descTableBytes(this.size);
    // Issued after every used.idx write completed: good for the interrupt decision.
    const usedAt = this.pushing === 0 ? this.nextUsed : -1;
    let b: Uint8Array;
    let table: Uint8Array | undefined;
    if (tableBytes <= WHOLE_TABLE_BYTES) {
      try {
        [b, table] = (await this.mem.readv([
          { addr: avail, len: bytes },
          { addr: desc, len: tableBytes },
        ])) as [Uint8Array, Uint8Array];
      } catch (e) {
        if (!(e instanceof GuestMemoryError)) throw e;
        const [what, at, len] = e.addr === desc && e.length === tableBytes ? ['descriptor table', desc, tableBytes] : ['avail ring', avail, bytes];
        throw new QueueError(`${this.name}: ${what} at ${describeRange(at, len)}: ${e.message}`);
      }
    } else b = await this.guard(this.mem.read(avail, bytes), 'avail ring', avail, bytes);
    if (this.killed) return;
    const idx = b[2]! | (b[3]! << 8);
    const count = (idx - this.lastAvail) & 0xffff;
    if (count > this.size) {
      throw new QueueError(
        `${this.name}: avail.idx ${idx} is ${count} entries ahead of the device's ${this.lastAvail}, more than the queue size ${this.size} (avail ring at ${hex(avail)})`,
      );
    }
    for (let i = 0; i < count; i++) {
      const slot = (this.lastAvail + i) % this.size;
      this.pending[i] = b[4 + 2 * slot]! | (b[5 + 2 * slot]! << 8);
    }
    this.pendingStart = 0;
    this.pendingCount = count;
    this.table = table && new DataView(table.buffer, table.byteOffset, table.byteLength);
    this.eventSeenAt = usedAt;
    this.eventFlags = b[0]! | (b[1]! << 8);
    this.eventUsed = b[4 + 2 * this.size]! | (b[5 + 2 * this.size]! << 8);
  }

  private async publishAvailEvent(): Promise<void> {
    if (this.availEventWritten === this.lastAvail) return;
    const at = this.layout.used + 4 + USED_ELEM_SIZE * this.size;
    const v = new Uint8Array([this.lastAvail & 0xff, this.lastAvail >>> 8]);
    await this.guard(this.mem.write(at, v), 'used.avail_event', at, 2);
    this.availEventWritten = this.lastAvail;
  }

  /** Follows a chain from `head` (§2.7.5, §2.7.5.3 for indirect tables). */
  private async walk(head: number): Promise<DescriptorChain> {
    const size = this.size;
    const slot = this.lastAvail % size;
    if (head >= size) throw new QueueError(`${this.name}: avail ring entry ${slot} names head ${head}, past the queue size ${size}`);
    if (this.inFlight[head]) throw new QueueError(`${this.name}: avail ring entry ${slot} makes head ${head} available again while the device still holds it`);
    const chain: DescriptorChain = { head, readable: [], writable: [], readableBytes: 0, writableBytes: 0 };
    const table = new TableReader(this, size, this.table);
    if (++this.stamp === 0xffff_ffff) {
      this.visited.fill(0);
      this.stamp = 1;
    }
    let i = head;
    let count = 0;
    for (;;) {
      if (this.visited[i] === this.stamp) throw new QueueError(`${this.name}: chain from head ${head} comes back to descriptor ${i} (a loop)`);
      this.visited[i] = this.stamp;
      count++;
      const d = await table.at(i);
      const where = `descriptor ${i} of the chain from head ${head}`;
      if (d.flags & VIRTQ_DESC_F_INDIRECT) {
        await this.walkIndirect(chain, d, where, count - 1);
        break;
      }
      this.add(chain, d, where);
      if (!(d.flags & VIRTQ_DESC_F_NEXT)) break;
      if (d.next >= size) throw new QueueError(`${this.name}: ${where} has next ${d.next}, past the queue size ${size}`);
      i = d.next;
    }
    return chain;
  }

  private async walkIndirect(chain: DescriptorChain, d: Desc, where: string, before: number): Promise<void> {
    if (!this.indirect) throw new QueueError(`${this.name}: ${where} has VIRTQ_DESC_F_INDIRECT but VIRTIO_RING_F_INDIRECT_DESC was not negotiated`);
    // §2.7.5.3.1: an indirect descriptor ends its chain and its len is whole descriptors.
    if (d.flags & VIRTQ_DESC_F_NEXT) throw new QueueError(`${this.name}: ${where} sets both INDIRECT and NEXT`);
    if (d.len === 0 || d.len % DESC_SIZE !== 0)
      throw new QueueError(`${this.name}: ${where} points to an indirect table of ${d.len} bytes, not a non-zero multiple of ${DESC_SIZE}`);
    const n = d.len / DESC_SIZE;
    // §2.7.5.3.1 bounds a whole chain, indirect entries included, by the queue size.
    if (before + n > this.size)
      throw new QueueError(`${this.name}: ${where} points to an indirect table of ${n} descriptors: the chain would pass the queue size ${this.size}`);
    const addr = this.address(d, where);
    const t = await this.guard(this.mem.read(addr, d.len), `indirect table of ${where}`, addr, d.len);
    const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
    let j = 0;
    for (let steps = 1; ; steps++) {
      // A chain inside a table of n entries that takes more than n steps has looped.
      if (steps > n) throw new QueueError(`${this.name}: indirect table at ${hex(addr)} (${where}) loops: more than ${n} steps`);
      const e = readDesc(dv, j * DESC_SIZE);
      const at = `indirect descriptor ${j} of table ${hex(addr)} (${where})`;
      if (e.flags & VIRTQ_DESC_F_INDIRECT) throw new QueueError(`${this.name}: ${at} is itself INDIRECT (nested indirect tables are forbidden)`);
      this.add(chain, e, at);
      if (!(e.flags & VIRTQ_DESC_F_NEXT)) return;
      if (e.next >= n) throw new QueueError(`${this.name}: ${at} has next ${e.next}, past the table's ${n} entries`);
      j = e.next;
    }
  }

  private add(chain: DescriptorChain, d: Desc, where: string): void {
    const addr = this.address(d, where);
    const writable = (d.flags & VIRTQ_DESC_F_WRITE) !== 0;
    // §2.7.4.2: every device-writable element comes after every device-readable one.
    if (!writable && chain.writable.length > 0) throw new QueueError(`${this.name}: ${where} is device-readable but follows a device-writable descriptor`);
    const total = chain.readableBytes + chain.writableBytes + d.len;
    if (total > this.maxChainBytes) throw new QueueError(`${this.name}: ${where} brings the chain to ${total} bytes, above the limit ${this.maxChainBytes}`);
    if (d.len === 0) return;
    if (writable) {
      if (chain.writable.length >= this.size) throw new QueueError(`${this.name}: ${where}: more than ${this.size} writable segments`);
      chain.writable.push({ addr, len: d.len });
      chain.writableBytes += d.len;
    } else {
      if (chain.readable.length >= this.size) throw new QueueError(`${this.name}: ${where}: more than ${this.size} readable segments`);
      chain.readable.push({ addr, len: d.len });
      chain.readableBytes += d.len;
    }
  }

  /** The descriptor's buffer address, refused past 2^53 or when addr + len would pass it. */
  private address(d: Desc, where: string): number {
    const addr = u64ToNumber(d.addrLo, d.addrHi);
    if (addr === undefined) {
      const full = (BigInt(d.addrHi >>> 0) << 32n) | BigInt(d.addrLo >>> 0);
      throw new QueueError(`${this.name}: ${where} has addr ${hex(full)}, above 2^53`);
    }
    try {
      checkRange(addr, d.len);
    } catch {
      throw new QueueError(`${this.name}: ${where} has addr ${hex(addr)} + len ${d.len} past 2^53 (overflow)`);
    }
    return addr;
  }

  /** Turns a guest range outside RAM into a QueueError naming what was being read. */
  async guard<T>(p: Promise<T>, what: string, addr: number, len: number): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (e instanceof GuestMemoryError) throw new QueueError(`${this.name}: ${what} at ${describeRange(addr, len)}: ${e.message}`);
      throw e;
    }
  }

  /** @internal for TableReader */
  tableArea(): { mem: GuestMemory; desc: number } {
    return { mem: this.mem, desc: this.layout.desc };
  }
}

interface Desc {
  addrLo: number;
  addrHi: number;
  len: number;
  flags: number;
  next: number;
}

function readDesc(dv: DataView, off: number): Desc {
  return {
    addrLo: dv.getUint32(off, true),
    addrHi: dv.getUint32(off + 4, true),
    len: dv.getUint32(off + 8, true),
    flags: dv.getUint16(off + 12, true),
    next: dv.getUint16(off + 14, true),
  };
}

/**
 * The descriptor table as one pop sees it: read whole when small (by the refill that found
 * the head, see SplitQueue.refill), else in windows of 256 descriptors, each read at most
 * once per pop. Nothing else is kept between pops: the driver rewrites descriptors of
 * chains the device gave back.
 */
class TableReader {
  private readonly whole: boolean;
  private readonly windows = new Map<number, DataView>();

  constructor(
    private readonly q: SplitQueue,
    private readonly size: number,
    table: DataView | undefined,
  ) {
    this.whole = descTableBytes(size) <= WHOLE_TABLE_BYTES;
    if (table && this.whole) this.windows.set(0, table);
  }

  async at(i: number): Promise<Desc> {
    const per = this.whole ? this.size : WINDOW_DESCS;
    const w = Math.floor(i / per);
    let dv = this.windows.get(w);
    if (!dv) {
      const { mem, desc } = this.q.tableArea();
      const addr = desc + w * per * DESC_SIZE;
      const len = Math.min(per, this.size - w * per) * DESC_SIZE;
      const b = await this.q.guard(mem.read(addr, len), 'descriptor table', addr, len);
      dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.windows.set(w, dv);
    }
    return readDesc(dv, (i - w * per) * DESC_SIZE);
  }
}
