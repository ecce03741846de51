// mmu's recalls on a holder's stream (Mmu.RecallStream), over real gRPC on loopback and a
// real nats-server for the NATS side: the hello and what a bad one is told, orders
// answered out of order, the fail-over to NATS when the stream breaks or is replaced, a
// recall fault that reaches the stream as it reaches NATS, and the VM's streamed count.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as grpc from '@grpc/grpc-js';
import { Bus, subjects } from '@splitvisor/bus';
import { FaultTable, type FaultSpec } from '@splitvisor/faults';
import { DRAM_BASE, PAGE_SIZE, PageState } from '@splitvisor/platform';
import { RecallReplyCodec, RecallRequestCodec, protos, type MmuV1 } from '@splitvisor/proto';
import { RpcClient, RpcServer } from '@splitvisor/rpc';
import { silentLogger, startTestNats, until, type TestNats } from '@splitvisor/testing';
import { FramePool } from './frame-pool.js';
import { mmuHandlers } from './handlers.js';
import { Mmu } from './mmu.js';
import { NatsRecaller } from './recaller.js';
import { StreamRecaller } from './recall-stream.js';

const log = silentLogger('recall-stream-test');
const GFN = DRAM_BASE / PAGE_SIZE + 1;
const faults = new FaultTable('mmu');
let nats: TestNats;
let bus: Bus;
beforeAll(async () => {
  nats = await startTestNats();
  bus = await Bus.connect({ url: nats.url, name: 'mmu', log, faults });
}, 60_000);
afterAll(async () => {
  await bus?.drain();
  await nats?.stop();
});
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  faults.remove();
  while (cleanups.length) await cleanups.pop()!();
});

type Stream = grpc.ClientDuplexStream<MmuV1.RecallAnswer, MmuV1.RecallOrder__Output>;

async function start() {
  const recaller: StreamRecaller = new StreamRecaller(new NatsRecaller(bus, 300), bus, { hasVm: (id) => mmu.has(id), timeoutMs: 300 });
  const mmu = new Mmu(FramePool.ofMib(16), { recaller });
  mmu.createVm('vm', DRAM_BASE, 1024 * 1024);
  const server = new RpcServer({ name: 'splitvisor.mmu.v1.Mmu', listen: '127.0.0.1:0', log });
  server.add(protos().mmu.Mmu.service, mmuHandlers(mmu, log, { recallStreams: recaller }));
  const port = await server.start();
  cleanups.push(() => server.stop(100));
  const client = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, `127.0.0.1:${port}`, { deadlineMs: 3000 });
  cleanups.push(() => client.close());
  return { mmu, recaller, client };
}

/** A holder on a stream: answers each order with `answer` (undefined: not at all). */
function holder(
  client: RpcClient<MmuV1.MmuClient>,
  answer: (o: MmuV1.RecallOrder__Output) => MmuV1.RecallReply | undefined,
  hello: MmuV1.RecallAnswer = { vmId: 'vm', holder: 'cpu' },
) {
  const s: Stream = client.raw.RecallStream();
  const orders: MmuV1.RecallOrder__Output[] = [];
  const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
    s.on('error', (e: grpc.ServiceError) => resolve(e));
    s.on('end', () => resolve(undefined));
  });
  s.on('data', (o: MmuV1.RecallOrder__Output) => {
    orders.push(o);
    const reply = answer(o);
    if (reply) s.write({ seq: o.seq, reply });
  });
  s.write(hello);
  cleanups.push(() => s.cancel());
  return { s, orders, ended };
}

const order = { vmId: 'vm', holder: 'cpu', gfns: [GFN], mode: 'downgrade' as const, grant: 0, epoch: 'e', id: 5 };
const page = (o: MmuV1.RecallOrder__Output): MmuV1.RecallReply => ({
  id: o.request!.id,
  pages: [{ gfn: GFN, was: 'HELD_MODIFIED', data: Buffer.alloc(PAGE_SIZE, 7) }],
});

/** NATS answers for the same holder, as the page cache's second ear. */
function natsHolder() {
  const seen: MmuV1.RecallRequest__Output[] = [];
  const sub = bus.nc.subscribe(subjects.memRecall('vm', 'cpu'), {
    callback: (_e, m) => {
      const req = RecallRequestCodec.decode(m.data);
      seen.push(req);
      m.respond(RecallReplyCodec.encode({ id: req.id, pages: [{ gfn: GFN, was: 1 /* HELD_SHARED */ }] }));
    },
  });
  cleanups.push(() => sub.unsubscribe());
  return seen;
}

describe('StreamRecaller', () => {
  it('recalls over NATS until the hello, then on the stream, each answer matched by its seq in any order', async () => {
    const { recaller, client, mmu } = await start();
    const viaNats = natsHolder();
    await bus.nc.flush();
    expect((await recaller.recall(order))[0]!.was).toBe(PageState.Shared);
    expect(viaNats).toHaveLength(1);

    // The holder answers the first two orders only once the second has come, second first.
    const held: MmuV1.RecallOrder__Output[] = [];
    const h = holder(client, (o) => {
      held.push(o);
      if (held.length < 2) return undefined;
      h.s.write({ seq: held[1]!.seq, reply: { id: held[1]!.request!.id, pages: [] } });
      h.s.write({ seq: held[0]!.seq, reply: page(held[0]!) });
      return undefined;
    });
    await until(() => recaller.streaming('vm', 'cpu'), 'the stream is registered');
    const [a, b] = await Promise.all([
      recaller.recall({ ...order, id: 6 }),
      recaller.recall({ ...order, id: 7, mode: 'update', updates: [{ gfn: GFN, offset: 8, data: Buffer.from([1, 2]) }] }),
    ]);
    expect(a[0]).toMatchObject({ gfn: GFN, was: PageState.Modified });
    expect(a[0]!.data!.length).toBe(PAGE_SIZE);
    expect(b).toEqual([]);
    expect(h.orders.map((o) => [o.request!.id, o.request!.mode, o.request!.updates.length])).toEqual([
      [6, 'RECALL_DOWNGRADE', 0],
      [7, 'RECALL_UPDATE', 1],
    ]);
    expect(viaNats).toHaveLength(1);
    expect(mmu.vm('vm').stats().streamedRecalls).toBe(2);
  });

  it('refuses a hello that is an answer, names a VM it does not have, or a holder that is no name', async () => {
    const { client } = await start();
    const answer = holder(client, () => undefined, { seq: 3, reply: { id: 1, pages: [] } });
    expect(await answer.ended).toMatchObject({ details: expect.stringMatching(/first message is the hello/) });
    const nobody = holder(client, () => undefined, { vmId: 'other', holder: 'cpu' });
    expect(await nobody.ended).toMatchObject({ code: 5, details: 'RecallStream: vm "other" is not here' });
    const bad = holder(client, () => undefined, { vmId: 'vm', holder: 'a.b' });
    expect(await bad.ended).toMatchObject({ code: 3, details: expect.stringMatching(/holder/) });
  });

  it('sends an order on the stream again when its answer is lost, under the same id, and fails over to NATS when the stream ends', async () => {
    const { recaller, client } = await start();
    const viaNats = natsHolder();
    await bus.nc.flush();
    let n = 0;
    const h = holder(client, (o) => (++n === 1 ? undefined : page(o)));
    await until(() => recaller.streaming('vm', 'cpu'), 'the stream is registered');
    expect((await recaller.recall(order))[0]!.was).toBe(PageState.Modified);
    expect(h.orders.map((o) => o.request!.id)).toEqual([5, 5]);

    // A holder that never answers, then goes away: the order in flight goes to NATS at once.
    const silent = holder(client, () => undefined);
    expect(await h.ended).toBeUndefined(); // replaced by the new one, and ended
    const pending = recaller.recall({ ...order, id: 9 });
    await until(() => silent.orders.length === 1, 'the order on the new stream');
    silent.s.cancel();
    expect((await pending)[0]!.was).toBe(PageState.Shared);
    expect(viaNats.map((r) => r.id)).toEqual([9]);
    await until(() => !recaller.streaming('vm', 'cpu'), 'the broken stream is forgotten');
  });

  it('drops an order under a recall fault as NATS would, and a cpu:mmu partition cuts the stream too', async () => {
    const { recaller, client } = await start();
    const h = holder(client, page);
    await until(() => recaller.streaming('vm', 'cpu'), 'the stream is registered');
    const spec = (over: Partial<FaultSpec>): FaultSpec => ({
      id: 'f1',
      link: 'recall:vm',
      kind: 'drop',
      latencyMs: 0,
      jitterMs: 0,
      probability: 1,
      bytesPerSecond: 0,
      expiresAtMs: Date.now() + 60_000,
      seed: 1,
      ...over,
    });
    faults.replace([spec({})]);
    await expect(recaller.recall(order)).rejects.toThrow(/TIMEOUT/);
    faults.replace([spec({ link: 'cpu:mmu', kind: 'partition', probability: 0 })]);
    await expect(recaller.recall(order)).rejects.toThrow(/TIMEOUT/);
    expect(h.orders).toHaveLength(0);
    faults.replace([spec({ kind: 'latency', latencyMs: 150, probability: 0 })]);
    const t0 = Date.now();
    await recaller.recall(order);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(h.orders).toHaveLength(1);
  });

  it("ends a VM's streams when the VM is released", async () => {
    const { recaller, client } = await start();
    const h = holder(client, page);
    await until(() => recaller.streaming('vm', 'cpu'), 'the stream is registered');
    await client.call('ReleaseVm', { vmId: 'vm' });
    expect(await h.ended).toBeUndefined();
    expect(recaller.streaming('vm', 'cpu')).toBe(false);
  });
});
