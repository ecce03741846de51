// SplitQueue and QueueRunner on their own: the ring protocol, memory-call economy, event
// index, and the runner's one-drain-at-a-time rule.
import { describe, expect, it } from 'vitest';
import { FlatMemory } from '../memory.js';
import { MockDriver } from '../testing/mock-driver.js';
import { RAM_BASE, rig } from '../testing/rig.test-util.js';
import { QueueError } from './queue-error.js';
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './ring.js';
import { QueueRunner } from './runner.js';
import { readSegments, sliceSegments, writeSegments } from './segments.js';
import { SplitQueue, layoutProblem } from './split-queue.js';

function bare(size = 8, opts: { eventIdx?: boolean; indirect?: boolean; maxChainBytes?: number } = {}) {
  const { mem, driver } = rig();
  const mq = driver.placeQueue(0, size);
  const q = new SplitQueue(mem, { size, desc: mq.desc, avail: mq.avail, used: mq.used }, { eventIdx: false, indirect: true, name: 'test queue', ...opts });
  return { mem, driver, q, mq };
}

describe('SplitQueue', () => {
  it('pops chains in avail order with their readable and writable parts', async () => {
    const { driver, q } = bare();
    const a = driver.add(0, { readable: [Uint8Array.of(1, 2, 3)], writable: [4, 5] });
    const b = driver.add(0, { writable: [7], indirect: true });
    const c1 = await q.pop();
    expect(c1).toMatchObject({ head: a.head, readableBytes: 3, writableBytes: 9 });
    expect(c1!.writable.map((s) => s.len)).toEqual([4, 5]);
    expect([...(await readSegments(driver.mem, c1!.readable))]).toEqual([1, 2, 3]);
    const c2 = await q.pop();
    expect(c2).toMatchObject({ head: b.head, readableBytes: 0, writableBytes: 7 });
    expect(await q.pop()).toBeNull();
    expect(q.inFlightChains).toBe(2);
  });

  it('reads the avail ring and a small table in one call for a batch, and again for the next batch', async () => {
    const { driver, q, mem } = bare(8);
    for (let i = 0; i < 3; i++) driver.add(0, { writable: [8] });
    const before = mem.reads;
    const first = await q.pop();
    expect(mem.reads - before).toBe(1); // avail ring (idx + entries) and descriptor table, one readv
    await q.pop();
    await q.pop();
    expect(mem.reads - before).toBe(1); // the table read with the idx holds every chain it published
    // Descriptors the driver rewrites after the device gave them back are read anew.
    await q.pushUsed(first!.head, 0);
    driver.writeDesc(0, first!.head, { addr: driver.alloc(24), len: 24, flags: VIRTQ_DESC_F_WRITE, next: 0 });
    driver.publish(0, first!.head);
    expect(await q.pop()).toMatchObject({ head: first!.head, writableBytes: 24 });
    expect(mem.reads - before).toBe(2);
  });

  it('reads a large table in windows, not whole', async () => {
    const mem = new FlatMemory(RAM_BASE, 1 << 20);
    const driver = new MockDriver({ transport: rig().transport, mem });
    const mq = driver.placeQueue(0, 1024);
    const q = new SplitQueue(mem, { size: 1024, desc: mq.desc, avail: mq.avail, used: mq.used }, { eventIdx: false, indirect: false });
    const buf = driver.alloc(64);
    driver.writeDesc(0, 1000, { addr: buf, len: 8, flags: VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, next: 3 });
    driver.writeDesc(0, 3, { addr: buf + 8, len: 8, flags: VIRTQ_DESC_F_WRITE, next: 0 });
    driver.publish(0, 1000);
    const before = mem.reads;
    expect(await q.pop()).toMatchObject({ head: 1000, writableBytes: 16 });
    expect(mem.reads - before).toBe(3); // avail ring, window of 1000, window of 3
  });

  it('leaves zero-length descriptors out of the segments', async () => {
    const { driver, q } = bare();
    const buf = driver.alloc(16);
    driver.writeDesc(0, 0, { addr: buf, len: 0, flags: VIRTQ_DESC_F_NEXT, next: 1 });
    driver.writeDesc(0, 1, { addr: buf, len: 4, flags: VIRTQ_DESC_F_WRITE, next: 0 });
    driver.publish(0, 0);
    expect(await q.pop()).toEqual({ head: 0, readable: [], writable: [{ addr: buf, len: 4 }], readableBytes: 0, writableBytes: 4 });
  });

  it('refuses a chain above maxChainBytes', async () => {
    const { driver, q } = bare(8, { maxChainBytes: 100 });
    driver.add(0, { writable: [60, 60] });
    await expect(q.pop()).rejects.toThrow(/test queue: descriptor 1 .* brings the chain to 120 bytes, above the limit 100/);
  });

  it('refuses a head made available again while in flight', async () => {
    const { driver, q } = bare();
    const { head } = driver.add(0, { writable: [8] });
    driver.publish(0, head);
    await q.pop();
    await expect(q.pop()).rejects.toBeInstanceOf(QueueError);
  });

  it('writes the used element before used.idx, and nothing after kill()', async () => {
    const { driver, q, mem } = bare();
    const { head } = driver.add(0, { writable: [8] });
    const c = await q.pop();
    const writes = mem.writes;
    await q.pushUsed(c!.head, 5);
    expect(mem.writes - writes).toBe(1); // element and idx in one writev, in that order
    expect(driver.takeUsed(0)).toEqual([{ id: head, len: 5 }]);
    await expect(q.pushUsed(head, 1)).rejects.toThrow(/pushUsed\(0\): that head is not in flight/);
    driver.add(0, { writable: [8] });
    const c2 = await q.pop();
    q.kill();
    await q.pushUsed(c2!.head, 8);
    expect(driver.usedIdx(0)).toBe(1);
    expect(await q.pop()).toBeNull();
  });

  it('gives the chain data, the used element and used.idx to one writev, in that order, or nothing', async () => {
    const { driver, q, mem, mq } = bare();
    const seen: { addr: number; bytes: number[] }[][] = [];
    const writev = mem.writev.bind(mem);
    mem.writev = (w) => {
      seen.push(w.map((x) => ({ addr: x.addr, bytes: [...x.data] })));
      return writev(w);
    };
    const { head } = driver.add(0, { writable: [4] });
    const c = await q.pop();
    const buf = c!.writable[0]!.addr;
    await q.pushUsed(head, 2, [{ addr: buf, data: Uint8Array.of(0xab, 0xcd) }]);
    expect(seen).toEqual([
      [
        { addr: buf, bytes: [0xab, 0xcd] },
        { addr: mq.used + 4, bytes: [head, 0, 0, 0, 2, 0, 0, 0] },
        { addr: mq.used + 2, bytes: [1, 0] },
      ],
    ]);
    expect(driver.takeUsed(0)).toEqual([{ id: head, len: 2 }]);
    expect(mem.view(buf, 2).getUint16(0, true)).toBe(0xcdab);
    // Data the chain names outside RAM: a QueueError naming it, and not a byte written.
    const d = driver.add(0, { writable: [4] });
    await q.pop();
    const before = mem.bytes.slice();
    await expect(q.pushUsed(d.head, 1, [{ addr: RAM_BASE - 2, data: Uint8Array.of(1) }])).rejects.toThrow(
      new RegExp(`test queue: buffer of the chain from head ${d.head} at \\[0x7ffffffe, 0x7fffffff\\)`),
    );
    expect(Buffer.from(mem.bytes).equals(Buffer.from(before))).toBe(true);
    expect(driver.usedIdx(0)).toBe(1);
  });

  it('gives several chains back in one writev: all their data, their used elements in order, then used.idx once', async () => {
    const { driver, q, mem, mq } = bare(4);
    const seen: { addr: number; bytes: number[] }[][] = [];
    const writev = mem.writev.bind(mem);
    mem.writev = (w) => {
      seen.push(w.map((x) => ({ addr: x.addr, bytes: [...x.data] })));
      return writev(w);
    };
    // Around the ring's end: slots 3, 0 and 1 of a 4-entry ring.
    for (let i = 0; i < 3; i++) {
      const { head } = driver.add(0, { writable: [4] });
      await q.pop();
      await q.pushUsed(head, 0);
    }
    driver.takeUsed(0);
    seen.length = 0;
    const heads = [0, 1, 2].map(() => driver.add(0, { writable: [4] }).head);
    const chains = [await q.pop(), await q.pop(), await q.pop()];
    const bufs = chains.map((c) => c!.writable[0]!.addr);
    await q.pushUsedMany([
      { head: heads[0]!, written: 1, data: [{ addr: bufs[0]!, data: Uint8Array.of(0xa0) }] },
      { head: heads[1]!, written: 0 },
      { head: heads[2]!, written: 2, data: [{ addr: bufs[2]!, data: Uint8Array.of(0xc0, 0xc1) }] },
    ]);
    expect(seen).toEqual([
      [
        { addr: bufs[0], bytes: [0xa0] },
        { addr: bufs[2], bytes: [0xc0, 0xc1] },
        { addr: mq.used + 4 + 3 * 8, bytes: [heads[0], 0, 0, 0, 1, 0, 0, 0] },
        { addr: mq.used + 4, bytes: [heads[1], 0, 0, 0, 0, 0, 0, 0] },
        { addr: mq.used + 4 + 8, bytes: [heads[2], 0, 0, 0, 2, 0, 0, 0] },
        { addr: mq.used + 2, bytes: [6, 0] },
      ],
    ]);
    expect(driver.takeUsed(0)).toEqual([
      { id: heads[0], len: 1 },
      { id: heads[1], len: 0 },
      { id: heads[2], len: 2 },
    ]);
    expect(q.inFlightChains).toBe(0);
    // A head given twice, or one not in flight: refused whole, nothing given back.
    const d = driver.add(0, { writable: [4] }).head;
    await q.pop();
    await expect(
      q.pushUsedMany([
        { head: d, written: 0 },
        { head: d, written: 0 },
      ]),
    ).rejects.toThrow(/that head is not in flight \(given back twice in one call\)/);
    await expect(
      q.pushUsedMany([
        { head: d, written: 0 },
        { head: heads[0]!, written: 0 },
      ]),
    ).rejects.toThrow(new RegExp(`pushUsed\\(${heads[0]}\\): that head is not in flight`));
    expect(q.inFlightChains).toBe(1);
    expect(driver.usedIdx(0)).toBe(6);
    // A buffer outside RAM in the second chain: named, and nothing written.
    const e = driver.add(0, { writable: [4] }).head;
    await q.pop();
    const before = mem.bytes.slice();
    await expect(
      q.pushUsedMany([
        { head: d, written: 0 },
        { head: e, written: 1, data: [{ addr: RAM_BASE - 2, data: Uint8Array.of(1) }] },
      ]),
    ).rejects.toThrow(new RegExp(`test queue: buffer of the chain from head ${e} at \\[0x7ffffffe, 0x7fffffff\\)`));
    expect(Buffer.from(mem.bytes).equals(Buffer.from(before))).toBe(true);
    expect(driver.usedIdx(0)).toBe(6);
  });

  it('honours VIRTQ_AVAIL_F_NO_INTERRUPT without EVENT_IDX, re-reading it each time', async () => {
    const { driver, q } = bare();
    driver.add(0, { writable: [8] });
    driver.add(0, { writable: [8] });
    driver.setAvailFlags(0, VIRTQ_AVAIL_F_NO_INTERRUPT);
    await q.pushUsed((await q.pop())!.head, 8);
    expect(await q.needsInterrupt()).toBe(false);
    expect(await q.needsInterrupt()).toBe(false); // nothing new
    driver.setAvailFlags(0, 0);
    await q.pushUsed((await q.pop())!.head, 8);
    expect(await q.needsInterrupt()).toBe(true);
  });

  it('decides the interrupt from the avail ring the drain read after its last used.idx write, and reads it otherwise', async () => {
    for (const eventIdx of [false, true]) {
      const { driver, q, mem } = bare(8, { eventIdx });
      const a = driver.add(0, { writable: [8] });
      await q.pop();
      await q.pushUsed(a.head, 8);
      if (eventIdx) driver.setUsedEvent(0, 0);
      else driver.setAvailFlags(0, 0);
      expect(await q.pop()).toBeNull(); // the empty pop that ends a drain reads flags and used_event
      let reads = mem.reads;
      expect(await q.needsInterrupt()).toBe(true);
      expect(mem.reads).toBe(reads);
      // Pushed after that look: the driver's newer word is read, and honoured.
      const b = driver.add(0, { writable: [8] });
      await q.pop();
      await q.pushUsed(b.head, 8);
      if (eventIdx) driver.setUsedEvent(0, 5);
      else driver.setAvailFlags(0, VIRTQ_AVAIL_F_NO_INTERRUPT);
      reads = mem.reads;
      expect(await q.needsInterrupt()).toBe(false);
      expect(mem.reads).toBe(reads + 1);
    }
  });

  it('with EVENT_IDX interrupts only when used.idx passes used_event (§2.7.10)', async () => {
    const { driver, q } = bare(8, { eventIdx: true });
    for (let i = 0; i < 4; i++) driver.add(0, { writable: [8] });
    driver.setUsedEvent(0, 2); // "interrupt me once entry 2 is used" (i.e. when idx goes past 2)
    await q.pushUsed((await q.pop())!.head, 8);
    expect(await q.needsInterrupt()).toBe(false); // idx 1
    await q.pushUsed((await q.pop())!.head, 8);
    expect(await q.needsInterrupt()).toBe(false); // idx 2
    await q.pushUsed((await q.pop())!.head, 8);
    expect(await q.needsInterrupt()).toBe(true); // idx 3 passes 2
    await q.pushUsed((await q.pop())!.head, 8);
    expect(await q.needsInterrupt()).toBe(false); // already past
  });

  it('with EVENT_IDX publishes avail_event when it runs dry, then looks again', async () => {
    const { driver, q } = bare(8, { eventIdx: true });
    driver.add(0, { writable: [8] });
    await q.pop();
    expect(await q.pop()).toBeNull();
    expect(driver.availEvent(0)).toBe(1);
  });

  it('validates layouts', () => {
    expect(layoutProblem({ size: 8, desc: 16, avail: 2, used: 4 })).toBeUndefined();
    expect(layoutProblem({ size: 65536, desc: 16, avail: 2, used: 4 })).toMatch(/above the maximum 32768/);
    expect(layoutProblem({ size: 8, desc: 16, avail: 3, used: 4 })).toMatch(/driver area .* not 2-byte aligned/);
    expect(layoutProblem({ size: 8, desc: 16, avail: 2, used: 6 })).toMatch(/device area .* not 4-byte aligned/);
    expect(() => new SplitQueue(new FlatMemory(0, 16), { size: 3, desc: 16, avail: 2, used: 4 }, { eventIdx: false, indirect: false })).toThrow(QueueError);
  });
});

describe('segments', () => {
  it('slices, reads across and writes across segments', async () => {
    const mem = new FlatMemory(0x1000, 256);
    const segs = [
      { addr: 0x1000, len: 4 },
      { addr: 0x1010, len: 4 },
    ];
    expect(sliceSegments(segs, 3, 3)).toEqual([
      { addr: 0x1003, len: 1 },
      { addr: 0x1010, len: 2 },
    ]);
    expect(sliceSegments(segs, 7)).toEqual([{ addr: 0x1013, len: 1 }]);
    expect(await writeSegments(mem, segs, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9))).toBe(8);
    expect([...(await readSegments(mem, segs, 6))]).toEqual([1, 2, 3, 4, 5, 6]);
    await expect(readSegments(mem, [{ addr: 0x2000, len: 1 }])).rejects.toThrow(QueueError);
  });
});

describe('QueueRunner', () => {
  it('serves everything, never runs two drains at once, and re-runs for a kick during a drain', async () => {
    const { driver, q } = bare(16);
    let active = 0;
    let maxActive = 0;
    let served = 0;
    const signals: number[] = [];
    const runner: QueueRunner = new QueueRunner(q, {
      handler: async (chain) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setImmediate(r));
        if (served++ === 0) {
          // The driver posts more while the device is busy, and rings again.
          driver.add(0, { writable: [8] });
          void runner.kick();
        }
        active--;
        return chain.writableBytes;
      },
      signal: async () => void signals.push(q.usedIdx),
      onFatal: (reason) => {
        throw new Error(`unexpected fatal: ${reason}`);
      },
    });
    driver.add(0, { writable: [8] });
    driver.add(0, { writable: [8] });
    await Promise.all([runner.kick(), runner.kick()]);
    await runner.idle();
    expect(served).toBe(3);
    expect(maxActive).toBe(1);
    expect(driver.takeUsed(0).map((u) => u.len)).toEqual([8, 8, 8]);
    expect(signals.at(-1)).toBe(3);
  });

  it('fails one request for a handler error, and goes fatal on a QueueError', async () => {
    const { driver, q } = bare();
    const fatal: string[] = [];
    const errors: unknown[] = [];
    let n = 0;
    const runner = new QueueRunner(q, {
      handler: async () => {
        n++;
        if (n === 1) throw new Error('backend down');
        if (n === 2) return 1e12; // a handler claiming more than the chain holds is clamped
        throw new QueueError('bad buffer');
      },
      signal: async () => undefined,
      onFatal: (r) => fatal.push(r),
      onRequestError: (e) => errors.push(e),
    });
    driver.add(0, { writable: [8] });
    driver.add(0, { writable: [8] });
    driver.add(0, { writable: [8] });
    await runner.kick();
    expect(driver.takeUsed(0)).toEqual([
      { id: 0, len: 0 },
      { id: 1, len: 8 },
    ]);
    expect(errors).toHaveLength(1);
    expect(runner.stats.requestErrors).toBe(1);
    expect(fatal).toEqual(['test queue: chain at head 2: bad buffer']);
    expect(q.isKilled).toBe(true);
  });
});
