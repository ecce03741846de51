// Recalls over a real NATS server: the request a page cache sees, a lost answer asked
// for again under the same id, and a holder nobody serves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus, subjects } from '@splitvisor/bus';
import { RecallReplyCodec, RecallRequestCodec, type MmuV1 } from '@splitvisor/proto';
import { silentLogger, startTestNats, type TestNats } from '@splitvisor/testing';
import { PageState } from '@splitvisor/platform';
import { NatsRecaller } from './recaller.js';

let nats: TestNats;
let bus: Bus;
beforeAll(async () => {
  nats = await startTestNats();
  bus = await Bus.connect({ url: nats.url, name: 'recaller-test', log: silentLogger() });
}, 60_000);
afterAll(async () => {
  await bus?.drain();
  await nats?.stop();
});

const order = { vmId: 'vm', holder: 'cpu', gfns: [0x80001], mode: 'invalidate' as const, grant: 3, epoch: 'e', id: 7 };

describe('NatsRecaller', () => {
  it('asks the holder on its own subject and asks again, same id, when an answer is lost', async () => {
    const seen: MmuV1.RecallRequest__Output[] = [];
    const sub = bus.nc.subscribe(subjects.memRecall('vm', 'cpu'), {
      callback: (_e, m) => {
        const req = RecallRequestCodec.decode(m.data);
        seen.push(req);
        if (seen.length === 1) return; // the first answer is lost
        m.respond(RecallReplyCodec.encode({ id: req.id, pages: [{ gfn: 0x80001, was: 2, data: Buffer.alloc(4096, 3) }] }));
      },
    });
    const pages = await new NatsRecaller(bus, 200).recall(order);
    sub.unsubscribe();
    expect(seen.map((r) => [r.id, r.mode, r.gfns, r.grant, r.epoch])).toEqual([
      [7, 'RECALL_INVALIDATE', [0x80001], 3, 'e'],
      [7, 'RECALL_INVALIDATE', [0x80001], 3, 'e'],
    ]);
    expect(pages).toHaveLength(1);
    expect(pages[0]).toMatchObject({ gfn: 0x80001, was: PageState.Modified, zero: false });
    expect(pages[0]!.data!.length).toBe(4096);
  });

  it('fails at once when nobody serves the holder, and passes on an error the holder sends', async () => {
    const t0 = Date.now();
    await expect(new NatsRecaller(bus, 2000).recall({ ...order, holder: 'gone' })).rejects.toThrow(/sv\.vm\.vm\.mem\.recall\.gone/);
    expect(Date.now() - t0).toBeLessThan(1500);
    const sub = bus.nc.subscribe(subjects.memRecall('vm', 'cpu'), {
      callback: (_e, m) => {
        m.respond(RecallReplyCodec.encode({ id: 7, error: "recall of gfn 0x1 outside this VM's RAM" }));
      },
    });
    await expect(new NatsRecaller(bus, 500).recall(order)).rejects.toThrow("recall of gfn 0x1 outside this VM's RAM");
    sub.unsubscribe();
  });

  it('sends each mode by its name on the wire, the clean one (a device reads) included', async () => {
    const modes: string[] = [];
    const sub = bus.nc.subscribe(subjects.memRecall('vm', 'cpu'), {
      callback: (_e, m) => {
        const req = RecallRequestCodec.decode(m.data);
        modes.push(String(req.mode));
        m.respond(RecallReplyCodec.encode({ id: req.id, pages: [] }));
      },
    });
    for (const mode of ['downgrade', 'invalidate', 'clean'] as const) await new NatsRecaller(bus, 2000).recall({ ...order, mode });
    sub.unsubscribe();
    expect(modes).toEqual(['RECALL_DOWNGRADE', 'RECALL_INVALIDATE', 'RECALL_CLEAN']);
  });
});
