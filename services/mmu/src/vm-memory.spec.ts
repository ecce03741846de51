// VmMemory's refusals and its life around a restart, one case at a time (the protocol
// itself is checked against a flat memory in vm-memory.model.spec.ts).
import { describe, expect, it } from 'vitest';
import { DRAM_BASE, PAGE_SIZE, gpa } from '@splitvisor/platform';
import { AddressSpace } from './address-space.js';
import { MemError } from './errors.js';
import { FakeCache, recallerFor } from './fake-cache.test-util.js';
import { FramePool } from './frame-pool.js';
import { UPDATE_MAX_BYTES, VmMemory, type Recaller } from './vm-memory.js';

const GFN = DRAM_BASE / PAGE_SIZE;

function vm(opts: { recaller?: Recaller; recovering?: { holders: string[]; graceMs: number }; pages?: number } = {}) {
  const space = new AddressSpace('vm', DRAM_BASE, (opts.pages ?? 16) * PAGE_SIZE, new FramePool(64));
  let caches: FakeCache[] = [];
  const mem = new VmMemory(space, { recaller: opts.recaller ?? recallerFor(() => caches), epoch: 'e1', devices: ['io-backend'], recovering: opts.recovering });
  caches = [new FakeCache('cpu', () => mem)];
  return { mem, cpu: caches[0]! };
}

/** A VM whose recalls wait at a gate until `open()`, as a vCPU takes a while to reach a
 *  safepoint; one fake page cache per name. */
function gatedVm(holders: string[] = ['cpu']) {
  let caches: FakeCache[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const inner = recallerFor(() => caches);
  const { mem } = vm({ recaller: { recall: (o) => gate.then(() => inner.recall(o)) } });
  caches = holders.map((n) => new FakeCache(n, () => mem));
  return { mem, caches, open };
}

async function refusal(p: Promise<unknown>): Promise<{ kind: string; message: string }> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof MemError)) throw new Error(`expected a MemError, got ${String(e)}`);
  return { kind: e.kind, message: e.message };
}

describe('VmMemory', () => {
  it('names the VM, the range and the caller when it refuses a DMA', async () => {
    const { mem } = vm();
    expect(await refusal(mem.dmaRead('', [{ addr: DRAM_BASE, length: 4 }]))).toEqual({
      kind: 'denied',
      message: 'DMA read of vm "vm" [0x80000000, 0x80000004) refused: the call names no caller (metadata x-splitvisor-caller)',
    });
    expect(
      await refusal(
        mem.dmaWrite('nic', [
          { addr: DRAM_BASE, length: 0, data: Buffer.alloc(2) },
          { addr: DRAM_BASE, length: 0 },
        ]),
      ),
    ).toEqual({
      kind: 'denied',
      message: 'DMA write of vm "vm" [0x80000000, 0x80000002) and 1 more segment(s) refused: caller "nic" is not a device backend attached to vm "vm"',
    });
    expect(await refusal(mem.dmaRead('io-backend', [{ addr: gpa(DRAM_BASE + 16 * PAGE_SIZE - 1), length: 2 }]))).toEqual({
      kind: 'invalid',
      message: 'DMA read by "io-backend" of vm "vm": [0x8000ffff, 0x80010001) lies outside RAM [0x80000000, 0x80010000)',
    });
    mem.detachDevice('io-backend');
    expect((await refusal(mem.dmaRead('io-backend', [{ addr: DRAM_BASE, length: 1 }]))).kind).toBe('denied');
  });

  it('refuses a DMA over the per-call limits from its lengths alone, before it walks a page', async () => {
    const { mem } = vm();
    // Over 16 MiB in all, with a segment outside RAM after the big one: the walk would have
    // stopped at that segment; the limit, checked first, answers instead.
    const big = [
      { addr: DRAM_BASE, length: 16 * 1024 * 1024 },
      { addr: DRAM_BASE, length: 1 },
      { addr: gpa(0x1000), length: 1 },
    ];
    expect(await refusal(mem.dmaRead('io-backend', big))).toEqual({
      kind: 'invalid',
      message: 'DMA read of vm "vm" [0x80000000, 0x81000000) and 2 more segment(s) moves 16777218 bytes; one call moves at most 16777216',
    });
    const many = Array.from({ length: 4097 }, () => ({ addr: DRAM_BASE, length: 1 }));
    expect(await refusal(mem.dmaRead('io-backend', many))).toEqual({
      kind: 'invalid',
      message: 'DMA read of vm "vm" [0x80000000, 0x80000001) and 4096 more segment(s) has 4097 segments; one call carries at most 4096',
    });
    // At the limits, within RAM, it is served.
    expect(await mem.dmaRead('io-backend', many.slice(0, 4096))).toHaveLength(4096);
  });

  it('fails an access it cannot make coherent as unavailable, naming the page cache, and changes nothing', async () => {
    const { mem } = vm({ recaller: { recall: () => Promise.reject(new Error('request on sv.vm.vm.mem.recall.cpu failed: 503')) } });
    await mem.fetch('cpu', GFN + 2, 1, true);
    expect(await refusal(mem.dmaRead('io-backend', [{ addr: gpa(DRAM_BASE + 2 * PAGE_SIZE), length: 8 }]))).toEqual({
      kind: 'unavailable',
      message: 'vm "vm": page cache "cpu" did not give back 1 page(s) from 0x80002000 (clean): request on sv.vm.vm.mem.recall.cpu failed: 503',
    });
    expect(mem.stats()).toMatchObject({ heldModified: 1, recalls: 0 });
  });

  it('updates the copy a holder has with a small device write: it keeps the page and reads the bytes without a fetch', async () => {
    const { mem, cpu } = vm();
    await cpu.write(0, 1);
    await cpu.read(PAGE_SIZE); // page 1 Shared
    const fetches = mem.stats().fetches;
    await mem.dmaWrite('io-backend', [
      { addr: gpa(DRAM_BASE + 1), length: 0, data: Uint8Array.of(9) },
      { addr: gpa(DRAM_BASE + PAGE_SIZE + 5), length: 0, data: Uint8Array.of(8, 7) },
    ]);
    expect([cpu.state[0], cpu.state[1]]).toEqual([2, 1]); // Modified and Shared, as before
    expect([await cpu.read(0), await cpu.read(1), await cpu.read(PAGE_SIZE + 5), await cpu.read(PAGE_SIZE + 6)]).toEqual([1, 9, 8, 7]);
    expect(mem.stats()).toMatchObject({ fetches, recalls: 1, updateRecalls: 1 });
    // mmu's own copy has the device's bytes too, and the holder's Modified page wins on its way home.
    expect([...mem.space.read(gpa(DRAM_BASE + PAGE_SIZE + 5), 2)]).toEqual([8, 7]);
    await cpu.writeBack(true);
    expect([...mem.space.read(DRAM_BASE, 2)]).toEqual([1, 9]);
  });

  it('invalidates instead of updating a page whose write-back is on its way, so the late write-back cannot undo the device', async () => {
    const { mem, caches, open } = gatedVm();
    const cpu = caches[0]!;
    await cpu.write(0, 1);
    // The device's write is first at mmu; the cache starts giving its pages back before
    // the update reaches it (the vCPU stopping), so it refuses the update and the page is
    // taken instead; its write-back, behind the device's write, is then stale.
    const dma = mem.dmaWrite('io-backend', [{ addr: gpa(DRAM_BASE + 1), length: 0, data: Uint8Array.of(9) }]);
    await new Promise((r) => setImmediate(r)); // its update order waits at the gate
    const wb = cpu.writeBack();
    open();
    await Promise.all([dma, wb]);
    expect([...mem.space.read(DRAM_BASE, 2)]).toEqual([1, 9]);
    expect(cpu.state[0]).toBe(0);
    expect(mem.stats()).toMatchObject({ updateRecalls: 1, recalls: 2 });
  });

  it('drops a write-back of a page recalled meanwhile, and keeps the newer bytes', async () => {
    const { mem, cpu } = vm({ pages: 32 });
    await cpu.write(0, 1);
    // The cache gives the page back, but a device's write gets there first (the cache
    // answers its recall with the bytes, then its own write-back arrives late). The write
    // is one too large to update the cache's copy with (a disk read): the page is taken.
    const late = [{ gfn: GFN, data: Buffer.alloc(PAGE_SIZE, 1) }];
    const big = new Uint8Array(UPDATE_MAX_BYTES + 1);
    big[0] = 9;
    await mem.dmaWrite('io-backend', [{ addr: gpa(DRAM_BASE + 1), length: 0, data: big }]);
    expect(await mem.writeBack('cpu', late, { epoch: 'e1' })).toBe(1);
    expect([...mem.space.read(DRAM_BASE, 2)]).toEqual([1, 9]);
  });

  it('applies a DMA write sent again under the same write id once: the repeat does not undo what the guest wrote since', async () => {
    const { mem, cpu } = vm();
    mem.attachDevice('other-backend');
    const status = gpa(DRAM_BASE + 8);
    // io-backend's completion lands; the answer is lost (its deadline passed), so it sends
    // the write again. Meanwhile the guest saw the completion and reused the buffer.
    expect(await mem.dmaWrite('io-backend', [{ addr: status, length: 0, data: Uint8Array.of(1) }], 7)).toBe(1);
    await cpu.write(8, 2);
    expect(await mem.dmaWrite('io-backend', [{ addr: status, length: 0, data: Uint8Array.of(1) }], 7)).toBe(1);
    expect([...(await mem.dmaRead('io-backend', [{ addr: status, length: 1 }]))[0]!]).toEqual([2]);
    expect(mem.stats()).toMatchObject({ dmaWriteRepeats: 1, dmaWriteBytes: 1 });
    // Another id, another caller's id 7, or no id at all: each is a write of its own.
    expect(await mem.dmaWrite('io-backend', [{ addr: status, length: 0, data: Uint8Array.of(3) }], 8)).toBe(1);
    expect(await mem.dmaWrite('other-backend', [{ addr: status, length: 0, data: Uint8Array.of(4) }], 7)).toBe(1);
    await mem.dmaWrite('io-backend', [{ addr: status, length: 0, data: Uint8Array.of(5) }]);
    await mem.dmaWrite('io-backend', [{ addr: status, length: 0, data: Uint8Array.of(6) }]);
    expect([...(await mem.dmaRead('io-backend', [{ addr: status, length: 1 }]))[0]!]).toEqual([6]);
    expect(mem.stats()).toMatchObject({ dmaWriteRepeats: 1, dmaWriteBytes: 5 });
  });

  it('answers a repeat that arrives while the first write still waits for its recall, without writing twice', async () => {
    const { mem, caches, open } = gatedVm();
    await caches[0]!.write(8, 9);
    const first = mem.dmaWrite('io-backend', [{ addr: gpa(DRAM_BASE + 8), length: 0, data: Uint8Array.of(1, 2) }], 42);
    const repeat = mem.dmaWrite('io-backend', [{ addr: gpa(DRAM_BASE + 8), length: 0, data: Uint8Array.of(1, 2) }], 42);
    open();
    expect(await Promise.all([first, repeat])).toEqual([2, 2]);
    expect(mem.stats()).toMatchObject({ dmaWriteRepeats: 1, dmaWriteBytes: 2, recalls: 1 });
  });

  it('applies the segments of one DMA write in order and as one step, with one update order for all their pages', async () => {
    // A used element (page 3) and used.idx (page 2) in one call, as a virtqueue's writev
    // makes it (virtio 1.2 §2.7.8: the idx must not be seen before the element).
    const ELEM = 3 * PAGE_SIZE;
    const IDX = 2 * PAGE_SIZE;
    // The first recall waits at the gate, as a vCPU takes a while to reach a safepoint.
    const { mem, caches, open } = gatedVm(['cpu', 'cpu2']);
    const [cpu, other] = caches as [FakeCache, FakeCache];
    await cpu.write(ELEM, 1);
    await cpu.write(IDX, 1);
    const dma = mem.dmaWrite('io-backend', [
      { addr: gpa(DRAM_BASE + ELEM), length: 0, data: Uint8Array.of(7, 5) },
      { addr: gpa(DRAM_BASE + IDX), length: 0, data: Uint8Array.of(2) },
      { addr: gpa(DRAM_BASE + ELEM + 1), length: 0, data: Uint8Array.of(6) }, // later segments win
    ]);
    // Readers that come while the write waits for its recall: another page cache polling
    // the idx then reading the element, and a device reading both.
    const polled = (async () => [await other.read(IDX), await other.read(ELEM)])();
    const read = mem.dmaRead('io-backend', [
      { addr: gpa(DRAM_BASE + IDX), length: 1 },
      { addr: gpa(DRAM_BASE + ELEM), length: 2 },
    ]);
    open();
    expect(await dma).toBe(4);
    expect(await polled).toEqual([2, 7]);
    expect((await read).map((b) => [...b])).toEqual([[2], [7, 6]]);
    // One order took the bytes to the cache that had both pages, which kept them; then the
    // device's read took their bytes (one order) and the other cache's fetches downgraded
    // them (one each).
    expect(mem.stats()).toMatchObject({ recalls: 4, updateRecalls: 1 });
    expect([await cpu.read(IDX), await cpu.read(ELEM), await cpu.read(ELEM + 1)]).toEqual([2, 7, 6]);
    expect([cpu.state[2], cpu.state[3]]).toEqual([1, 1]);
  });

  it('lets a device read a page a holder has Modified without taking it: the bytes come back, the holder writes on', async () => {
    const { mem, cpu } = vm();
    await cpu.write(5, 1);
    const [a] = await mem.dmaRead('io-backend', [{ addr: gpa(DRAM_BASE + 5), length: 1 }]);
    expect([...a!]).toEqual([1]);
    expect(mem.stats()).toMatchObject({ recalls: 1, heldModified: 1, heldShared: 0 });
    expect(cpu.state[0]).toBe(2); // still Modified: its next store needs no fetch
    const fetches = mem.space.stats().fetches;
    await cpu.write(5, 2);
    expect(mem.space.stats().fetches).toBe(fetches);
    const [b] = await mem.dmaRead('io-backend', [{ addr: gpa(DRAM_BASE + 5), length: 1 }]);
    expect([...b!]).toEqual([2]); // recalled again: the directory still names the owner
    expect(mem.stats()).toMatchObject({ recalls: 2, heldModified: 1 });
  });

  it('after a restart, holds devices back until the page cache re-registered', async () => {
    const { mem } = vm({ recovering: { holders: ['cpu'], graceMs: 60_000 } });
    expect(mem.stats().recovering).toBe(true);
    let done = false;
    const read = mem.dmaRead('io-backend', [{ addr: DRAM_BASE, length: 1 }]).then(() => (done = true));
    // The waited-for cache itself goes on meanwhile.
    await mem.fetch('cpu', GFN + 3, 1, false);
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    expect(await mem.reregister('cpu', [GFN + 5], [GFN + 6])).toBe(2);
    await read;
    expect(mem.stats()).toMatchObject({ recovering: false, heldModified: 1, heldShared: 2 });
  });

  it('stops waiting for a page cache that writes everything back with the old epoch', async () => {
    const { mem } = vm({ recovering: { holders: ['cpu'], graceMs: 60_000 } });
    // The vCPU stopped before it heard of the restart: its pages still count, it is done.
    expect(await mem.writeBack('cpu', [{ gfn: GFN + 4, data: Buffer.alloc(PAGE_SIZE, 4) }], { releaseAll: true, epoch: 'e0' })).toBe(0);
    expect(mem.stats()).toMatchObject({ recovering: false, heldModified: 0, heldShared: 0, writeBacks: 1 });
    expect(mem.space.read(gpa(DRAM_BASE + 4 * PAGE_SIZE), 1)[0]).toBe(4);
  });

  it('gives up waiting for a page cache that does not come back after the grace time', async () => {
    const ended: unknown[] = [];
    const space = new AddressSpace('vm', DRAM_BASE, 16 * PAGE_SIZE, new FramePool(64));
    const mem = new VmMemory(space, { devices: ['io-backend'], recovering: { holders: ['gone'], graceMs: 30 }, onRecoveryEnd: (h) => ended.push(h) });
    await mem.dmaRead('io-backend', [{ addr: DRAM_BASE, length: 1 }]);
    expect(ended).toEqual([{ reregistered: [], missing: ['gone'] }]);
  });

  it('probes the recall transport and times real recalls', async () => {
    const { mem, cpu } = vm();
    expect((await mem.probeRecall('cpu', 3)).samples).toBe(3);
    await cpu.write(PAGE_SIZE, 5);
    await mem.dmaRead('io-backend', [{ addr: gpa(DRAM_BASE + PAGE_SIZE), length: 1 }]);
    expect(mem.recallLatency(true).samples).toBe(1);
    expect(mem.recallLatency().samples).toBe(0);
    expect((await refusal(mem.probeRecall('cpu', 0))).message).toBe('count 0 must be between 1 and 100000');
  });
});
