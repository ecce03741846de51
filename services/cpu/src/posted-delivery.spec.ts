// The order a vCPU's posted writes reach io-backend in: io-backend's side is a recording
// stand-in for the vCPU's MMIO port (each run of writes, "PostWrites", sent when posted and
// answered in the order sent, as io-backend serves the exit stream, after the delay the test
// says), the doorbells travel on a real nats-server through the NATS adapter. Then the real
// exit stream over loopback gRPC under a latency fault: an exit right behind a delivery in
// flight pays the latency once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as grpc from '@grpc/grpc-js';
import { Bus, subjects } from '@splitvisor/bus';
import { FaultTable } from '@splitvisor/faults';
import { DoorbellCodec, protos, type IoV1 } from '@splitvisor/proto';
import { RpcClient, RpcError, RpcServer, faultInterceptor } from '@splitvisor/rpc';
import { UART0 } from '@splitvisor/platform';
import { silentLogger, startTestNats, type TestNats } from '@splitvisor/testing';
import { POSTED_BYTES, PostedKind, PostedRingReader, PostedRingWriter } from './exit-channel/index.js';
import { PostedDelivery } from './posted-delivery.js';
import { natsDoorbells, streamMmioPort } from './ports/index.js';

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
  let pipe: Promise<unknown> = Promise.resolve();
  const fakeIo = {
    address: '127.0.0.1:1',
    post: (writes: IoV1.PostedWrite[]) => {
      const values = writes.map((w) => String.fromCharCode(Number(w.valueLo))).join('');
      timeline.push(`PostWrites ${values}`);
      const applied = pipe.then(async () => {
        await new Promise((r) => setTimeout(r, io.delayMs ?? 0));
        if (io.fail) throw new RpcError('UNAVAILABLE', 'connection refused');
        timeline.push(`applied ${values}`);
      });
      pipe = applied.catch(() => undefined);
      return applied;
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

  it('before an exit: a doorbell waits for the deliveries in flight to be applied, what is after it rides on the exit', async () => {
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
    // z goes right behind xy on the stream; the doorbell only once both are applied.
    expect(t.timeline).toEqual(['PostWrites xy', 'PostWrites z', 'applied xy', 'applied z', 'doorbell 2 #1']);
    // Nothing is left: the next exit carries nothing and sends nothing.
    expect(await t.delivery.beforeExit()).toEqual([]);
    t.unsub();
  });

  it('before an exit: goes right behind a delivery in flight without waiting for its answer; a flush waits for it', async () => {
    const t = await setup('behind', { delayMs: 150 });
    t.write('ab');
    const inFlight = t.delivery.flush();
    for (const end = Date.now() + 1000; !t.timeline.includes('PostWrites ab') && Date.now() < end;) await new Promise((r) => setTimeout(r, 1));
    t.write('c');
    const t0 = performance.now();
    const carried = await t.delivery.beforeExit();
    // The exit is sent behind 'ab' on the same ordered stream, which applies 'ab' first.
    expect(performance.now() - t0).toBeLessThan(100);
    expect(carried.map((w) => String.fromCharCode(Number(w.valueLo)))).toEqual(['c']);
    expect(t.timeline).toEqual(['PostWrites ab']);
    // A flush with nothing new still waits until what is in flight is applied.
    await t.delivery.flush();
    expect(t.timeline).toEqual(['PostWrites ab', 'applied ab']);
    await inFlight;
    expect(t.failures).toEqual([]);
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

describe('posted writes and exits on the real exit stream under a latency fault', () => {
  it('an exit sent while a delivery is on the wire pays the latency once, and io-backend applies the delivery first', async () => {
    // io-backend's side: the exit stream served in arrival order, as handlers.ts does.
    const seen: string[] = [];
    const server = new RpcServer({ name: 'fake-io', listen: '127.0.0.1:0', log: silentLogger() });
    server.add(protos().io.IoBackend.service, {
      MmioStream: (call: grpc.ServerDuplexStream<IoV1.MmioRequest__Output, IoV1.MmioReply>) => {
        call.on('data', (r: IoV1.MmioRequest__Output) => {
          const chars = r.posted.map((w) => String.fromCharCode(Number(w.valueLo))).join('');
          seen.push(r.postedOnly ? `PostWrites ${chars}` : `exit 0x${r.addr.toString(16)} carrying ${chars}`);
          call.write({ status: 'MMIO_OK', seq: r.seq });
        });
        call.on('end', () => call.end());
        call.on('error', () => undefined);
      },
    });
    const port = await server.start();
    const table = new FaultTable('cpu');
    const io = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, `127.0.0.1:${port}`, { interceptors: [faultInterceptor('io-backend', table)] });
    const mmio = streamMmioPort(io, 'latency', 0, 5000);
    const buf = new SharedArrayBuffer(POSTED_BYTES);
    const ring = new PostedRingWriter(buf);
    const failures: string[] = [];
    const delivery = new PostedDelivery({
      vmId: 'latency',
      vcpu: 0,
      ring: new PostedRingReader(buf),
      mmio,
      doorbells: natsDoorbells(bus, 'latency'),
      deadlineMs: 5000,
      log: silentLogger(),
      onFailure: (why) => failures.push(why),
    });
    const lsr = (posted: IoV1.PostedWrite[]) => mmio.access({ addr: UART0.base + 5, size: 1, write: false, valueLo: 0, valueHi: 0, posted });
    const write = (text: string) => {
      for (const c of text) ring.post(PostedKind.Coalesced, UART0.base, 1, c.charCodeAt(0), 0);
    };
    try {
      await lsr([]); // the stream is open before the fault
      table.replace([
        {
          id: 'f1',
          link: 'cpu:io-backend',
          kind: 'latency',
          latencyMs: 200,
          jitterMs: 0,
          probability: 0,
          bytesPerSecond: 0,
          expiresAtMs: Date.now() + 60_000,
          seed: 1,
        },
      ]);
      // As the ticker does under exercises/cpu-io-latency.yaml: a line posted and delivered
      // when the vCPU idles, then an exit (a LSR read once the read shadow's grant is gone)
      // while that delivery is still on the wire.
      write('tick 7');
      const t0 = performance.now();
      const flushed = delivery.flush().then(() => performance.now() - t0);
      await new Promise((r) => setTimeout(r, 60));
      write('!');
      const t1 = performance.now();
      await lsr(await delivery.beforeExit());
      const exitMs = performance.now() - t1;
      expect(await flushed).toBeGreaterThanOrEqual(195);
      // One latency, not the rest of the delivery's (~140 ms) and then its own 200 ms.
      expect(exitMs).toBeGreaterThanOrEqual(195);
      expect(exitMs).toBeLessThan(300);
      expect(seen).toEqual(['exit 0x10000005 carrying ', 'PostWrites tick 7', 'exit 0x10000005 carrying !']);
      expect(failures).toEqual([]);
    } finally {
      mmio.close();
      io.close();
      table.remove();
      await server.stop(100);
    }
  });
});
