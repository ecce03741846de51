// cpu nodes found, not listed (issue 16, item 5): dom0 is given no cpu address; each cpu node
// puts itself in the node registry (NATS KV, libs/bus node-registry.ts) once it serves and
// renews its entry every heartbeat. A node started after dom0 is found and runs VMs; with two,
// VMs go to both; a node that stops renewing (frozen, or killed) expires and is down as a node
// whose health stream ended is; a malformed entry is ignored with an error naming it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_HEARTBEAT_MS, NODE_REGISTRY_BUCKET, NODE_TTL_MS, encodeNodeEntry, type Bus, type KV } from '@splitvisor/bus';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, NODE_REGISTRY, startNatsServer, type NatsServerHandle } from '@splitvisor/lab';
import { protos, type CpuV1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { startTestLab, type TestLab } from '@splitvisor/testing';
import { ConsoleTap, dom0Client, rpcError, testBus, vmYaml, waitFor, waitForState, type Dom0 } from './dom0-helpers.js';

let t: TestLab;
let c: Dom0;
let bus: Bus;
let kv: KV;

interface LogLine {
  service: string;
  at: number;
  msg: string;
  o: Record<string, unknown>;
}

/** The services' JSON log lines so far. */
function logLines(): LogLine[] {
  return t.lines.flatMap(({ service, line }) => {
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      return [{ service, at: typeof o['time'] === 'string' ? Date.parse(o['time']) : Number(o['time']), msg: String(o['msg']), o }];
    } catch {
      return [];
    }
  });
}

function waitForLine(what: string, pred: (l: LogLine) => boolean, since = 0, timeoutMs = 20_000): Promise<LogLine> {
  return waitFor(what, () => logLines().find((l) => l.at >= since && pred(l)), timeoutMs);
}

const found = (addr: string) => (l: LogLine) => l.service === 'dom0' && l.msg === 'cpu node found in the node registry' && l.o['node'] === addr;
const gone = (addr: string) => (l: LogLine) => l.service === 'dom0' && l.msg === 'cpu node gone from the node registry' && l.o['node'] === addr;

function cpuAt(addr: string) {
  return new RpcClient<CpuV1.CpuClient>(protos().cpu.Cpu, addr);
}

/** Which of `addrs` runs the VM, by asking each node. */
async function runningOn(name: string, addrs: readonly string[]): Promise<string[]> {
  const on = await Promise.all(
    addrs.map(async (a) => {
      const cpu = cpuAt(a);
      try {
        await cpu.call('GetVmStats', { vmId: name }, { deadlineMs: 1000 });
        return a;
      } catch {
        return '';
      } finally {
        cpu.close();
      }
    }),
  );
  return on.filter(Boolean);
}

beforeAll(async () => {
  // Two cpu nodes' addresses, none started: the lab starts mmu, io-backend and dom0 only.
  t = await startTestLab({ cpuNodes: 2, only: ['mmu', 'io-backend', 'dom0'] });
  c = dom0Client(t.addresses.dom0);
  bus = await testBus(t.natsUrl);
  kv = await bus.nodeRegistry();
});
afterAll(async () => {
  c?.close();
  await bus?.drain().catch(() => undefined);
  await t?.teardown();
});

describe('cpu nodes found through NATS', () => {
  it('the launcher and libs/bus make the same registry bucket', () => {
    expect(NODE_REGISTRY).toEqual({ bucket: NODE_REGISTRY_BUCKET, ttlMs: NODE_TTL_MS });
    expect(NODE_HEARTBEAT_MS * 3).toBeLessThanOrEqual(NODE_TTL_MS);
  });

  it('dom0 is given no cpu address: with no node yet, a VM has nowhere to go', async () => {
    expect(t.lab.envFor('dom0')['SPLITVISOR_CPU_ADDR']).toBeUndefined();
    expect([...t.lab.services.keys()]).toEqual(['mmu', 'io-backend', 'dom0']);
    const e = await rpcError(c.call('CreateVm', vmYaml('nowhere')));
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toMatch(/no cpu node can take the vm \(nodes: none\)/);
  });

  it('a cpu node started after dom0 is found, and a VM runs on it', async () => {
    const addr = t.lab.addressOf('cpu');
    const t0 = Date.now();
    await t.lab.startService('cpu');
    const serving = Date.now();
    const registered = await waitForLine('cpu registered', (l) => l.service === 'cpu' && l.msg === 'registered in the node registry', t0);
    expect(registered.o['addr']).toBe(addr);
    const seen = await waitForLine(`dom0 finds ${addr}`, found(addr), t0);
    console.log(
      `discovery: cpu spawned -> serving ${serving - t0} ms; registered -> dom0 found it ${seen.at - registered.at} ms; spawn -> found ${seen.at - t0} ms`,
    );
    const v = await c.call('CreateVm', vmYaml('d0'));
    expect(v.node).toBe(addr);
    expect((await c.call('StartVm', { name: 'd0' })).node).toBe(addr);
    const tap = new ConsoleTap(c, 'd0');
    await tap.waitFor(/tick 2\r\n/);
    tap.close();
    expect(await runningOn('d0', [addr])).toEqual([addr]);
  });

  it('with a second node, new VMs are placed on both, least loaded first', async () => {
    const [a, b] = [t.lab.addressOf('cpu'), t.lab.addressOf('cpu-2')];
    const t0 = Date.now();
    await t.lab.startService('cpu-2');
    await waitForLine(`dom0 finds ${b}`, found(b), t0);
    // d0 is on a: the next goes to b, then a tie goes to the node found first.
    const created = [];
    for (const n of ['d1', 'd2', 'd3']) created.push(await c.call('CreateVm', vmYaml(n)));
    expect(created.map((v) => v.node)).toEqual([b, a, b]);
    await Promise.all(created.map((v) => c.call('StartVm', { name: v.name })));
    for (const v of created) expect(await runningOn(v.name, [a, b])).toEqual([v.node]);
    const nodes = (await c.call('ListVms', {})).vms.map((v) => v.node);
    expect(nodes.filter((n) => n === a)).toHaveLength(2);
    expect(nodes.filter((n) => n === b)).toHaveLength(2);
  });

  it('a node that stops renewing its entry (frozen) expires, and its VMs end as on a node that is down', async () => {
    const b = t.lab.addressOf('cpu-2');
    const onB = (await c.call('ListVms', {})).vms.filter((v) => v.node === b).map((v) => v.name);
    expect(onB.length).toBeGreaterThan(0);
    const proc = t.lab.services.get('cpu-2')!;
    const key = await keyFor(b);
    // SIGSTOP: the process keeps its sockets (its health stream stays open), but puts nothing.
    const t0 = Date.now();
    proc.child.kill('SIGSTOP');
    try {
      const g = await waitForLine(`${b} expires`, gone(b), t0, NODE_TTL_MS + 10_000);
      expect(String(g.o['why'])).toMatch(/^its registry entry expired \(no heartbeat for \d+ ms\)$/);
      console.log(`expiry: node frozen -> dom0 marks it gone ${g.at - t0} ms (TTL ${NODE_TTL_MS} ms, heartbeat ${NODE_HEARTBEAT_MS} ms)`);
      for (const n of onB) {
        // As for any node that does not answer: 1 s settling, 3 s for its stats, 12 s for its
        // StopVm (a frozen process holds the call open) before the VM is failed.
        const v = await waitForState(c, n, ['failed'], 30_000);
        expect(v.reason).toMatch(new RegExp(`cpu node ${b.replace(/\./g, '\\.')} died \\(its registry entry expired .*\\) and does not answer`));
      }
      // The bucket's TTL dropped the entry too; new VMs go to the live node only.
      await waitFor(`${key} aged out of the bucket`, async () => ((await kv.get(key)) === null ? true : undefined), 10_000);
      const v = await c.call('CreateVm', vmYaml('d4'));
      expect(v.node).toBe(t.lab.addressOf('cpu'));
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  }, 90_000);

  it('a killed node is down at once (its health stream), then its entry expires from the bucket', async () => {
    const b = t.lab.addressOf('cpu-2');
    for (const n of ['d1', 'd3']) await c.call('DestroyVm', { name: n });
    const t0 = Date.now();
    await t.lab.startService('cpu-2');
    await waitForLine(`dom0 finds ${b} again`, found(b), t0);
    await c.call('CreateVm', vmYaml('k0'));
    const started = await c.call('StartVm', { name: 'k0' });
    expect(started.node).toBe(b);
    const key = await keyFor(b);
    const killedAt = Date.now();
    await t.lab.signalService('cpu-2', 'SIGKILL');
    const v = await waitForState(c, 'k0', ['failed']);
    expect(v.reason).toMatch(/its health stream ended/);
    const g = await waitForLine(`${b} expires`, gone(b), killedAt, NODE_TTL_MS + 10_000);
    expect(String(g.o['why'])).toMatch(/its registry entry expired/);
    await waitFor(`${key} aged out of the bucket`, async () => ((await kv.get(key)) === null ? true : undefined), NODE_TTL_MS + 5000);
    console.log(`killed node: entry gone from dom0's table ${g.at - killedAt} ms, from the bucket ${Date.now() - killedAt} ms after kill -9`);
  });

  it('a malformed entry is ignored with an error naming it; dom0 serves on', async () => {
    const t0 = Date.now();
    await kv.put('cpu.bogus', 'this is not json');
    await kv.put('cpu.garbage', encodeNodeEntry({ id: 'garbage', addr: 'no port here', startedAt: 1 }));
    await kv.put('cpu.wild', encodeNodeEntry({ id: 'wild', addr: '0.0.0.0:50052', startedAt: 1 }));
    for (const [key, why] of [
      ['cpu.bogus', /value is not JSON/],
      ['cpu.garbage', /addr "no port here" is not host:port/],
      ['cpu.wild', /wildcard/],
    ] as const) {
      const l = await waitForLine(`an error naming ${key}`, (x) => x.service === 'dom0' && x.o['entry'] === key, t0);
      expect(l.o['level']).toBe(50);
      expect(l.msg).toContain(key);
      expect(String(l.o['err'])).toMatch(why);
    }
    expect(t.lab.services.get('dom0')!.child.exitCode).toBeNull();
    const v = await c.call('CreateVm', vmYaml('after-bad'));
    expect(v.node).toBe(t.lab.addressOf('cpu'));
    expect(logLines().filter((l) => l.service === 'dom0' && l.msg === 'cpu node found in the node registry' && l.at >= t0)).toEqual([]);
  });
});

async function keysOf(): Promise<string[]> {
  const out: string[] = [];
  for await (const k of await kv.keys('cpu.*')) out.push(k);
  return out;
}

/** The registry key whose entry names `addr`. */
async function keyFor(addr: string): Promise<string> {
  for (const k of await keysOf()) {
    const e = await kv.get(k);
    if (e?.operation === 'PUT' && e.string().includes(`"addr":"${addr}"`)) return k;
  }
  throw new Error(`no registry entry names ${addr}`);
}

describe('the node registry across a NATS restart', () => {
  it('nothing expires while NATS is away; afterwards nodes renew, and leaving and coming back are still seen', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'sv-nats-store-'));
    let nats: NatsServerHandle = await startNatsServer({ storeDir });
    const lines: { service: string; line: string }[] = [];
    const lab = await Lab.start({ natsUrl: nats.url, secure: false, warn: () => undefined, onLine: (service, line) => lines.push({ service, line }) });
    const d = dom0Client(lab.addresses.dom0);
    const parsed = () =>
      lines.flatMap(({ service, line }) => {
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          return [{ service, at: Date.parse(String(o['time'])), msg: String(o['msg']), o }];
        } catch {
          return [];
        }
      });
    const seen = (what: string, pred: (l: LogLine) => boolean, since: number, timeoutMs = 20_000) =>
      waitFor(what, () => parsed().find((l) => l.at >= since && pred(l)), timeoutMs);
    try {
      const addr = lab.addressOf('cpu');
      await seen('dom0 finds the cpu', found(addr), 0);
      // Down for longer than the TTL: no heartbeat can arrive, and none is expected.
      await nats.kill();
      const downAt = Date.now();
      await new Promise((r) => setTimeout(r, NODE_TTL_MS + 2000));
      nats = await startNatsServer({ storeDir, port: nats.port });
      const upAt = Date.now();
      await seen('the cpu renews its entry', (l) => l.service === 'cpu' && l.msg === 'registered in the node registry again', upAt, 15_000);
      await new Promise((r) => setTimeout(r, NODE_TTL_MS + 1000));
      expect(parsed().filter((l) => l.at >= downAt && gone(addr)(l))).toEqual([]);
      const v = await d.call('CreateVm', vmYaml('after-nats'));
      expect(v.node).toBe(addr);
      expect((await d.call('StartVm', { name: 'after-nats' })).node).toBe(addr);
      await d.call('DestroyVm', { name: 'after-nats' });
      // The watch was opened again: a clean stop and a start are seen as they happen.
      const stopAt = Date.now();
      await lab.signalService('cpu', 'SIGTERM');
      const left = await seen('dom0 sees the cpu leave', gone(addr), stopAt, 5000);
      expect(left.o['why']).toBe('it left the node registry');
      const startAt = Date.now();
      await lab.startService('cpu');
      await seen('dom0 finds the cpu again', found(addr), startAt, 5000);
    } finally {
      d.close();
      await lab.stop();
      await nats.stop();
      rmSync(storeDir, { recursive: true, force: true });
    }
  }, 90_000);
});
