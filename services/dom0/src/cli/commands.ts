// The `splitvisor` commands. Each one is a small function over the dom0 API; output is for
// people unless --json is given; errors are one clear line and a non-zero exit.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { protos, type Dom0V1 } from '@splitvisor/proto';
import { RpcClient, RpcError, checkHealth, loadTls, useTls } from '@splitvisor/rpc';
import { Lab, Supervisor, describeExit, type ServiceStatus } from '@splitvisor/lab';
import { checkProcessFault } from '@splitvisor/faults';
import { ControlSocket } from './control.js';
import { attachConsole, type ConsoleEnd } from './console.js';
import { addressIn, endpoints, labDir, readLabState, removeLabState, writeLabState } from './lab-state.js';
import { formatLogLine } from './log-format.js';
import { fmtBytes, fmtDuration, infoPage, listTable, restartsLine, servicesTable } from './views.js';
import { runTop } from './top.js';
import { runEvents } from './events.js';
import { UploadError, uploadConfigFiles, uploadOptionsFromEnv } from './upload.js';
import { progressOn } from './upload-progress.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

type Dom0Client = RpcClient<Dom0V1.Dom0Client>;

function dom0Client(addr: string): Dom0Client {
  return new RpcClient<Dom0V1.Dom0Client>(protos().dom0.Dom0, addr, { deadlineMs: 30_000, server: 'dom0' });
}

function needLab(): { dom0: string } {
  const ep = endpoints();
  if (!ep) throw new CliError('no lab is running: start one with `splitvisor up` (or set SPLITVISOR_DOM0_ADDR)');
  presentCertificate(ep.tlsDir);
  return ep;
}

/** In a secure lab the CLI is "cli": its certificate on every call it makes. A compose
 *  service's health check is the service itself (`health --as mmu`): its container holds
 *  only its own certificate. */
function presentCertificate(tlsDir: string | undefined, identity = 'cli'): void {
  if (!tlsDir) return;
  try {
    useTls(loadTls(tlsDir, identity));
  } catch (e) {
    throw new CliError(`${(e as Error).message} (the lab is secure; SPLITVISOR_TLS_DIR or lab.json says where its certificates are)`);
  }
}

/** Runs `fn` with a client of the running lab's dom0, closed afterwards. */
export async function withDom0<T>(fn: (c: Dom0Client) => Promise<T>): Promise<T> {
  const c = dom0Client(needLab().dom0);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

function say(msg: string): void {
  process.stderr.write(`splitvisor: ${msg}\n`);
}

/** On a terminal, how long a slow call has taken so far (image loading); nothing otherwise. */
async function withProgress<T>(label: string, p: Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return p;
  const t0 = Date.now();
  let shown = false;
  const timer = setInterval(() => {
    shown = true;
    process.stderr.write(`\r\x1b[Ksplitvisor: ${label} ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }, 200);
  try {
    return await p;
  } finally {
    clearInterval(timer);
    if (shown) process.stderr.write('\r\x1b[K');
  }
}

/** Resolves on Ctrl-C, or on q when stdin is a terminal. */
function quitSignal(): Promise<void> {
  return new Promise((resolveQuit) => {
    process.once('SIGINT', () => resolveQuit());
    const stdin = process.stdin;
    if (stdin.isTTY && typeof stdin.setRawMode === 'function') {
      stdin.setRawMode(true);
      stdin.resume();
      stdin.on('data', (b: Buffer) => {
        if (b.includes(0x71) || b.includes(0x03)) {
          stdin.setRawMode(false);
          stdin.pause();
          resolveQuit();
        }
      });
    }
  });
}

export async function up(
  opts: { quiet?: boolean; cpuNodes?: number; natsCluster?: number; insecure?: boolean; anyPorts?: boolean; withParent?: boolean } = {},
): Promise<number> {
  const existing = readLabState();
  if (existing) throw new CliError(`a lab is already running (pid ${existing.pid}, dom0 at ${existing.addresses.dom0}); stop it with \`splitvisor down\``);
  const lab = await Lab.start({
    // The well-known ports when free. Free is checked before the services bind, so two labs
    // started at once can both pick them; --any-ports lets the kernel choose instead.
    preferDefaultPorts: !opts.anyPorts,
    ...(opts.cpuNodes !== undefined && { cpuNodes: opts.cpuNodes }),
    ...(opts.natsCluster !== undefined && { natsCluster: opts.natsCluster }),
    secure: !opts.insecure,
    warn: say,
    onLine: (svc, line) => {
      if (!opts.quiet) process.stdout.write(formatLogLine(svc, line) + '\n');
    },
  });
  // Announced before lab.json exists: whoever sees lab.json can also read where the lab is.
  const extra = lab.cpuAddresses.slice(1).map((a, i) => `cpu-${i + 2} ${a}`);
  say(`lab up: nats ${lab.natsUrl}, ${[...Object.entries(lab.addresses).map(([k, v]) => `${k} ${v}`), ...extra].join(', ')}; Ctrl-C stops it`);
  if (lab.security)
    say(`mutual TLS (lab ${lab.security.labId}): the CLI's certificate in ${lab.security.dir}, each service's in its own directory; NATS users per service`);
  writeLabState({
    pid: process.pid,
    natsUrl: lab.natsUrl,
    addresses: lab.addresses,
    startedAt: Date.now(),
    ...(lab.cpuAddresses.length > 1 && { cpuNodes: lab.cpuAddresses }),
    ...(lab.security && { tlsDir: lab.security.dir }),
  });
  // Supervised: a service that dies is started again (compose's `restart: unless-stopped`),
  // and lab.json says so for `health`, `list` and `top`; only down or Ctrl-C stops the lab.
  const state = { ...readLabState()!, services: [] as ServiceStatus[] };
  const supervisor = new Supervisor(lab, {
    onEvent: (e, services) => {
      if (e.kind === 'exited')
        say(
          `${e.name} exited unexpectedly (${describeExit(e.exit)} after ${fmtDuration(e.exit.upMs / 1000)}); restart ${e.restart} in ${fmtDuration(e.delayMs / 1000)}`,
        );
      else if (e.kind === 'restarted') say(`${e.name} restarted (restart ${e.restart}, pid ${e.pid})`);
      else if (e.kind === 'fault') say(`fault: ${e.message}`);
      else say(`${e.name} restart ${e.restart} failed: ${e.error.split('\n')[0]}`);
      if (!lab.running) return;
      state.services = [...services];
      writeLabState(state);
    },
  });
  supervisor.start();
  state.services = supervisor.status();
  // `splitvisor fault kill|stop|cont|restart` reaches the supervisor here (control.ts).
  const control = await ControlSocket.listen(labDir(), (req) => supervisor.fault(checkProcessFault(req, supervisor.faultTargets())));
  state.control = control.path;
  writeLabState(state);
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = async (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      say(`stopping the lab (${why})`);
      control.close();
      supervisor.stop();
      await lab.stop();
      removeLabState(process.pid);
      say('lab stopped');
      resolveExit(code);
    };
    process.on('SIGINT', () => void stop('SIGINT', 0));
    process.on('SIGTERM', () => void stop('SIGTERM', 0));
    if (opts.withParent) {
      // Orphaned: the process that started this lab died without stopping it (SIGKILL).
      const parent = process.ppid;
      const watch = setInterval(() => {
        if (process.ppid === parent) return;
        clearInterval(watch);
        // Its pipes went with it: what this process says now fails with EPIPE, which must
        // not end it before it has stopped its services.
        for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
        void stop(`its parent, pid ${parent}, is gone`, 1);
      }, 1000);
      watch.unref();
    }
  });
}

export async function down(): Promise<number> {
  const s = readLabState();
  if (!s) {
    say('no lab is running');
    return 0;
  }
  try {
    process.kill(s.pid, 'SIGTERM');
  } catch (e) {
    // It went away between the look and the signal: stopped is what was asked for.
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
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

/** CreateVm after sending dom0 the files the config names that it lacks (upload.ts), so
 *  that a dom0 on another host boots what this host has. */
async function createWithFiles(c: Dom0Client, cfg: Awaited<ReturnType<typeof readConfig>>): Promise<Dom0V1.VmInfo__Output> {
  let sent;
  try {
    sent = await uploadConfigFiles(c, cfg, uploadOptionsFromEnv(progressOn(process.stderr)));
  } catch (e) {
    if (e instanceof UploadError) throw new CliError(e.message);
    throw e;
  }
  try {
    return await withProgress(`creating (loading images)`, c.call('CreateVm', { ...cfg, stored: sent.stored }, { deadlineMs: 120_000 }));
  } catch (e) {
    // A path this host lacks was left for dom0; when dom0 lacks it too, say both.
    const missing = sent.elsewhere.find((p) => e instanceof RpcError && e.message.includes(p));
    if (missing && e instanceof RpcError) throw new RpcError(e.code, `${e.message} (nor on this host, so nothing was sent)`, e.peer);
    throw e;
  }
}

function printInfo(info: Dom0V1.VmInfo__Output, json: boolean, human: string): void {
  process.stdout.write(json ? JSON.stringify(info) + '\n' : human + '\n');
}

export async function create(file: string, json: boolean): Promise<number> {
  const cfg = await readConfig(file);
  return withDom0(async (c) => {
    const info = await createWithFiles(c, cfg);
    printInfo(info, json, `created ${info.name} (${fmtBytes(info.memoryBytes)}) on ${info.node}`);
    return 0;
  });
}

export type LifecycleMethod = 'StartVm' | 'PauseVm' | 'ResumeVm' | 'RebootVm' | 'DestroyVm';

/** One lifecycle call on one VM; prints its new state. */
export async function lifecycle(method: LifecycleMethod, name: string, json: boolean): Promise<number> {
  return withDom0(async (c) => {
    const info = await withProgress(`${method.replace(/Vm$/, '').toLowerCase()} ${name}`, c.call(method, { name }, { deadlineMs: 120_000 }));
    printInfo(info, json, `${info.name}: ${info.state}${info.node && info.state === 'running' ? ` on ${info.node}` : ''}`);
    return 0;
  });
}

export async function shutdown(name: string, json: boolean, timeoutMs: number): Promise<number> {
  return withDom0(async (c) => {
    const info = await withProgress(`shutting down ${name}`, c.call('ShutdownVm', { name, timeoutMs }, { deadlineMs: timeoutMs + 30_000 }));
    printInfo(info, json, `${info.name}: ${info.state}${info.reason ? ` (${info.reason})` : ''}`);
    return 0;
  });
}

export async function list(json: boolean): Promise<number> {
  return withDom0(async (c) => {
    const { vms } = await c.call('ListVms', {});
    // A footer for people only: --json stays the VM array scripts read.
    process.stdout.write(json ? JSON.stringify(vms) + '\n' : listTable(vms) + footer(restartsLine(readLabState()?.services)));
    return 0;
  });
}

export async function info(name: string, json: boolean): Promise<number> {
  return withDom0(async (c) => {
    const v = await c.call('GetVm', { name });
    if (json) process.stdout.write(JSON.stringify({ ...v, config: v.configJson ? (JSON.parse(v.configJson) as unknown) : null }) + '\n');
    else process.stdout.write(infoPage(v));
    return 0;
  });
}

export async function stats(name: string): Promise<number> {
  return withDom0(async (c) => {
    process.stdout.write(JSON.stringify(await c.call('GetStats', { name })) + '\n');
    return 0;
  });
}

export async function top(opts: { names: string[]; once: boolean; json: boolean; intervalMs: number }): Promise<number> {
  return withDom0(async (c) => {
    await runTop(c, { ...opts, out: process.stdout, services: () => readLabState()?.services ?? [], ...(!opts.once && { quit: quitSignal() }) });
    return 0;
  });
}

export async function events(opts: { name: string; fromStart: boolean; follow: boolean; json: boolean }): Promise<number> {
  return withDom0(async (c) => {
    await runEvents(c, { ...opts, out: process.stdout, ...(opts.follow && { quit: new Promise<void>((r) => process.once('SIGINT', () => r())) }) });
    return 0;
  });
}

/** Exit status for a VM's end: the guest's code on poweroff, 1 on failure. */
function exitStatusOf(end: ConsoleEnd): number {
  if (end.state === 'stopped') return end.exitCode === 0 ? 0 : Math.min(Math.max(end.exitCode, 1), 255);
  return 1;
}

function describeEnd(name: string, end: ConsoleEnd): string {
  const why = end.reason ? `: ${end.reason}` : '';
  if (end.kind === 'LIFECYCLE_UNSPECIFIED') return `${name} is ${end.state}${why}`;
  if (end.kind === 'LIFECYCLE_DESTROYED') return `${name} was destroyed`;
  return `${name} ${end.state}${why}`;
}

export async function consoleCmd(name: string): Promise<number> {
  return withDom0(async (c) => {
    const session = attachConsole(c, name, { out: process.stdout, stdin: process.stdin, reconnectMs: 60_000, onStatus: say });
    try {
      const end = await session.done;
      if (end === 'detached') say(`detached from ${name}`);
      else say(describeEnd(name, end));
      return 0;
    } finally {
      session.close();
    }
  });
}

export async function run(file: string): Promise<number> {
  const cfg = await readConfig(file);
  let ep = endpoints();
  let lab: Lab | undefined;
  if (!ep) {
    say("no lab is running: starting one for this VM's lifetime");
    lab = await Lab.start({ onLine: (svc, line) => process.env['SPLITVISOR_VERBOSE'] === '1' && process.stderr.write(formatLogLine(svc, line) + '\n') });
    // Secure like `up`: mutual TLS and NATS users; the CLI presents the lab's cli certificate.
    ep = { dom0: lab.addresses.dom0, ...(lab.security && { tlsDir: lab.security.dir }) };
    say(`lab for this VM: dom0 ${lab.addresses.dom0}, nats ${lab.natsUrl}, mutual TLS and NATS users (lab ${lab.security?.labId})`);
  }
  presentCertificate(ep.tlsDir);
  const c = dom0Client(ep.dom0);
  try {
    const info = await createWithFiles(c, cfg);
    const session = attachConsole(c, info.name, { out: process.stdout, stdin: process.stdin, reconnectMs: lab ? 0 : 60_000, onStatus: say });
    const onSig = () => void c.call('DestroyVm', { name: info.name }).catch(() => undefined);
    process.once('SIGINT', onSig);
    try {
      await c.call('StartVm', { name: info.name });
      const end = await session.done;
      if (end === 'detached') {
        say(`detached; ${info.name} keeps running (splitvisor console ${info.name})`);
        return 0;
      }
      const status = exitStatusOf(end);
      if (end.state === 'failed') say(`${info.name} failed: ${end.reason}`);
      else if (end.kind === 'LIFECYCLE_DESTROYED' || end.state === 'destroyed') say(`${info.name} was destroyed`);
      else if (end.state === 'preserved') say(`${info.name} is preserved: ${end.reason}`);
      else if (status !== 0) say(`${info.name} powered off with failure code ${end.exitCode}`);
      return status;
    } finally {
      session.close();
      process.off('SIGINT', onSig);
    }
  } finally {
    c.close();
    if (lab) await lab.stop();
  }
}

/** Which service of the running lab listens at `addr` (a TLS health check must name it). */
function serviceAt(addr: string): string | undefined {
  const s = readLabState();
  if (!s) return undefined;
  if (s.cpuNodes?.includes(addr)) return 'cpu';
  return Object.entries(s.addresses).find(([, a]) => a === addr)?.[0];
}

const footer = (line: string) => (line ? `\n${line}` : '');

/** `splitvisor health` with no address: every service of the running lab, asked at once,
 *  with what the supervisor counted; exit 0 only when every one is SERVING. */
export async function healthAll(json: boolean): Promise<number> {
  const s = readLabState();
  if (!s) throw new CliError('no lab is running: start one with `splitvisor up` (or give an address: splitvisor health <host:port>)');
  presentCertificate(process.env['SPLITVISOR_TLS_DIR'] || s.tlsDir);
  const rows = await Promise.all(
    (s.services ?? []).map(async (svc) => {
      const address = addressIn(s, svc.name) ?? '?';
      const health = await checkHealth(address, '', 2000, undefined, svc.name.startsWith('cpu-') ? 'cpu' : svc.name).catch((e: unknown) =>
        e instanceof RpcError ? e.code : (e as Error).message,
      );
      return { ...svc, address, health };
    }),
  );
  process.stdout.write(json ? JSON.stringify(rows) + '\n' : servicesTable(rows));
  return rows.length > 0 && rows.every((r) => r.health === 'SERVING') ? 0 : 1;
}

export async function health(addr: string, server?: string, identity?: string): Promise<number> {
  const tlsDir = process.env['SPLITVISOR_TLS_DIR'] || readLabState()?.tlsDir;
  presentCertificate(tlsDir, identity);
  const expect = server ?? serviceAt(addr);
  if (tlsDir && !expect)
    throw new CliError(
      `${addr}: which service is it? In a secure lab say so (--server dom0|cpu|mmu|io-backend): the answer is checked against its certificate`,
      2,
    );
  try {
    const s = await checkHealth(addr, '', 2000, undefined, expect);
    process.stdout.write(`${addr}: ${s}\n`);
    return s === 'SERVING' ? 0 : 1;
  } catch (e) {
    throw new CliError(`${addr}: ${e instanceof RpcError ? `${e.code} ${e.message}` : (e as Error).message}`);
  }
}
