// A guest driver in miniature for tests (STYLE.md 5; rust-vmm virtio-queue mock.rs): it lays
// out split rings in a FlatMemory, brings a device up through the transport's registers in
// the order §3.1.1 gives, posts buffers, rings doorbells, waits for used entries and acks
// interrupts. It can also corrupt anything, which is what the hostile-guest tests need.
//
// Waiting is bounded by steps (event-loop turns), never by a wall clock, so a device that
// hangs fails a test instead of stalling it.
import type { MmioOffset } from '@splitvisor/platform';
import type { MmioDevice } from '@splitvisor/devices';
import { STATUS, VIRTIO_F_VERSION_1, featureBit } from '../constants.js';
import type { FlatMemory } from '../memory.js';
import { REG } from '../mmio/registers.js';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, availRingBytes, descTableBytes, usedRingBytes } from '../queue/ring.js';

export interface MockDesc {
  /** A number, or a bigint for values past 2^53. */
  addr: number | bigint;
  len: number;
  flags: number;
  next: number;
}

export interface MockQueue {
  index: number;
  size: number;
  desc: number;
  avail: number;
  used: number;
  /** Driver's avail.idx (free-running). */
  availIdx: number;
  /** Used entries consumed so far (free-running). */
  lastUsed: number;
  /** Next free descriptor slot for add() (simple bump, wraps). */
  nextDesc: number;
}

export interface UsedElem {
  id: number;
  len: number;
}

export interface Buffers {
  /** Device-readable buffers: their bytes. */
  readable?: Uint8Array[];
  /** Device-writable buffers: their lengths. */
  writable?: number[];
  /** Put the buffers in an indirect table (one INDIRECT descriptor in the ring). */
  indirect?: boolean;
}

export interface PostedChain {
  head: number;
  /** Guest addresses of the writable buffers, in order. */
  writable: { addr: number; len: number }[];
}

export interface MockDriverOptions {
  transport: MmioDevice;
  mem: FlatMemory;
  /** Where the driver's allocator starts (default mem.base). */
  heapStart?: number;
}

/** One event-loop turn: lets memory calls, fs callbacks and the crypto pool complete. */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class MockDriver {
  readonly mem: FlatMemory;
  readonly transport: MmioDevice;
  readonly queues: MockQueue[] = [];
  private heap: number;

  constructor(opts: MockDriverOptions) {
    this.mem = opts.mem;
    this.transport = opts.transport;
    this.heap = opts.heapStart ?? opts.mem.base;
  }

  // ---- registers --------------------------------------------------------------------

  /** A 32-bit register read; throws with the transport's reason when refused. */
  reg(offset: number): number {
    const r = this.transport.read(offset as MmioOffset, 4);
    if (!r.ok) throw new Error(r.reason);
    return r.value >>> 0;
  }

  setReg(offset: number, value: number): void {
    const r = this.transport.write(offset as MmioOffset, 4, value >>> 0);
    if (!r.ok) throw new Error(r.reason);
  }

  config(offset: number, size: 1 | 2 | 4): number {
    const r = this.transport.read((REG.CONFIG + offset) as MmioOffset, size);
    if (!r.ok) throw new Error(r.reason);
    return r.value >>> 0;
  }

  /** Both words of DeviceFeatures. */
  deviceFeatures(): bigint {
    this.setReg(REG.DEVICE_FEATURES_SEL, 0);
    const lo = this.reg(REG.DEVICE_FEATURES);
    this.setReg(REG.DEVICE_FEATURES_SEL, 1);
    const hi = this.reg(REG.DEVICE_FEATURES);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  status(): number {
    return this.reg(REG.STATUS);
  }

  // ---- bring-up ---------------------------------------------------------------------

  /**
   * §3.1.1 in order: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (read back), queue
   * setup, DRIVER_OK. `accept` filters the offered features (default: take all of them).
   * Returns the negotiated features; throws if the device refused FEATURES_OK.
   */
  init(opts: { queueSizes?: number[]; accept?: (offered: bigint) => bigint } = {}): bigint {
    this.setReg(REG.STATUS, 0);
    this.setReg(REG.STATUS, STATUS.ACKNOWLEDGE);
    this.setReg(REG.STATUS, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    const offered = this.deviceFeatures();
    const wanted = opts.accept ? opts.accept(offered) : offered;
    this.writeFeatures(wanted);
    this.setReg(REG.STATUS, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
    if (!(this.status() & STATUS.FEATURES_OK)) throw new Error(`device refused features ${wanted.toString(16)}`);
    const sizes = opts.queueSizes ?? [];
    let q = 0;
    for (;;) {
      this.setReg(REG.QUEUE_SEL, q);
      const max = this.reg(REG.QUEUE_NUM_MAX);
      if (max === 0) break;
      this.setupQueue(q, sizes[q] ?? Math.min(max, 16));
      q++;
    }
    this.setReg(REG.STATUS, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
    return wanted;
  }

  writeFeatures(features: bigint): void {
    this.setReg(REG.DRIVER_FEATURES_SEL, 0);
    this.setReg(REG.DRIVER_FEATURES, Number(features & 0xffff_ffffn));
    this.setReg(REG.DRIVER_FEATURES_SEL, 1);
    this.setReg(REG.DRIVER_FEATURES, Number((features >> 32n) & 0xffff_ffffn));
  }

  /** Lays out queue `q` of `size` entries in fresh memory and makes it ready. */
  setupQueue(q: number, size: number): MockQueue {
    const mq = this.placeQueue(q, size);
    this.setReg(REG.QUEUE_SEL, q);
    this.setReg(REG.QUEUE_NUM, size);
    this.setAddr(REG.QUEUE_DESC_LOW, mq.desc);
    this.setAddr(REG.QUEUE_DRIVER_LOW, mq.avail);
    this.setAddr(REG.QUEUE_DEVICE_LOW, mq.used);
    this.setReg(REG.QUEUE_READY, 1);
    return mq;
  }

  /** Lays out zeroed rings for queue `q` without touching any register (for SplitQueue specs). */
  placeQueue(q: number, size: number): MockQueue {
    const desc = this.alloc(descTableBytes(size), 16);
    const avail = this.alloc(availRingBytes(size), 2);
    const used = this.alloc(usedRingBytes(size), 4);
    this.mem.bytes.fill(0, desc - this.mem.base, used + usedRingBytes(size) - this.mem.base);
    const mq: MockQueue = { index: q, size, desc, avail, used, availIdx: 0, lastUsed: 0, nextDesc: 0 };
    this.queues[q] = mq;
    return mq;
  }

  setAddr(lowReg: number, addr: number): void {
    this.setReg(lowReg, addr % 0x1_0000_0000);
    this.setReg(lowReg + 4, Math.floor(addr / 0x1_0000_0000));
  }

  /** Bump allocator over guest RAM (never frees: tests are short). */
  alloc(len: number, align = 16): number {
    const at = Math.ceil(this.heap / align) * align;
    if (at + len > this.mem.base + this.mem.size) throw new Error(`mock driver: out of guest memory allocating ${len} bytes`);
    this.heap = at + len;
    return at;
  }

  // ---- posting buffers --------------------------------------------------------------

  /** Writes descriptor `i` of queue `q` raw (anything goes: that is the point). */
  writeDesc(q: number, i: number, d: MockDesc, table?: number): void {
    const base = table ?? this.queues[q]!.desc;
    const v = this.mem.view(base + 16 * i, 16);
    v.setBigUint64(0, BigInt(d.addr), true);
    v.setUint32(8, d.len >>> 0, true);
    v.setUint16(12, d.flags, true);
    v.setUint16(14, d.next, true);
  }

  /** Puts `head` in the next avail slot and bumps avail.idx by one (no notify). */
  publish(q: number, head: number): void {
    const mq = this.queues[q]!;
    this.mem.view(mq.avail + 4 + 2 * (mq.availIdx % mq.size), 2).setUint16(0, head, true);
    mq.availIdx = (mq.availIdx + 1) & 0xffff;
    this.setAvailIdx(q, mq.availIdx);
  }

  setAvailIdx(q: number, idx: number): void {
    this.mem.view(this.queues[q]!.avail + 2, 2).setUint16(0, idx & 0xffff, true);
  }

  setAvailFlags(q: number, flags: number): void {
    this.mem.view(this.queues[q]!.avail, 2).setUint16(0, flags, true);
  }

  setAvailRing(q: number, slot: number, head: number): void {
    this.mem.view(this.queues[q]!.avail + 4 + 2 * slot, 2).setUint16(0, head, true);
  }

  /** used_event (avail ring's last field, §2.7.10). */
  setUsedEvent(q: number, idx: number): void {
    const mq = this.queues[q]!;
    this.mem.view(mq.avail + 4 + 2 * mq.size, 2).setUint16(0, idx & 0xffff, true);
  }

  /** avail_event (used ring's last field), as the device wrote it. */
  availEvent(q: number): number {
    const mq = this.queues[q]!;
    return this.mem.view(mq.used + 4 + 8 * mq.size, 2).getUint16(0, true);
  }

  usedIdx(q: number): number {
    return this.mem.view(this.queues[q]!.used + 2, 2).getUint16(0, true);
  }

  /**
   * Builds a chain for `bufs` in fresh memory, publishes it and returns it (no notify). With
   * `indirect`, the chain is one INDIRECT descriptor pointing at a table.
   */
  add(q: number, bufs: Buffers): PostedChain {
    const mq = this.queues[q]!;
    const parts: MockDesc[] = [];
    const writable: { addr: number; len: number }[] = [];
    for (const data of bufs.readable ?? []) {
      const addr = this.alloc(Math.max(1, data.length), 8);
      this.mem.bytes.set(data, addr - this.mem.base);
      parts.push({ addr, len: data.length, flags: 0, next: 0 });
    }
    for (const len of bufs.writable ?? []) {
      const addr = this.alloc(Math.max(1, len), 8);
      this.mem.bytes.fill(0, addr - this.mem.base, addr - this.mem.base + len);
      parts.push({ addr, len, flags: VIRTQ_DESC_F_WRITE, next: 0 });
      writable.push({ addr, len });
    }
    if (parts.length === 0) throw new Error('mock driver: a chain needs at least one buffer');
    let head: number;
    if (bufs.indirect) {
      const table = this.alloc(16 * parts.length, 16);
      parts.forEach((p, i) =>
        this.writeDesc(q, i, { ...p, flags: p.flags | (i + 1 < parts.length ? VIRTQ_DESC_F_NEXT : 0), next: i + 1 < parts.length ? i + 1 : 0 }, table),
      );
      head = this.takeDesc(mq);
      this.writeDesc(q, head, { addr: table, len: 16 * parts.length, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
    } else {
      const idx = parts.map(() => this.takeDesc(mq));
      parts.forEach((p, i) => this.writeDesc(q, idx[i]!, { ...p, flags: p.flags | (i + 1 < parts.length ? VIRTQ_DESC_F_NEXT : 0), next: idx[i + 1] ?? 0 }));
      head = idx[0]!;
    }
    this.publish(q, head);
    return { head, writable };
  }

  private takeDesc(mq: MockQueue): number {
    const i = mq.nextDesc;
    mq.nextDesc = (mq.nextDesc + 1) % mq.size;
    return i;
  }

  notify(q: number): void {
    this.setReg(REG.QUEUE_NOTIFY, q);
  }

  /** Reads InterruptStatus and acks what it found; returns it. */
  ackInterrupts(): number {
    const s = this.reg(REG.INTERRUPT_STATUS);
    if (s) this.setReg(REG.INTERRUPT_ACK, s);
    return s;
  }

  /** New used entries since the last call (consumes them). */
  takeUsed(q: number): UsedElem[] {
    const mq = this.queues[q]!;
    const out: UsedElem[] = [];
    const idx = this.usedIdx(q);
    while (mq.lastUsed !== idx) {
      const v = this.mem.view(mq.used + 4 + 8 * (mq.lastUsed % mq.size), 8);
      out.push({ id: v.getUint32(0, true), len: v.getUint32(4, true) });
      mq.lastUsed = (mq.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /**
   * Waits, at most `maxTurns` event-loop turns, until `count` used entries have appeared on
   * queue `q` or the device needs a reset; returns the entries (possibly fewer).
   */
  async waitUsed(q: number, count: number, maxTurns = 20_000): Promise<UsedElem[]> {
    const mq = this.queues[q]!;
    for (let i = 0; i < maxTurns; i++) {
      if (((this.usedIdx(q) - mq.lastUsed) & 0xffff) >= count) break;
      if (this.status() & STATUS.DEVICE_NEEDS_RESET) break;
      await turn();
    }
    return this.takeUsed(q);
  }

  /** Waits until `pred` holds or `maxTurns` turns passed; returns whether it held. */
  async until(pred: () => boolean, maxTurns = 20_000): Promise<boolean> {
    for (let i = 0; i < maxTurns; i++) {
      if (pred()) return true;
      await turn();
    }
    return pred();
  }

  /** Bytes of guest memory, for checking what the device wrote. */
  peek(addr: number, len: number): Uint8Array {
    return this.mem.bytes.slice(addr - this.mem.base, addr - this.mem.base + len);
  }
}

/** VERSION_1 alone: the smallest feature set a modern driver accepts. */
export const VERSION_1_ONLY = featureBit(VIRTIO_F_VERSION_1);
