// A page cache's recall stream against a real gRPC server on loopback playing mmu: the
// hello, each order answered with its seq, the stream opened again after mmu ends it, none
// kept against an mmu without the call, and nothing reopened once closed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as grpc from '@grpc/grpc-js';
import { protos, type MmuV1 } from '@splitvisor/proto';
import { RpcClient, RpcError, RpcServer } from '@splitvisor/rpc';
import { silentLogger, until } from '@splitvisor/testing';
import { RecallStreamClient } from './recall-stream.js';

type Call = grpc.ServerDuplexStream<MmuV1.RecallAnswer__Output, MmuV1.RecallOrder>;
/** What the fake mmu does with a new stream after its hello. */
let onHello: (call: Call, hello: MmuV1.RecallAnswer__Output) => void;
const hellos: MmuV1.RecallAnswer__Output[] = [];
const answers: MmuV1.RecallAnswer__Output[] = [];
let server: RpcServer;
let mmu: RpcClient<MmuV1.MmuClient>;

beforeAll(async () => {
  server = new RpcServer({ name: 'fake-mmu', listen: '127.0.0.1:0', log: silentLogger() });
  server.add(protos().mmu.Mmu.service, {
    RecallStream: (call: Call) => {
      let first = true;
      call.on('data', (a: MmuV1.RecallAnswer__Output) => {
        if (!first) return void answers.push(a);
        first = false;
        hellos.push(a);
        onHello(call, a);
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const port = await server.start();
  mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, `127.0.0.1:${port}`);
});
afterAll(async () => {
  mmu?.close();
  await server?.stop(100);
});

const request = (id: number): MmuV1.RecallRequest => ({ vmId: 'vm', holder: 'cpu', gfns: [0x80001], mode: 'RECALL_DOWNGRADE', id, epoch: 'e' });
const answerer = async (req: MmuV1.RecallRequest__Output): Promise<MmuV1.RecallReply> => ({ id: req.id, pages: [{ gfn: req.gfns[0]!, was: 'HELD_SHARED' }] });

describe('RecallStreamClient', () => {
  it('names its VM and cache, then answers each order with its seq', async () => {
    hellos.length = answers.length = 0;
    onHello = (call) => {
      call.write({ seq: 1, request: request(10) });
      call.write({ seq: 2, request: request(11) });
    };
    const c = new RecallStreamClient(mmu, 'vm', 'cpu', answerer);
    await until(() => answers.length === 2, 'two answers');
    expect(hellos.map((h) => [h.vmId, h.holder, h.seq, h.reply])).toEqual([['vm', 'cpu', 0, null]]);
    expect(answers.map((a) => [a.seq, a.reply!.id, a.reply!.pages[0]!.was])).toEqual([
      [1, 10, 'HELD_SHARED'],
      [2, 11, 'HELD_SHARED'],
    ]);
    expect(c.streaming).toBe(true);
    expect(c.counts).toEqual({ opened: 1, answered: 2 });
    c.close();
    expect(c.streaming).toBe(false);
  });

  it('opens the stream again when mmu ends it (a restart), and not once closed', async () => {
    hellos.length = 0;
    let n = 0;
    onHello = (call) => {
      if (++n <= 2) call.emit('error', new RpcError('UNAVAILABLE', 'mmu is stopping').toServiceError());
    };
    const c = new RecallStreamClient(mmu, 'vm', 'cpu', answerer);
    await until(() => hellos.length === 3, 'the third hello', 3000);
    expect(c.lastError).toBe('mmu is stopping');
    expect(c.counts.opened).toBe(3);
    c.close();
    await new Promise((r) => setTimeout(r, 400));
    expect(hellos).toHaveLength(3);
  });

  it('keeps no stream against an mmu without the call: recalls come over NATS alone', async () => {
    hellos.length = 0;
    onHello = (call) => call.emit('error', new RpcError('UNIMPLEMENTED', 'this mmu recalls over NATS only').toServiceError());
    const c = new RecallStreamClient(mmu, 'vm', 'cpu', answerer);
    await until(() => c.lastError !== undefined, 'the refusal');
    await new Promise((r) => setTimeout(r, 400));
    expect(hellos).toHaveLength(1);
    expect(c.streaming).toBe(false);
    expect(c.lastError).toBe('this mmu recalls over NATS only');
    c.close();
  });
});
