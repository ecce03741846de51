// The order a vCPU's posted writes reach io-backend in: io-backend's side is a recording
// stand-in for the vCPU's MMIO port (each run of writes, "PostWrites", answered when the
// test says so), the doorbells travel on a real nats-server through the NATS adapter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus, subjects } from '@splitvisor/bus';
import { DoorbellCodec, type IoV1 } from '@splitvisor/proto';
import { RpcError } from '@splitvisor/rpc';
import { UART0 } from '@splitvisor/platform';
import { silentLogger, startTestNats, type TestNats } from '@splitvisor/testing';
import { POSTED_BYTES, PostedKind, PostedRingReader, PostedRingWriter } from './exit-channel/index.js';
import { PostedDelivery } from './posted-delivery.js';
import { natsDoorbells } from './ports/index.js';

let nats: TestNats;
let bus: Bus;
beforeAll(async () => {
  nats = await startTestNats();
  bus = await Bus.connect({ url: nats.url, name: 'posted-test', log: silentLogger() });
}, 60_000);
afterAll(async () => {
  await bus?.drain();
  await nats?.stop();
});

const DOORBELL = 0x10001050;

/** A delivery for `vmId`, an io-backend that logs each PostWrites and answers it after
 *  `delayMs` (or fails it), and a timeline that doorbells arriving on NATS join. */
async function setup(vmId: string, io: { delayMs?: number; fail?: boolean } = {}) {
  const timeline: string[] = [];
  const buf = new SharedArrayBuffer(POSTED_BYTES);
  const ring = new PostedRingWriter(buf);
  const failures: string[] = [];
  const fakeIo = {
    address: '127.0.0.1:1',
    post: async (writes: IoV1.PostedWrite[]) => {
      const values = writes.map((w) => String.fromCharCode(Number(w.valueLo))).join('');
      timeline.push(`PostWrites ${values}`);
      await new Promise((r) => setTimeout(r, io.delayMs ?? 0));
      if (io.fail) throw new RpcError('UNAVAILABLE', 'connection refused');
      timeline.push(`applied ${values}`);
    },
  };
  const unsub = bus.subscribe(subjects.doorbell(vmId), DoorbellCodec, (d) => timeline.push(`doorbell ${d.value} #${d.seq}`));
  await bus.nc.flush();
  const delivery = new PostedDelivery({
    vmId,
    vcpu: 0,
    ring: new PostedRingReader(buf),
    mmio: fakeIo,
    doorbells: natsDoorbells(bus, vmId),
    deadlineMs: 1000,
    log: silentLogger(),
    onFailure: (why) => failures.push(why),
  });
  const write = (text: string) => {
    for (const c of text) ring.post(PostedKind.Coalesced, UART0.base, 1, c.charCodeAt(0), 0);
  };
  const doorbell = (queue: number) => ring.post(PostedKind.Doorbell, DOORBELL, 4, queue, 0);
  const settle = async (n: number) => {
    for (const end = Date.now() + 2000; timeline.filter((t) => t.startsWith('doorbell')).length < n && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { timeline, failures, delivery, write, doorbell, settle, unsub };
}

describe('posted write delivery', () => {
  it('publishes a doorbell only after the writes before it are applied, and keeps the rest in order', async () => {
    const t = await setup('order', { delayMs: 30 });
    t.write('ab');
    t.doorbell(0);
    t.write('cd');
    t.doorbell(1);
    await t.delivery.flush();
    await t.settle(2);
    // The writes go in order; each doorbell arrives after the writes before it were applied
    // (later writes may overtake a doorbell on its way, as they may an ioeventfd's reader).
    const at = (e: string) => t.timeline.indexOf(e);
    expect(t.timeline.filter((e) => !e.startsWith('doorbell'))).toEqual(['PostWrites ab', 'applied ab', 'PostWrites cd', 'applied cd']);
    expect(at('doorbell 0 #1')).toBeGreaterThan(at('applied ab'));
    expect(at('doorbell 1 #2')).toBeGreaterThan(at('applied cd'));
    t.unsub();
  });

  it('before an exit: waits for a delivery in flight, then hands over what is left to ride on the exit', async () => {
    const t = await setup('exit', { delayMs: 40 });
    t.write('xy');
    const inFlight = t.delivery.flush();
    for (const end = Date.now() + 1000; !t.timeline.includes('PostWrites xy') && Date.now() < end;) await new Promise((r) => setTimeout(r, 1));
    expect(t.timeline).toEqual(['PostWrites xy']);
    // Posted while the first delivery is on the wire: they must not overtake it.
    t.write('z');
    t.doorbell(2);
    t.write('!?');
    const carried = await t.delivery.beforeExit();
    await inFlight;
    expect(carried.map((w) => String.fromCharCode(Number(w.valueLo)))).toEqual(['!', '?']);
    await t.settle(1);
    expect(t.timeline).toEqual(['PostWrites xy', 'applied xy', 'PostWrites z', 'applied z', 'doorbell 2 #1']);
    // Nothing is left: the next exit carries nothing and sends nothing.
    expect(await t.delivery.beforeExit()).toEqual([]);
    t.unsub();
  });

  it('reports a lost delivery once, and fails every later exit with the same reason', async () => {
    const t = await setup('lost', { fail: true });
    t.write('a');
    await t.delivery.flush();
    t.write('b');
    await t.delivery.flush();
    expect(t.failures).toEqual(['delivering 1 posted MMIO writes failed: io-backend at 127.0.0.1:1 UNAVAILABLE: connection refused']);
    await expect(t.delivery.beforeExit()).rejects.toThrow(/delivering 1 posted MMIO writes failed/);
    t.unsub();
  });

  it('rings again a doorbell nobody acknowledged, until io-backend hears it', async () => {
    const t = await setup('late');
    t.unsub(); // io-backend is not listening yet
    t.doorbell(3);
    await t.delivery.flush();
    await new Promise((r) => setTimeout(r, 150));
    const heard: number[] = [];
    const unsub = bus.subscribe(subjects.doorbell('late'), DoorbellCodec, (d) => heard.push(d.value));
    for (const end = Date.now() + 2000; heard.length === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
    expect(heard).toEqual([3]);
    await new Promise((r) => setTimeout(r, 100));
    expect(t.delivery.counts.doorbellResends).toBeGreaterThan(0);
    expect(t.failures).toEqual([]);
    unsub();
  });

  it('stops the VM, naming the doorbell, when io-backend never acknowledges it', async () => {
    const t = await setup('deaf');
    t.unsub();
    t.doorbell(1);
    await t.delivery.flush();
    for (const end = Date.now() + 3000; t.failures.length === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(t.failures).toEqual([
      expect.stringMatching(
        /^the doorbell at 0x10001050 \(queue 1\) was never acknowledged: sv\.vm\.deaf\.doorbell: no subscriber acknowledged the message within 1000 ms/,
      ),
    ]);
    await expect(t.delivery.beforeExit()).rejects.toThrow(/the doorbell at 0x10001050/);
  });
});
