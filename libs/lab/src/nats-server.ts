// A real nats-server process with JetStream and its own store directory: the lab's and the
// tests' message bus. No in-memory stand-in exists anywhere (DESIGN.md, "Real parts").
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';
import { followLines } from './child-lines.js';

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly pid: number | undefined;
  /** SIGTERM and wait; removes the store unless it was given by the caller. */
  stop(): Promise<void>;
  /** SIGKILL, for fault tests; the store stays so a restart finds its streams. */
  kill(): Promise<void>;
  /** SIGTERM and wait, the store kept (a restart on the same port and store follows). */
  terminate(): Promise<void>;
}

export interface NatsServerOptions {
  port?: number;
  host?: string;
  /** JetStream store; a fresh temp dir when omitted (and removed on stop). */
  storeDir?: string;
  /** Remove the store on stop even though it was given (a restarted server's, which the
   *  first one made). */
  removeStoreOnStop?: boolean;
  /** Extra nats-server arguments (e.g. a config file with users). */
  args?: string[];
  onLog?: (line: string) => void;
}

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** The nats-server binary, or an error that says how to get one. */
export function findNatsServer(): string {
  const fromEnv = process.env['SPLITVISOR_NATS_SERVER'];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`SPLITVISOR_NATS_SERVER=${fromEnv}: no such file`);
    return fromEnv;
  }
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  const onPath = which.stdout.trim();
  if (which.status === 0 && onPath) return onPath;
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  throw new Error('nats-server not found: install it (Debian/Ubuntu: sudo apt-get install nats-server) or set SPLITVISOR_NATS_SERVER to its path');
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = findNatsServer();
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const ownStore = opts.storeDir === undefined || opts.removeStoreOnStop === true;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'splitvisor-nats-'));
  const args = ['-a', host, '-p', String(port), '-js', '-sd', storeDir, ...(opts.args ?? [])];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitedP = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  const tail = followLines(child, 20, (line) => opts.onLog?.(line));
  try {
    await Promise.race([
      waitForPort(port, host, 10_000, 'nats-server'),
      exitedP.then(() => {
        throw new Error(`nats-server exited (${JSON.stringify(exited)}) before listening on ${port}:\n${tail.join('\n')}`);
      }),
    ]);
  } catch (e) {
    child.kill('SIGKILL');
    if (ownStore) rmSync(storeDir, { recursive: true, force: true });
    throw e;
  }
  const signal = async (sig: NodeJS.Signals) => {
    if (exited) return;
    child.kill(sig);
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exitedP;
    clearTimeout(t);
  };
  return {
    url: `nats://${host}:${port}`,
    port,
    storeDir,
    pid: child.pid,
    async stop() {
      await signal('SIGTERM');
      if (ownStore) rmSync(storeDir, { recursive: true, force: true });
    },
    async kill() {
      await signal('SIGKILL');
    },
    async terminate() {
      await signal('SIGTERM');
    },
  };
}
