// The vCPU's exit stream against a real gRPC server on loopback playing io-backend: replies
// in order, deliveries queued behind exits, and every way the other end can fail (an error
// status, a reply out of order, silence past the deadline, the server gone) answered with a
// named error, after which the next exit opens a fresh stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as grpc from '@grpc/grpc-js';
import { protos, type IoV1 } from '@splitvisor/proto';
import { RpcClient, RpcError, RpcServer, notFound } from '@splitvisor/rpc';
import { silentLogger } from '@splitvisor/testing';
import { MmioStream } from './mmio-stream.js';

type Behaviour = (req: IoV1.MmioRequest__Output, call: grpc.ServerDuplexStream<IoV1.MmioRequest__Output, IoV1.MmioReply>) => void;
let behave: Behaviour;
let streams = 0;
let server: RpcServer;
let io: RpcClient<IoV1.IoBackendClient>;

beforeAll(async () => {
  server = new RpcServer({ name: 'fake-io', listen: '127.0.0.1:0', log: silentLogger() });
  server.add(protos().io.IoBackend.service, {
    MmioStream: (call: grpc.ServerDuplexStream<IoV1.MmioRequest__Output, IoV1.MmioReply>) => {
      streams++;
      call.on('data', (req: IoV1.MmioRequest__Output) => behave(req, call));
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const port = await server.start();
  io = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, `127.0.0.1:${port}`);
});
afterAll(async () => {
  io?.close();
  await server?.stop(100);
});

const echo: Behaviour = (req, call) => call.write({ status: 'MMIO_OK', valueLo: req.addr & 0xff, seq: req.seq });
const req = (addr: number, postedOnly = false) => ({ vmId: 'vm', vcpu: 0, addr, size: 1, write: false, postedOnly });

describe('MmioStream', () => {
  it('answers exits in order on one stream, a delivery queued behind an exit included', async () => {
    behave = echo;
    const before = streams;
    const s = new MmioStream(io, 2000);
    const [a, b] = await Promise.all([s.call(req(0x10000005)), s.call(req(0, true))]);
    expect(a).toMatchObject({ status: 'MMIO_OK', valueLo: 5, seq: 1 });
    expect(b).toMatchObject({ status: 'MMIO_OK', seq: 2 });
    for (let i = 0; i < 50; i++) expect((await s.call(req(0x10000000 + i))).valueLo).toBe(i);
    expect(streams - before).toBe(1);
    expect(s.opened).toBe(1);
    s.close();
  });

  it("rejects with io-backend's status when it ends the stream, then opens a new one", async () => {
    const s = new MmioStream(io, 2000);
    behave = (_r, call) => call.emit('error', notFound('vm "vm" is not attached').toServiceError());
    const e = (await s.call(req(0x10000005)).catch((x: unknown) => x)) as RpcError;
    expect(e).toBeInstanceOf(RpcError);
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toBe('vm "vm" is not attached');
    expect(e.peer).toMatch(/^127\.0\.0\.1:\d+ MmioStream$/);
    behave = echo;
    expect((await s.call(req(0x10000007))).valueLo).toBe(7);
    expect(s.opened).toBe(2);
    s.close();
  });

  it('refuses a reply that is not for the exit in flight', async () => {
    const s = new MmioStream(io, 2000);
    behave = (r, call) => call.write({ status: 'MMIO_OK', seq: r.seq + 1 });
    await expect(s.call(req(0x10000005))).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/reply for seq 2 while seq 1 was next/) });
    s.close();
  });

  it('fails an exit nobody answers at its deadline, and everything queued behind it', async () => {
    const s = new MmioStream(io, 300);
    behave = () => undefined;
    const t0 = Date.now();
    const both = await Promise.allSettled([s.call(req(0x10000005)), s.call(req(0, true))]);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(both.map((r) => (r.status === 'rejected' ? (r.reason as RpcError).code : 'fulfilled'))).toEqual(['DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED']);
    expect(((both[0] as PromiseRejectedResult).reason as RpcError).message).toMatch(/no reply to seq 1 within 300 ms/);
    s.close();
  });

  it('fails with UNAVAILABLE naming the address when nothing listens there (after asking again until the deadline)', async () => {
    const dead = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, '127.0.0.1:1');
    const s = new MmioStream(dead, 600);
    await expect(s.call(req(0x10000005))).rejects.toMatchObject({ code: 'UNAVAILABLE', peer: '127.0.0.1:1 MmioStream' });
    s.close();
    dead.close();
  });

  it('while io-backend is down, asks again until it is back: a restart quicker than the deadline is a stall, not a failure', async () => {
    const first = await fakeIo(0);
    const port = first.port;
    const client = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, `127.0.0.1:${port}`);
    const s = new MmioStream(client, 8000);
    try {
      expect((await s.call(req(0x10000003))).valueLo).toBe(3);
      await first.server.stop(0);
      const t0 = Date.now();
      const pending = s.call(req(0x10000004));
      await new Promise((r) => setTimeout(r, 700));
      const second = await fakeIo(port);
      try {
        const r = await pending;
        expect(r).toMatchObject({ status: 'MMIO_OK', valueLo: 4 });
        expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
        expect(second.seen).toEqual([0x10000004]);
        expect(s.retried).toBeGreaterThan(0);
        // And the stream goes on as before.
        expect((await s.call(req(0x10000005))).valueLo).toBe(5);
      } finally {
        await second.server.stop(0);
      }
    } finally {
      s.close();
      client.close();
    }
  }, 20_000);

  it('past the deadline with io-backend still down, fails naming io-backend and how long it tried', async () => {
    const first = await fakeIo(0);
    const client = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, `127.0.0.1:${first.port}`);
    const s = new MmioStream(client, 1200);
    try {
      expect((await s.call(req(0x10000003))).valueLo).toBe(3);
      await first.server.stop(0);
      const t0 = Date.now();
      const e = (await s.call(req(0x10000004)).catch((x: unknown) => x)) as RpcError;
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1100);
      expect(e).toBeInstanceOf(RpcError);
      expect(e.code).toBe('UNAVAILABLE');
      expect(e.message).toMatch(/^io-backend gave no answer to seq 2 within 1200 ms \(\d+ attempts\); last: /);
    } finally {
      s.close();
      client.close();
    }
  }, 20_000);

  it("does not ask again when io-backend answered with an error of its own (not attached, a guest's bad access)", async () => {
    const s = new MmioStream(io, 2000);
    let n = 0;
    behave = (_r, call) => {
      n++;
      call.emit('error', notFound('vm "vm" is not attached').toServiceError());
    };
    await expect(s.call(req(0x10000005))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(n).toBe(1);
    s.close();
  });
});

/** A second fake io-backend that echoes, on `port` (0: any), recording the addresses it saw. */
async function fakeIo(port: number) {
  const seen: number[] = [];
  const server = new RpcServer({ name: 'fake-io-2', listen: `127.0.0.1:${port}`, log: silentLogger() });
  server.add(protos().io.IoBackend.service, {
    MmioStream: (call: grpc.ServerDuplexStream<IoV1.MmioRequest__Output, IoV1.MmioReply>) => {
      call.on('data', (r: IoV1.MmioRequest__Output) => {
        if (!r.postedOnly) seen.push(r.addr);
        call.write({ status: 'MMIO_OK', valueLo: r.addr & 0xff, seq: r.seq });
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  return { server, seen, port: await server.start() };
}
