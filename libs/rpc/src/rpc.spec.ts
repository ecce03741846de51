import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { createServer } from 'node:net';
import { protos, type IoV1 } from '@splitvisor/proto';
import { createLogger } from '@splitvisor/log';
import { PassThrough } from 'node:stream';
import { parseVmId } from '@splitvisor/platform';
import { RpcClient, RpcError, RpcServer, accessInterceptor, checkHealth, notFound, parseHostPort, unary, waitForServing } from './index.js';

type RpcServerInterceptors = NonNullable<ConstructorParameters<typeof RpcServer>[0]['interceptors']>;

const log = createLogger({ service: 'test', level: 'silent', destination: new PassThrough() });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startIo(listen: string, handlers: Partial<IoV1.IoBackendHandlers> = {}, interceptors: RpcServerInterceptors = []) {
  const server = new RpcServer({ name: 'splitvisor.io.v1.IoBackend', listen, log, interceptors });
  server.add(protos().io.IoBackend.service, {
    AttachVm: unary(() => ({})),
    DetachVm: unary(() => ({})),
    Ping: unary((req: IoV1.PingRequest__Output) => ({ payload: req.payload })),
    Mmio: unary((req: IoV1.MmioRequest__Output) => {
      throw notFound(`vm "${req.vmId}" is not attached`);
    }),
    ...handlers,
  });
  const port = await server.start();
  cleanups.push(() => server.stop(100));
  return { server, address: `127.0.0.1:${port}` };
}

function client(address: string, deadlineMs = 2000) {
  const c = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, address, { deadlineMs });
  cleanups.push(() => c.close());
  return c;
}

describe('rpc over real loopback gRPC', () => {
  it('answers a unary call and serves health', async () => {
    const { address } = await startIo('127.0.0.1:0');
    const res = await client(address).call('Ping', { payload: Buffer.from('abc') });
    expect(Buffer.from(res.payload).toString()).toBe('abc');
    expect(await checkHealth(address)).toBe('SERVING');
    expect(await checkHealth(address, 'splitvisor.io.v1.IoBackend')).toBe('SERVING');
    await expect(checkHealth(address, 'nope')).rejects.toThrow(/unknown service "nope"/);
  });

  it('maps a typed error to its status code and back', async () => {
    const { address } = await startIo('127.0.0.1:0');
    const err = await client(address)
      .call('Mmio', { vmId: 'ghost', addr: 0x10000000, size: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe('NOT_FOUND');
    expect((err as RpcError).message).toBe('vm "ghost" is not attached');
    expect((err as RpcError).peer).toMatch(/Mmio$/);
  });

  it('fails a slow call by its deadline', async () => {
    const { address } = await startIo('127.0.0.1:0', {
      Ping: unary(async () => {
        await new Promise((r) => setTimeout(r, 1000));
        return {};
      }),
    });
    const t0 = Date.now();
    const err = (await client(address)
      .call('Ping', {}, { deadlineMs: 150 })
      .catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - t0).toBeLessThan(900);
  });

  it('retries an idempotent call while the server is not up yet, never a plain one', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const plain = (await client(address, 300)
      .call('Ping', {})
      .catch((e: unknown) => e)) as RpcError;
    expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(plain.code);
    const pending = client(address, 5000).call('Ping', { payload: Buffer.from('late') }, { idempotent: true });
    setTimeout(() => void startIo(address), 300);
    const res = await pending;
    expect(Buffer.from(res.payload).toString()).toBe('late');
  });

  it('stops gracefully: health goes NOT_SERVING, an in-flight call still completes', async () => {
    let release!: () => void;
    const { server, address } = await startIo('127.0.0.1:0', {
      Ping: unary(() => new Promise<IoV1.PingReply>((r) => (release = () => r({ payload: Buffer.from('done') })))),
    });
    const c = client(address);
    const inflight = c.call('Ping', {});
    await new Promise((r) => setTimeout(r, 100));
    const stopping = server.stop(3000);
    release();
    const res = await inflight;
    expect(Buffer.from(res.payload).toString()).toBe('done');
    await stopping;
    await expect(waitForServing(address, 300)).rejects.toThrow(new RegExp(`${address} not serving after 300 ms`));
  });

  it('refuses a call that names an impossible VM as INVALID_ARGUMENT, whichever service parsed it', async () => {
    const { address } = await startIo('127.0.0.1:0', {
      AttachVm: unary((req: IoV1.AttachVmRequest__Output) => (parseVmId(req.vmId, 'vm_id'), {})),
    });
    const e = await client(address)
      .call('AttachVm', { vmId: 'Bad.Id' })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RpcError);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(`vm_id: "Bad.Id" must be 1-63 characters`) });
  });

  it('parses host:port and names the field on error', () => {
    expect(parseHostPort('127.0.0.1:50051', '--listen')).toEqual({ host: '127.0.0.1', port: 50051 });
    expect(parseHostPort('[::1]:1', '--listen')).toEqual({ host: '[::1]', port: 1 });
    expect(() => parseHostPort('localhost', '--mmu')).toThrow('--mmu: "localhost" is not host:port');
    expect(() => parseHostPort('h:70000', '--mmu')).toThrow('--mmu: port 70000 is out of range');
  });
});

describe('the access check', () => {
  it('refuses a call that carries no client certificate: UNAUTHENTICATED, naming the method', async () => {
    // A server with the access check but no TLS: whatever the caller claims in metadata,
    // there is no identity, so there is no call.
    const { address } = await startIo('127.0.0.1:0', {}, [accessInterceptor({ '/splitvisor.io.v1.IoBackend/*': '*' })]);
    const md = new grpc.Metadata();
    md.set('x-splitvisor-caller', 'cpu');
    const e = await client(address)
      .call('Ping', { payload: Buffer.from('x') }, { metadata: md })
      .then(
        () => undefined,
        (x: unknown) => x as RpcError,
      );
    expect(e).toBeInstanceOf(RpcError);
    expect(e!.code).toBe('UNAUTHENTICATED');
    expect(e!.message).toMatch(/\/splitvisor\.io\.v1\.IoBackend\/Ping: no client certificate/);
  });
});
