// The worker's half of the page cache, in one thread: runs, installs, and recall orders
// taken at a safepoint from a real MessageChannel.
import { describe, expect, it } from 'vitest';
import { MessageChannel, Worker } from 'node:worker_threads';
import { GuestRam, PageState } from '@splitvisor/riscv';
import { ExitChannelHost, ExitChannelWorker, ExitStatus } from '../exit-channel/index.js';
import { WorkerPageCache } from './worker-cache.js';
import type { RecallAnswerMsg, RecallOrderMsg } from './protocol.js';

const BASE = 0x80000000;
const PAGES = 256;

function setup(pages = PAGES) {
  const ram = new GuestRam(BASE, pages * 4096);
  // Both ends of the exit channel in this thread: the host's rings and answers are seen
  // by the worker's next look.
  const host = new ExitChannelHost();
  const channel = new ExitChannelWorker(host.buffers);
  const ch = new MessageChannel();
  const cache = new WorkerPageCache(ram, channel, ch.port2);
  const answers: RecallAnswerMsg[] = [];
  ch.port1.on('message', (a: RecallAnswerMsg) => answers.push(a));
  const order = (o: RecallOrderMsg) => {
    ch.port1.postMessage(o);
    host.ringRecall();
  };
  const settle = () => new Promise((r) => setTimeout(r, 20));
  return { ram, host, channel, cache, order, answers, settle, close: () => (ch.port1.close(), ch.port2.close()) };
}

describe('WorkerPageCache', () => {
  it('runs over Invalid pages only, and grows a stream of misses up to 256 pages', () => {
    const { ram, cache, close } = setup(1024);
    ram.pageState[5] = PageState.Shared;
    expect(cache.runLength(0, true, 16)).toBe(5); // stops before the Shared page
    expect(cache.runLength(100, false, 16)).toBe(16);
    expect(cache.runLength(116, false, 16)).toBe(32); // where the last run ended
    expect(cache.runLength(148, false, 16)).toBe(64);
    expect(cache.runLength(212, false, 16)).toBe(128);
    expect(cache.runLength(340, false, 16)).toBe(256);
    expect(cache.runLength(596, false, 16)).toBe(256); // no further: mmu's limit
    expect(cache.runLength(852, false, 16)).toBe(172); // the end of RAM
    expect(cache.runLength(10, false, 16)).toBe(16); // elsewhere: back to the base run
    close();
  });

  it('installs Shared for a read and Modified for a write', () => {
    const { ram, cache, close } = setup();
    cache.install(3, 2, false);
    cache.install(7, 1, true);
    expect([...ram.pageState.subarray(2, 9)]).toEqual([0, 1, 1, 0, 0, 2, 0]);
    close();
  });

  it('carries out recalls at a safepoint: Modified bytes sent, code of dropped pages forgotten', async () => {
    const { ram, cache, order, answers, settle, close } = setup();
    cache.install(0, 4, true);
    ram.bytes.fill(0xab, 4096, 8192);
    ram.code.block(1); // something decoded from page 1
    ram.code.mark[1] = 1;
    order({ id: 1, pages: [1, 2], invalidate: false });
    order({ id: 2, pages: [3, 9], invalidate: true });
    cache.safepoint();
    await settle();
    expect(answers.map((a) => a.id)).toEqual([1, 2]);
    expect(answers[0]!.pages.map((p) => [p.index, p.was, p.data?.length])).toEqual([
      [1, 2, 4096],
      [2, 2, 4096],
    ]);
    expect(Buffer.from(answers[0]!.pages[0]!.data!).every((b) => b === 0xab)).toBe(true);
    expect(answers[1]!.pages.map((p) => [p.index, p.was, p.data?.length])).toEqual([
      [3, 2, 4096],
      [9, 0, undefined],
    ]);
    expect([...ram.pageState.subarray(0, 4)]).toEqual([2, 1, 1, 0]);
    expect(ram.code.mark[1]).toBe(1); // downgraded: its bytes did not change
    expect(cache.served).toBe(2);
    close();
  });

  it('leaves an order that came with the answer to its exit for the next safepoint', async () => {
    const { ram, host, channel, cache, order, answers, settle, close } = setup();
    cache.install(0, 2, true);
    // The answer is there when the wait looks: the order may concern the pages just
    // fetched, which are not installed yet, so it waits for the safepoint after.
    channel.beginExit();
    order({ id: 7, pages: [0], invalidate: true });
    host.reply(ExitStatus.Ok);
    cache.waitReply();
    await settle();
    expect(answers).toEqual([]);
    expect(ram.pageState[0]).toBe(PageState.Modified);
    cache.safepoint();
    await settle();
    expect(answers.map((a) => a.id)).toEqual([7]);
    expect(ram.pageState[0]).toBe(PageState.Invalid);
    close();
  });

  it("serves, in the next exit's wait, an order left over from the exit before (a miss right after a miss)", async () => {
    const { ram, host, channel, cache, answers, settle, close } = setup();
    cache.install(0, 2, true);
    // Exit 1's wait took order 8 off the channel, then saw its answer arrive (the host
    // answered between the two looks): the order stays pending, as the rule says. The
    // race is a thread's width; the state it leaves is set here directly.
    (cache as unknown as { pending: RecallOrderMsg[] }).pending.push({ id: 8, pages: [0], invalidate: false, clean: true });
    cache.install(2, 1, false);
    // Exit 2 comes before any safepoint; its answer waits for order 8 (mmu holds the fetch
    // behind the device's DMA that asked for it). The wait must serve it, then see the answer.
    channel.beginExit();
    // The host answers exit 2 from another thread once order 8's answer reached it: its
    // end of the channel, built (test depends on build) and loaded there.
    const hostEnd = new URL('../../dist/exit-channel/index.js', import.meta.url).href;
    const other = new Worker(
      `const { workerData } = require('node:worker_threads');
       import(${JSON.stringify(hostEnd)}).then(({ ExitChannelHost, ExitStatus }) =>
         setTimeout(() => new ExitChannelHost(workerData).reply(ExitStatus.Ok), 50));`,
      { eval: true, workerData: host.buffers },
    );
    cache.waitReply();
    await other.terminate();
    await settle();
    expect(answers.map((a) => a.id)).toEqual([8]);
    expect(ram.pageState[0]).toBe(PageState.Modified);
    close();
  });

  it('runs short batches for a while after a recall, then full ones again', async () => {
    const { cache, order, settle, close } = setup();
    expect(cache.budget(200_000)).toBe(200_000);
    order({ id: 1, pages: [4], invalidate: true });
    cache.safepoint();
    await settle();
    expect(cache.budget(5_000)).toBe(5_000); // never longer than asked
    const budgets = Array.from({ length: 200 }, () => cache.budget(200_000));
    expect(budgets.slice(0, 199).every((b) => b === 20_000)).toBe(true);
    expect(budgets[199]).toBe(200_000);
    close();
  });

  it('answers a clean order (a device reads) with the Modified bytes and keeps the pages Modified', async () => {
    const { ram, cache, order, answers, settle, close } = setup();
    cache.install(0, 2, true);
    cache.install(2, 1, false);
    ram.bytes.fill(0x5a, 0, 4096);
    ram.code.block(0);
    ram.code.mark[0] = 1;
    order({ id: 3, pages: [0, 2, 5], invalidate: false, clean: true });
    cache.safepoint();
    await settle();
    expect(answers[0]!.pages.map((p) => [p.index, p.was, p.data?.length])).toEqual([
      [0, 2, 4096],
      [2, 1, undefined],
      [5, 0, undefined],
    ]);
    expect(Buffer.from(answers[0]!.pages[0]!.data!).every((b) => b === 0x5a)).toBe(true);
    expect([...ram.pageState.subarray(0, 6)]).toEqual([2, 2, 1, 0, 0, 0]);
    expect(ram.code.mark[0]).toBe(1);
    close();
  });
});
