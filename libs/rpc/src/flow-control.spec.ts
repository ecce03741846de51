// The HTTP/2 windows a Splitvisor server and client give their peers, seen from a plain
// node:http2 peer on real loopback: what each advertises in its SETTINGS (the stream
// window) and what it lets the peer send on the connection.
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type ClientHttp2Session, type Http2Session, type ServerHttp2Session } from 'node:http2';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { protos, type IoV1 } from '@splitvisor/proto';
import { createLogger } from '@splitvisor/log';
import { FLOW_CONTROL_WINDOW, RpcClient, RpcServer, unary } from './index.js';

const log = createLogger({ service: 'test', level: 'silent', destination: new PassThrough() });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function pingServer(): Promise<string> {
  const server = new RpcServer({ name: 'splitvisor.io.v1.IoBackend', listen: '127.0.0.1:0', log });
  server.add(protos().io.IoBackend.service, { Ping: unary((req: IoV1.PingRequest__Output) => ({ payload: req.payload })) });
  const port = await server.start();
  cleanups.push(() => server.stop(100));
  return `127.0.0.1:${port}`;
}

/** What `session` may send on its connection before a WINDOW_UPDATE, once it reached `want`
 *  (the peer's update follows its SETTINGS), or what it was after 2 s. */
async function sendWindow(session: Http2Session, want: number): Promise<number | undefined> {
  for (let i = 0; i < 200 && session.state.remoteWindowSize !== want; i++) await sleep(10);
  return session.state.remoteWindowSize;
}

describe('HTTP/2 flow-control windows', () => {
  it('a server advertises a stream window of FLOW_CONTROL_WINDOW and opens its connection window to it', async () => {
    const address = await pingServer();
    const session: ClientHttp2Session = connect(`http://${address}`);
    cleanups.push(() => void session.destroy());
    const settings = await new Promise<{ initialWindowSize?: number }>((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', reject);
    });
    expect(settings.initialWindowSize).toBe(FLOW_CONTROL_WINDOW);
    expect(await sendWindow(session, FLOW_CONTROL_WINDOW)).toBe(FLOW_CONTROL_WINDOW);
  });

  it('a client does the same for the replies it receives', async () => {
    const sessions: ServerHttp2Session[] = [];
    const h2 = createServer();
    h2.on('session', (s) => sessions.push(s));
    h2.on('stream', (stream) => stream.respond({ ':status': 404 }, { endStream: true }));
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => h2.close(() => resolve())));
    const port = (h2.address() as { port: number }).port;
    const c = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, `127.0.0.1:${port}`, { deadlineMs: 2000 });
    cleanups.push(() => c.close());
    await expect(c.call('Ping', { payload: Buffer.alloc(0) })).rejects.toThrow();
    expect(sessions).toHaveLength(1);
    const s = sessions[0]!;
    cleanups.push(() => void s.destroy());
    expect(s.remoteSettings.initialWindowSize).toBe(FLOW_CONTROL_WINDOW);
    expect(await sendWindow(s, FLOW_CONTROL_WINDOW)).toBe(FLOW_CONTROL_WINDOW);
  });

  it('carries a message larger than HTTP/2 default windows both ways, intact', async () => {
    const address = await pingServer();
    const c = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, address, { deadlineMs: 10_000 });
    cleanups.push(() => c.close());
    const payload = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
    const res = await c.call('Ping', { payload });
    expect(Buffer.compare(Buffer.from(res.payload), payload)).toBe(0);
  });
});
