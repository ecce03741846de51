// MmuGuestMemory over real loopback gRPC, against a server that speaks mmu's DMA stream and
// answers as a loaded mmu does: late (it waits on a recall from a busy vCPU), or not at
// all for a while. The write-once side of a repeated write is mmu's (vm-memory.spec.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { protos, type MmuV1 } from '@splitvisor/proto';
import { createLogger } from '@splitvisor/log';
import { GuestMemoryError } from '@splitvisor/virtio';
import * as grpc from '@grpc/grpc-js';
import { CALLER_KEY, RpcClient, RpcError, RpcServer, invalidArgument } from '@splitvisor/rpc';
import { MmuGuestMemory } from './guest-memory.js';

const log = createLogger({ service: 'test', level: 'silent', destination: new PassThrough() });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Seen {
  writes: MmuV1.DmaWriteRequest__Output[];
  reads: number;
  /** DMA streams opened, and the caller each named in its metadata. */
  streams: string[];
}

/** A DMA server on mmu's DmaStream: the n-th request (from 1) is answered after
 *  delays[n - 1] ms (0 past the list), or fails with what fail(n) throws; `breakOn(n)`
 *  ends the stream with UNAVAILABLE instead of answering, as an mmu going down. */
async function dmaServer(opts: { delays?: number[]; fail?: (n: number) => Error | undefined; breakOn?: (n: number) => boolean }) {
  const seen: Seen = { writes: [], reads: 0, streams: [] };
  let calls = 0;
  const server = new RpcServer({ name: 'splitvisor.mmu.v1.Mmu', listen: '127.0.0.1:0', log });
  const read = (req: MmuV1.DmaReadRequest__Output) => {
    seen.reads++;
    return { data: req.segments.map((s) => Buffer.alloc(s.length, 0xab)) };
  };
  const write = (req: MmuV1.DmaWriteRequest__Output) => {
    seen.writes.push(req);
    return { bytesWritten: req.segments.reduce((n, s) => n + s.data.length, 0) };
  };
  server.add(protos().mmu.Mmu.service, {
    DmaStream: (call: grpc.ServerDuplexStream<MmuV1.DmaStreamRequest__Output, MmuV1.DmaStreamReply>) => {
      seen.streams.push(String(call.metadata.get(CALLER_KEY)[0] ?? ''));
      call.on('data', (req: MmuV1.DmaStreamRequest__Output) => {
        const n = ++calls;
        const reply = req.read ? { read: read(req.read) } : { write: write(req.write!) };
        if (opts.breakOn?.(n)) {
          call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'mmu is going down' });
          return;
        }
        setTimeout(
          () => {
            const e = opts.fail?.(n);
            if (call.writableEnded || call.cancelled) return;
            if (e instanceof RpcError) call.write({ seq: req.seq, errorCode: e.code, errorMessage: e.message });
            else call.write({ seq: req.seq, ...reply });
          },
          opts.delays?.[n - 1] ?? 0,
        );
      });
      call.on('error', () => undefined);
    },
  });
  const port = await server.start();
  cleanups.push(() => server.stop(100));
  const client = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, `127.0.0.1:${port}`, { deadlineMs: 5000 });
  cleanups.push(() => client.close());
  return { client, seen };
}

describe('MmuGuestMemory', () => {
  it('asks again when an attempt misses its deadline, sending a write under the same write id', async () => {
    // The first answer comes after the 150 ms deadline: mmu waited on a recall.
    const { client, seen } = await dmaServer({ delays: [400] });
    const retried: string[] = [];
    const mem = new MmuGuestMemory(client, 'vm1', 'io-backend', { deadlineMs: 150, onRetry: (what, n, e) => retried.push(`${what} #${n} ${e.code}`) });
    await mem.writev([
      { addr: 0x8000_1000, data: Uint8Array.of(1, 2, 3) },
      { addr: 0x8000_2000, data: Uint8Array.of(4) },
    ]);
    expect(seen.writes.length).toBe(2);
    const ids = seen.writes.map((w) => w.writeId);
    expect(ids[0]).toBeGreaterThan(0);
    expect(ids[1]).toBe(ids[0]);
    expect(retried).toEqual(['DMA write at 0x80001000 #1 DEADLINE_EXCEEDED']);
    expect(mem.stats).toMatchObject({ writes: 1, bytesWritten: 4, retries: 1, failures: 0 });
    // The next write is another write: another id.
    await mem.write(0x8000_3000, Uint8Array.of(9));
    expect(seen.writes[2]!.writeId).toBe(ids[0]! + 1);
  });

  it('asks again while mmu answers UNAVAILABLE (a recall not answered, mmu restarting), reads too', async () => {
    const { client, seen } = await dmaServer({
      fail: (n) => (n <= 2 ? new RpcError('UNAVAILABLE', 'page cache "cpu" did not give back 1 page(s)') : undefined),
    });
    const mem = new MmuGuestMemory(client, 'vm1', 'io-backend', { deadlineMs: 1000 });
    const [b] = await mem.readv([{ addr: 0x8000_0000, len: 4 }]);
    expect([...b!]).toEqual([0xab, 0xab, 0xab, 0xab]);
    expect(seen.reads).toBe(3);
    expect(mem.stats).toMatchObject({ reads: 1, retries: 2, failures: 0 });
  });

  it('gives up after retryForMs, naming the call, the attempts and the last error', async () => {
    const { client } = await dmaServer({ fail: () => new RpcError('UNAVAILABLE', 'mmu is restarting') });
    const mem = new MmuGuestMemory(client, 'vm1', 'io-backend', { deadlineMs: 200, retryForMs: 300 });
    const err = await mem.write(0x8000_0040, Uint8Array.of(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).not.toBeInstanceOf(GuestMemoryError);
    expect((err as RpcError).code).toBe('UNAVAILABLE');
    expect((err as Error).message).toMatch(/^DMA write at 0x80000040 of vm "vm1": no answer from mmu in \d+ attempts over \d+ ms; last: mmu is restarting$/);
    expect(mem.stats.failures).toBe(1);
    expect(mem.stats.retries).toBeGreaterThanOrEqual(2);
  });

  it("does not ask again when mmu refuses: a range outside RAM is the guest's (GuestMemoryError)", async () => {
    const { client, seen } = await dmaServer({ fail: () => invalidArgument('DMA write [0x400000000000, 0x400000000001) lies outside RAM') });
    const mem = new MmuGuestMemory(client, 'vm1', 'io-backend', { deadlineMs: 1000 });
    const err = await mem.write(0x4000_0000_0000, Uint8Array.of(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestMemoryError);
    expect((err as Error).message).toMatch(/lies outside RAM/);
    expect(seen.writes.length).toBe(1);
    expect(mem.stats).toMatchObject({ retries: 0, failures: 1 });
  });

  it('puts every call of a VM on one stream that names the caller, and matches answers that come out of order', async () => {
    // The first read is answered after the second.
    const { client, seen } = await dmaServer({ delays: [120, 0] });
    const mem = new MmuGuestMemory(client, 'vm1', 'io-backend', { deadlineMs: 1000 });
    const order: string[] = [];
    await Promise.all([
      mem.readv([{ addr: 0x8000_0000, len: 2 }]).then((b) => order.push(`2 bytes: ${b[0]!.length}`)),
      mem.readv([{ addr: 0x8000_1000, len: 5 }]).then((b) => order.push(`5 bytes: ${b[0]!.length}`)),
    ]);
    expect(order).toEqual(['5 bytes: 5', '2 bytes: 2']);
    await mem.write(0x8000_2000, Uint8Array.of(1));
    expect(seen.streams).toEqual(['io-backend']);
    mem.close();
    await expect(mem.write(0x8000_2000, Uint8Array.of(1))).rejects.toThrow(/the VM was detached/);
  });

  it('asks again on a new stream when the stream breaks under a call (mmu going down)', async () => {
    const { client, seen } = await dmaServer({ breakOn: (n) => n === 1 });
    const retried: string[] = [];
    const mem = new MmuGuestMemory(client, 'vm1', 'io-backend', { deadlineMs: 1000, onRetry: (what, n, e) => retried.push(`${what} #${n} ${e.code}`) });
    await mem.write(0x8000_4000, Uint8Array.of(7));
    expect(retried).toEqual(['DMA write at 0x80004000 #1 UNAVAILABLE']);
    expect(seen.streams).toEqual(['io-backend', 'io-backend']);
    expect(seen.writes.map((w) => w.writeId)).toEqual([seen.writes[0]!.writeId, seen.writes[0]!.writeId]);
  });
});
