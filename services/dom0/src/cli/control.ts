// The channel from `splitvisor fault kill|stop|cont|restart` to the supervisor of the
// running `splitvisor up`, which alone holds the services' pids: a unix socket in the lab's
// directory, 0600 (only the lab's user may freeze its processes; the socket is made in a
// 0700 directory and moved into place, so it is never reachable with looser rights). One
// JSON request per connection, one JSON answer: { ok, message } or { ok: false, error }.
import { chmodSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';

export interface ControlAnswer {
  ok: boolean;
  message?: string;
  error?: string;
}

/** The most a request may be: a process fault is a few words. */
const MAX_REQUEST = 4096;

export class ControlSocket {
  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  /** Listens at `<dir>/control.sock` and hands each request to `handle`; what it throws is
   *  the answer's error. */
  static async listen(dir: string, handle: (req: unknown) => Promise<string>): Promise<ControlSocket> {
    const path = join(dir, 'control.sock');
    const private0700 = mkdtempSync(join(dir, '.control-'));
    const tmp = join(private0700, 's');
    const server = createServer((sock) => {
      let buf = '';
      let done = false;
      const answer = (a: ControlAnswer) => sock.end(JSON.stringify(a) + '\n');
      sock.setEncoding('utf8');
      sock.on('error', () => undefined);
      sock.on('data', (chunk: string) => {
        if (done) return;
        buf += chunk;
        if (buf.length > MAX_REQUEST) return void ((done = true), answer({ ok: false, error: `request: longer than ${MAX_REQUEST} bytes` }));
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        done = true;
        let req: unknown;
        try {
          req = JSON.parse(buf.slice(0, nl));
        } catch {
          return answer({ ok: false, error: 'request: not JSON' });
        }
        // A refusal thrown before the first await is an answer too, never the lab's end.
        Promise.resolve()
          .then(() => handle(req))
          .then(
            (message) => answer({ ok: true, message }),
            (e: unknown) => answer({ ok: false, error: e instanceof Error ? e.message : String(e) }),
          );
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(tmp, () => resolve());
      });
      chmodSync(tmp, 0o600);
      rmSync(path, { force: true });
      renameSync(tmp, path);
    } finally {
      rmSync(private0700, { recursive: true, force: true });
    }
    return new ControlSocket(path, server);
  }

  close(): void {
    this.server.close();
    rmSync(this.path, { force: true });
  }
}

/** Sends one request to the supervisor's socket and returns its answer. */
export function askControl(path: string, req: object, timeoutMs = 60_000): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the lab's supervisor (${path}) did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (c: string) => (buf += c));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach the lab's supervisor at ${path}: ${e.code ?? e.message}`));
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as ControlAnswer);
      } catch {
        reject(new Error(`the lab's supervisor (${path}) answered something that is not JSON`));
      }
    });
  });
}
