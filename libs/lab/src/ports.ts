import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** The first port of the kernel's ephemeral range (ip_local_port_range; 32768 where it
 *  cannot be read). */
export function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32768;
  } catch {
    return 32768;
  }
}

/** Binds `port` (0: the kernel picks) and lets it go: the port, or null when taken. */
function tryPort(host: string, port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolve(null) : reject(e)));
    s.listen(port, host, () => {
      const got = (s.address() as { port: number }).port;
      s.close(() => resolve(got));
    });
  });
}

/**
 * A TCP port that was free a moment ago on `host`, for a service that binds it later. It
 * is drawn at random from the 12,000 ports below the kernel's ephemeral range: a port the
 * kernel picks (listen on 0) comes from that range, where any outgoing connection of this
 * machine (a NATS client, a gRPC channel, docker) may take it before the service binds.
 * `exclude`: ports already handed to services that have not bound them yet (a lab's
 * others), which look free too.
 */
export async function freePort(host = '127.0.0.1', exclude: ReadonlySet<number> = new Set()): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = Math.max(1025, high - 12_000);
  for (let i = 0; i < 64; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (exclude.has(port)) continue;
    const got = await tryPort(host, port);
    if (got !== null) return got;
  }
  for (let i = 0; i < 16; i++) {
    const any = await tryPort(host, 0);
    if (any !== null && !exclude.has(any)) return any;
  }
  throw new Error(`no free TCP port on ${host}`);
}

/** Whether something accepts connections on host:port. */
export function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(true));
    s.listen(port, host, () => s.close(() => resolve(false)));
  });
}

export async function waitForPort(port: number, host: string, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, host, () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`${what} did not accept connections on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
