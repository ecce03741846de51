// The fault interceptor over real loopback gRPC: a table of its own (not the process's),
// faults added and removed while one client and one stream stay open.
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { PassThrough } from 'node:stream';
import { protos, type IoV1 } from '@splitvisor/proto';
import { createLogger } from '@splitvisor/log';
import { FaultTable, type FaultSpec } from '@splitvisor/faults';
import { RpcClient, RpcError, RpcServer, faultInterceptor, unary } from './index.js';

const log = createLogger({ service: 'test', level: 'silent', destination: new PassThrough() });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function fault(over: Partial<FaultSpec>): FaultSpec {
  return {
    id: 'f1',
    link: 'cpu:io-backend',
    kind: 'latency',
    latencyMs: 0,
    jitterMs: 0,
    probability: 0,
    bytesPerSecond: 0,
    expiresAtMs: Date.now() + 60_000,
    seed: 1,
    ...over,
  };
}

async function setup() {
  const server = new RpcServer({ name: 'splitvisor.io.v1.IoBackend', listen: '127.0.0.1:0', log });
  server.add(protos().io.IoBackend.service, {
    Ping: unary((req: IoV1.PingRequest__Output) => ({ payload: req.payload })),
    // Echoes each exit's seq back, as io-backend answers its exit stream in order.
    MmioStream: (call: grpc.ServerDuplexStream<IoV1.MmioRequest__Output, IoV1.MmioReply>) => {
      call.on('data', (r: IoV1.MmioRequest__Output) => call.write({ seq: r.seq }));
      call.on('end', () => call.end());
    },
  } as Partial<IoV1.IoBackendHandlers> as IoV1.IoBackendHandlers);
  const port = await server.start();
  const table = new FaultTable('cpu');
  const c = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, `127.0.0.1:${port}`, {
    deadlineMs: 3000,
    interceptors: [faultInterceptor('io-backend', table)],
  });
  cleanups.push(
    () => server.stop(100),
    () => c.close(),
    () => void table.remove(),
  );
  return { c, table };
}

async function timed<T>(p: Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await p;
  return [v, performance.now() - t0];
}

describe('fault interceptor', () => {
  it('delays a unary call by the latency on its link, and not once the fault is gone', async () => {
    const { c, table } = await setup();
    await c.call('Ping', {});
    table.replace([fault({ latencyMs: 250 })]);
    const [, slow] = await timed(c.call('Ping', {}));
    expect(slow).toBeGreaterThanOrEqual(245);
    table.remove('f1');
    const [, fast] = await timed(c.call('Ping', {}));
    expect(fast).toBeLessThan(200);
  });

  it('bandwidth: a call waits its size’s time on the link', async () => {
    const { c, table } = await setup();
    table.replace([fault({ kind: 'bandwidth', bytesPerSecond: 100_000 })]);
    const [, t] = await timed(c.call('Ping', { payload: Buffer.alloc(50_000) }));
    expect(t).toBeGreaterThanOrEqual(490);
    expect(table.applied()[0]!.hits).toBe(1);
  });

  it('a partition fails the call with UNAVAILABLE in the fault’s words; a fault on another link does nothing', async () => {
    const { c, table } = await setup();
    table.replace([fault({ id: 'p1', link: 'cpu:mmu', kind: 'partition' })]);
    const [, t] = await timed(c.call('Ping', {}));
    expect(t).toBeLessThan(200);
    table.replace([fault({ id: 'p2', link: 'cpu:io-backend', kind: 'partition' })]);
    const e = (await c.call('Ping', {}).catch((x: unknown) => x)) as RpcError;
    expect(e).toBeInstanceOf(RpcError);
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toMatch(/^fault p2 \(partition cpu:io-backend, [\d.]+(ms|s|m) left\): cpu cannot reach io-backend$/);
  });

  it('an open stream takes a fault added after it opened: each message delayed, in order, several in flight at once', async () => {
    const { c, table } = await setup();
    const stream = c.raw.MmioStream();
    cleanups.push(() => void stream.cancel());
    const replies: { seq: number; at: number }[] = [];
    stream.on('data', (r: IoV1.MmioReply__Output) => replies.push({ seq: Number(r.seq), at: performance.now() }));
    stream.on('error', () => undefined);
    stream.write({ seq: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(replies.map((r) => r.seq)).toEqual([1]);
    table.replace([fault({ latencyMs: 200, jitterMs: 100 })]);
    const t0 = performance.now();
    for (let seq = 2; seq <= 6; seq++) stream.write({ seq });
    for (const end = Date.now() + 3000; replies.length < 6 && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
    expect(replies.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(replies[1]!.at - t0).toBeGreaterThanOrEqual(95);
    // Latency, not a queue: the five travel together, each 100..300 ms (never before the one
    // ahead). Were each to wait for the one before to be sent, the last would need 500 ms at
    // the least (1 s on average).
    expect(replies[5]!.at - t0).toBeLessThan(450);
    expect(table.applied()[0]!.hits).toBe(5);
  });

  it('a stream half-closed while its messages are in flight ends after they arrive', async () => {
    const { c, table } = await setup();
    table.replace([fault({ latencyMs: 150 })]);
    const stream = c.raw.MmioStream();
    const replies: number[] = [];
    stream.on('data', (r: IoV1.MmioReply__Output) => replies.push(Number(r.seq)));
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const t0 = performance.now();
    stream.write({ seq: 1 });
    stream.write({ seq: 2 });
    stream.end();
    await ended;
    expect(replies).toEqual([1, 2]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
  });
});
