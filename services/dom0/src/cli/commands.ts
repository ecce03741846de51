// The `splitvisor` commands. Each one is a small function over the dom0 API (and NATS for
// consoles); output is for people unless --json is given; errors are one clear line.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { protos, type Dom0V1 } from '@splitvisor/proto';
import { RpcClient, RpcError, checkHealth } from '@splitvisor/rpc';
import { Bus } from '@splitvisor/bus';
import { Lab, type ServiceName } from '@splitvisor/lab';
import { createLogger } from '@splitvisor/log';
import { PassThrough } from 'node:stream';
import { attachConsole } from './console.js';
import { endpoints, readLabState, removeLabState, writeLabState } from './lab-state.js';
import { formatLogLine } from './log-format.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const quietLog = () => createLogger({ service: 'cli', level: 'silent', destination: new PassThrough() });

function dom0Client(addr: string) {
  return new RpcClient<Dom0V1.Dom0Client>(protos().dom0.Dom0, addr, { deadlineMs: 30_000 });
}

function needLab() {
  const ep = endpoints();
  if (!ep) throw new CliError('no lab is running: start one with `splitvisor up` (or set SPLITVISOR_DOM0_ADDR and SPLITVISOR_NATS_URL)');
  return ep;
}

function say(msg: string): void {
  process.stderr.write(`splitvisor: ${msg}\n`);
}

export async function up(opts: { quiet?: boolean } = {}): Promise<number> {
  const existing = readLabState();
  if (existing) throw new CliError(`a lab is already running (pid ${existing.pid}, dom0 at ${existing.addresses.dom0}); stop it with \`splitvisor down\``);
  const lab = await Lab.start({
    preferDefaultPorts: true,
    onLine: (svc, line) => {
      if (!opts.quiet) process.stdout.write(formatLogLine(svc, line) + '\n');
    },
  });
  writeLabState({ pid: process.pid, natsUrl: lab.natsUrl, addresses: lab.addresses, startedAt: Date.now() });
  say(`lab up: nats ${lab.natsUrl}, ${Object.entries(lab.addresses).map(([k, v]) => `${k} ${v}`).join(', ')}; Ctrl-C stops it`);
  const unexpected = [...lab.services.values()].map((p) =>
    p.exited.then((x) => ({ name: p.name as ServiceName, ...x })),
  );
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = async (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      say(`stopping the lab (${why})`);
      await lab.stop();
      removeLabState(process.pid);
      say('lab stopped');
      resolveExit(code);
    };
    process.on('SIGINT', () => void stop('SIGINT', 0));
    process.on('SIGTERM', () => void stop('SIGTERM', 0));
    void Promise.race(unexpected).then((x) => {
      if (!stopping) void stop(`${x.name} exited unexpectedly (code ${x.code}, signal ${x.signal})`, 1);
    });
  });
}

export async function down(): Promise<number> {
  const s = readLabState();
  if (!s) {
    say('no lab is running');
    return 0;
  }
  process.kill(s.pid, 'SIGTERM');
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      process.kill(s.pid, 0);
    } catch {
      say(`lab (pid ${s.pid}) stopped`);
      return 0;
    }
    if (Date.now() > end) throw new CliError(`lab (pid ${s.pid}) did not stop within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function readConfig(file: string) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return { configYaml: text, baseDir: dirname(resolve(file)), source: file };
}

function fmtBytes(n: number): string {
  return n >= 1 << 30 ? `${n / (1 << 30)} GiB` : `${n / (1 << 20)} MiB`;
}

export async function create(file: string, json: boolean): Promise<number> {
  const { dom0 } = needLab();
  const c = dom0Client(dom0);
  try {
    const info = await c.call('CreateVm', await readConfig(file));
    process.stdout.write(json ? JSON.stringify(info) + '\n' : `created ${info.name} (${fmtBytes(info.memoryBytes)})\n`);
    return 0;
  } finally {
    c.close();
  }
}

export async function simple(method: 'StartVm' | 'DestroyVm', name: string, json: boolean): Promise<number> {
  const { dom0 } = needLab();
  const c = dom0Client(dom0);
  try {
    const info = await c.call(method, { name });
    process.stdout.write(json ? JSON.stringify(info) + '\n' : `${info.name}: ${info.state}\n`);
    return 0;
  } finally {
    c.close();
  }
}

export async function list(json: boolean): Promise<number> {
  const { dom0 } = needLab();
  const c = dom0Client(dom0);
  try {
    const { vms } = await c.call('ListVms', {});
    if (json) {
      process.stdout.write(JSON.stringify(vms) + '\n');
      return 0;
    }
    const rows = [['NAME', 'STATE', 'MEMORY', 'UPTIME', 'EXIT', 'REASON']];
    for (const v of vms) {
      const up = v.startedAt ? ((v.stoppedAt || Date.now()) - v.startedAt) / 1000 : 0;
      rows.push([v.name, v.state, fmtBytes(v.memoryBytes), v.startedAt ? `${up.toFixed(1)}s` : '-', v.stoppedAt ? String(v.exitCode) : '-', v.reason]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) process.stdout.write(r.map((c2, i) => (i === r.length - 1 ? c2 : c2.padEnd(widths[i]!))).join('  ').trimEnd() + '\n');
    return 0;
  } finally {
    c.close();
  }
}

/** Exit status for a VM's end: the guest's code on poweroff, 1 on failure. */
function exitStatusOf(ev: { kind: string; exitCode: number; reason: string }): number {
  if (ev.kind === 'LIFECYCLE_STOPPED') return ev.exitCode === 0 ? 0 : Math.min(Math.max(ev.exitCode, 1), 255);
  return 1;
}

export async function consoleCmd(name: string): Promise<number> {
  const { dom0, natsUrl } = needLab();
  const c = dom0Client(dom0);
  const info = await c.call('GetVm', { name }).finally(() => c.close());
  const bus = await Bus.connect({ url: natsUrl, name: 'splitvisor-cli', log: quietLog() });
  try {
    const session = await attachConsole(bus, name, { input: true, out: process.stdout, stdin: process.stdin });
    if (info.state !== 'running' && info.state !== 'created') {
      await new Promise((r) => setTimeout(r, 300));
      session.close();
      say(`${name} is ${info.state}${info.reason ? `: ${info.reason}` : ''}`);
      return 0;
    }
    const end = await session.done;
    session.close();
    if (end === 'detached') {
      say(`detached from ${name}`);
      return 0;
    }
    say(`${name} ${end.kind === 'LIFECYCLE_STOPPED' ? 'stopped' : end.kind === 'LIFECYCLE_FAILED' ? 'failed' : 'was destroyed'}${end.reason ? `: ${end.reason}` : ''}`);
    return 0;
  } finally {
    await bus.drain();
  }
}

export async function run(file: string): Promise<number> {
  const cfg = await readConfig(file);
  let ep = endpoints();
  let lab: Lab | undefined;
  if (!ep) {
    say("no lab is running: starting one for this VM's lifetime");
    lab = await Lab.start({ onLine: (svc, line) => process.env['SPLITVISOR_VERBOSE'] === '1' && process.stderr.write(formatLogLine(svc, line) + '\n') });
    ep = { dom0: lab.addresses.dom0, natsUrl: lab.natsUrl };
  }
  const c = dom0Client(ep.dom0);
  const bus = await Bus.connect({ url: ep.natsUrl, name: 'splitvisor-cli', log: quietLog() });
  try {
    const info = await c.call('CreateVm', cfg);
    const session = await attachConsole(bus, info.name, { input: true, out: process.stdout, stdin: process.stdin });
    const onSig = () => void c.call('DestroyVm', { name: info.name }).catch(() => undefined);
    process.once('SIGINT', onSig);
    try {
      await c.call('StartVm', { name: info.name });
    } catch (e) {
      session.close();
      throw e;
    }
    const end = await session.done;
    session.close();
    process.off('SIGINT', onSig);
    if (end === 'detached') {
      say(`detached; ${info.name} keeps running (splitvisor console ${info.name})`);
      return 0;
    }
    const status = exitStatusOf(end);
    if (end.kind === 'LIFECYCLE_FAILED') say(`${info.name} failed: ${end.reason}`);
    else if (end.kind === 'LIFECYCLE_DESTROYED') say(`${info.name} was destroyed`);
    else if (status !== 0) say(`${info.name} powered off with failure code ${end.exitCode}`);
    return status;
  } finally {
    c.close();
    await bus.drain().catch(() => undefined);
    if (lab) await lab.stop();
  }
}

export async function health(addr: string): Promise<number> {
  try {
    const s = await checkHealth(addr);
    process.stdout.write(`${addr}: ${s}\n`);
    return s === 'SERVING' ? 0 : 1;
  } catch (e) {
    throw new CliError(`${addr}: ${e instanceof RpcError ? `${e.code} ${e.message}` : (e as Error).message}`);
  }
}
