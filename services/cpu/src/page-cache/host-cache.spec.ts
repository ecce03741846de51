// Both halves of a vCPU's page cache in one thread, on fake ports (ports/ports.ts) standing
// in for mmu: the host half's fetches, recalls and write-backs; the worker half serves the
// recall orders when the test calls its safepoint, as the vCPU would between batches.
import { describe, expect, it } from 'vitest';
import type { MmuV1 } from '@splitvisor/proto';
import { RpcError } from '@splitvisor/rpc';
import { GuestRam, PageState } from '@splitvisor/riscv';
import { silentLogger, until } from '@splitvisor/testing';
import { ExitChannelHost, ExitChannelWorker } from '../exit-channel/index.js';
import type { FetchedRun, GuestPages } from '../ports/index.js';
import { HostPageCache } from './host-cache.js';
import { WorkerPageCache } from './worker-cache.js';

const BASE = 0x80000000;
const BASE_GFN = BASE / 4096;
const PAGES = 32;
/** The byte mmu's copy of a page is filled with (never zero). */
const fill = (gfn: number) => (gfn % 255) + 1;

function setup(opts: { unavailable?: number } = {}) {
  const sab = new SharedArrayBuffer(PAGES * 4096);
  const exitChannel = new ExitChannelHost();
  let grant = 0;
  let refuse = opts.unavailable ?? 0;
  /** A fetch reply the test may hold back. */
  let hold: Promise<void> | undefined;
  const calls: string[] = [];
  const wroteBack: MmuV1.Page[][] = [];
  const pages: GuestPages = {
    address: 'fake-mmu',
    async fetch(gfn, count, write) {
      calls.push(`fetch ${gfn - BASE_GFN}+${count}${write ? ' w' : ''}`);
      if (refuse > 0 && refuse--) throw new RpcError('UNAVAILABLE', 'mmu restarting');
      const g = ++grant;
      await hold;
      const run: FetchedRun = { grant: g, epoch: 'e1', pages: [] };
      for (let i = 0; i < count; i++) run.pages.push({ gfn: gfn + i, data: Buffer.alloc(4096, fill(gfn + i)), zero: false, keep: false });
      return run;
    },
    async writeBack(run, releaseAll) {
      wroteBack.push(run);
      calls.push(`writeBack ${run.length}${releaseAll ? ' release' : ''}`);
    },
    reregister: async () => undefined,
  };
  let answer: ((req: MmuV1.RecallRequest__Output) => Promise<MmuV1.RecallReply>) | undefined;
  const cache = new HostPageCache({
    vmId: 'vm',
    ramBase: BASE,
    ram: new Uint8Array(sab),
    recallDoorbell: exitChannel,
    pages,
    recalls: {
      listen(a) {
        answer = a;
        return () => (answer = undefined);
      },
    },
    log: silentLogger(),
    exitDeadlineMs: 1000,
  });
  const ram = new GuestRam(BASE, PAGES * 4096, sab);
  const worker = new WorkerPageCache(ram, new ExitChannelWorker(exitChannel.buffers), cache.workerPort);
  /** mmu's recall, with the vCPU reaching safepoints until it is answered. */
  const recall = async (req: Partial<MmuV1.RecallRequest__Output> & { gfns: number[] }) => {
    let done = false;
    const p = answer!({ vmId: 'vm', holder: 'cpu', mode: 'RECALL_INVALIDATE', grant: 0, epoch: 'e1', id: 1, updates: [], ...req }).finally(() => (done = true));
    await until(() => {
      worker.safepoint();
      return done;
    }, 'the recall answered');
    return p;
  };
  return { cache, worker, ram, calls, wroteBack, recall, answer: () => answer!, hold: (p: Promise<void> | undefined) => (hold = p) };
}

describe('HostPageCache', () => {
  it('fetches a run into RAM, then wakes the worker, which installs it', async () => {
    const { cache, worker, ram, calls } = setup();
    let woken = 0;
    await cache.fetch(2, 3, false, () => woken++);
    worker.install(2, 3, false);
    expect(calls).toEqual(['fetch 2+3']);
    expect(woken).toBe(1);
    expect([...cache.state.subarray(1, 6)]).toEqual([0, 1, 1, 1, 0]);
    expect([...ram.pageState.subarray(1, 6)]).toEqual([0, 1, 1, 1, 0]);
    expect(ram.bytes[3 * 4096]).toBe(fill(BASE_GFN + 3));
    cache.close();
  });

  it('waits out an mmu restart (UNAVAILABLE) on a fetch', async () => {
    const { cache, calls } = setup({ unavailable: 2 });
    await cache.fetch(0, 1, true, () => undefined);
    expect(calls).toEqual(['fetch 0+1 w', 'fetch 0+1 w', 'fetch 0+1 w']);
    expect(cache.state[0]).toBe(PageState.Modified);
    cache.close();
  });

  it('holds a recall that names a grant not yet installed, then answers it from the worker with the bytes', async () => {
    const { cache, worker, ram, recall, hold } = setup();
    let release!: () => void;
    hold(new Promise<void>((r) => (release = r)));
    const fetching = cache.fetch(4, 1, true, () => worker.install(4, 1, true));
    const answered = recall({ gfns: [BASE_GFN + 4], grant: 1, id: 9 });
    await new Promise((r) => setTimeout(r, 30));
    expect(worker.served).toBe(0); // the page is not installed yet: the order waits
    release();
    await fetching;
    ram.bytes[4 * 4096 + 1] = 0x77; // the guest wrote it
    const reply = await answered;
    expect(worker.served).toBe(1);
    expect(reply.pages!.map((p) => [p.gfn, p.was, p.zero])).toEqual([[BASE_GFN + 4, 2, false]]);
    expect(Buffer.from(reply.pages![0]!.data as Uint8Array)[1]).toBe(0x77);
    expect([cache.state[4], ram.pageState[4]]).toEqual([PageState.Invalid, PageState.Invalid]);
    cache.close();
  });

  it('gives a recall asked again (its answer lost) the same answer, and probes without the worker', async () => {
    const { cache, worker, recall, answer } = setup();
    await cache.fetch(0, 2, true, () => worker.install(0, 2, true));
    const first = await recall({ gfns: [BASE_GFN + 1], mode: 'RECALL_DOWNGRADE', id: 3 });
    expect(first.pages!.map((p) => [p.was, p.zero])).toEqual([[2, false]]);
    expect(cache.state[1]).toBe(PageState.Shared);
    expect(await answer()({ vmId: 'vm', holder: 'cpu', mode: 'RECALL_DOWNGRADE', grant: 0, epoch: 'e1', id: 3, updates: [], gfns: [BASE_GFN + 1] })).toBe(
      first,
    );
    expect(await answer()({ vmId: 'vm', holder: 'cpu', mode: 'RECALL_INVALIDATE', grant: 0, epoch: 'e1', id: 4, updates: [], gfns: [] })).toEqual({
      id: 4,
      pages: [],
    });
    expect(worker.served).toBe(1);
    cache.close();
  });

  it('writes an update into the pages the worker holds and keeps them; one it does not hold, or one on its way home, is answered as not updated', async () => {
    const { cache, worker, ram, recall } = setup();
    await cache.fetch(0, 1, true, () => worker.install(0, 1, true));
    await cache.fetch(1, 1, false, () => worker.install(1, 1, false));
    const frame = Buffer.from([1, 2, 3]);
    const notHeld = ram.bytes[2 * 4096 + 9];
    const reply = await recall({
      gfns: [BASE_GFN, BASE_GFN + 1, BASE_GFN + 2],
      mode: 'RECALL_UPDATE',
      id: 8,
      updates: [
        { gfn: BASE_GFN, offset: 4094, data: frame.subarray(0, 2) },
        { gfn: BASE_GFN + 1, offset: 0, data: frame.subarray(2) },
        { gfn: BASE_GFN + 2, offset: 9, data: Buffer.from([7]) },
      ],
    });
    expect(reply.pages!.map((p) => [p.was, p.updated, p.data?.length ?? 0])).toEqual([
      [2, true, 0],
      [1, true, 0],
      [0, false, 0],
    ]);
    expect([...ram.bytes.subarray(4094, 4097)]).toEqual([1, 2, 3]);
    expect(ram.bytes[2 * 4096 + 9]).toBe(notHeld); // not held: mmu has it
    expect([ram.pageState[0], ram.pageState[1], cache.state[0], cache.state[1]]).toEqual([2, 1, 2, 1]);
    expect(cache.stats.updates).toBe(1);
    // Bytes outside the page they name are refused, naming them.
    const bad = await recall({ gfns: [BASE_GFN], mode: 'RECALL_UPDATE', id: 9, updates: [{ gfn: BASE_GFN, offset: 4095, data: Buffer.from([1, 2]) }] });
    expect(bad.error).toMatch(/update of gfn 0x[0-9a-f]+ at offset 4095 \(2 bytes\) is not within a page the recall names/);
    // While the pages go home, an update is refused: mmu takes the page instead.
    const first = ram.bytes[0];
    void cache.writeBackAll().catch(() => undefined);
    const late = await recall({ gfns: [BASE_GFN], mode: 'RECALL_UPDATE', id: 10, updates: [{ gfn: BASE_GFN, offset: 0, data: Buffer.from([5]) }] });
    expect(late.pages!.map((p) => [p.was, p.updated])).toEqual([[2, false]]);
    expect(ram.bytes[0]).toBe(first);
    cache.close();
  });

  it('answers a recall for another VM with an error naming this cache', async () => {
    const { cache, answer } = setup();
    const reply = await answer()({ vmId: 'other', holder: 'cpu', mode: 'RECALL_INVALIDATE', grant: 0, epoch: 'e1', id: 5, updates: [], gfns: [BASE_GFN] });
    expect(reply.error).toBe('vm "vm" page cache "cpu": recall for vm "other" holder "cpu" reached the wrong cache');
    cache.close();
  });

  it('serves recalls from RAM once the worker is gone, and writes every page back when the vCPU stops', async () => {
    const { cache, worker, ram, recall, wroteBack, calls } = setup();
    await cache.fetch(0, 2, true, () => worker.install(0, 2, true));
    await cache.fetch(5, 1, false, () => worker.install(5, 1, false));
    ram.bytes.fill(0, 4096, 8192); // page 1 written to all zero
    cache.workerExited();
    const reply = await recall({ gfns: [BASE_GFN, BASE_GFN + 7], mode: 'RECALL_CLEAN', id: 6 });
    expect(reply.pages!.map((p) => [Number(p.gfn) - BASE_GFN, p.was])).toEqual([
      [0, 2],
      [7, 0],
    ]);
    expect(worker.served).toBe(0);
    await cache.writeBackAll();
    expect(calls.at(-1)).toBe('writeBack 3 release');
    expect(wroteBack[0]!.map((p) => [Number(p.gfn) - BASE_GFN, p.keep ?? false, p.zero ?? false, p.data ? p.data.length : 0])).toEqual([
      [0, false, false, 4096],
      [1, false, true, 0],
      [5, true, false, 0],
    ]);
    expect(cache.state.every((s) => s === PageState.Invalid)).toBe(true);
    cache.close();
  });
});
