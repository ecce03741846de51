// The lab on a three-node NATS cluster (issue 16, item 7): every stream and bucket kept three
// times, every service given every node. A node killed is a lost host: the running VM goes
// on and its console loses nothing, the control plane is back once JetStream has new
// leaders (the time is printed), a second loss that would break the majority is refused,
// and the node comes back. A secure lab, so the cluster's routes and users are tried too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { jetstreamManager } from '@nats-io/jetstream';
import { protos } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { Bus } from '@splitvisor/bus';
import { silentLogger, startTestLab, REPO_ROOT, type TestLab } from '@splitvisor/testing';
import { ConsoleTap, vmYaml, waitForState, type Dom0 } from './dom0-helpers.js';

let t: TestLab;
let c: Dom0;
let dom0Bus: Bus;
const taps: ConsoleTap[] = [];

beforeAll(async () => {
  t = await startTestLab({ secure: true, natsCluster: 3 });
  c = new RpcClient(protos().dom0.Dom0, t.addresses.dom0, { tls: t.lab.tls('cli')!, server: 'dom0', deadlineMs: 30_000 });
  dom0Bus = await Bus.connect({ url: t.lab.natsUrlFor('dom0'), name: 'test-dom0', log: silentLogger(), connectTimeoutMs: 5000 });
}, 120_000);
afterAll(async () => {
  for (const tap of taps) tap.close();
  await dom0Bus?.drain().catch(() => undefined);
  c?.close();
  await t?.teardown();
});

/** The numbers of ticker's `tick <n>` lines, in the order printed. */
const ticks = (text: string): number[] => [...text.matchAll(/tick (\d+)\r\n/g)].map((m) => Number(m[1]));

/** Creates and starts `hello` until it runs (JetStream may be electing leaders); the time it took. */
async function helloRuns(name: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < timeoutMs) {
    try {
      await c.call('CreateVm', vmYaml(name, '', `${REPO_ROOT}/guests/hello/hello.elf`));
      await c.call('StartVm', { name });
      await waitForState(c, name, ['stopped'], 20_000);
      return Date.now() - t0;
    } catch (e) {
      last = (e as Error).message;
      await c.call('DestroyVm', { name }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  throw new Error(`${name} did not run within ${timeoutMs} ms of the node's loss; last error: ${last}`);
}

/** Until every stream has all three copies up to date (a node back has caught up). */
async function allReplicasCurrent(timeoutMs: number): Promise<void> {
  const jsm = await jetstreamManager(dom0Bus.nc);
  const until = Date.now() + timeoutMs;
  let behind: string[] = [];
  while (Date.now() < until) {
    behind = [];
    try {
      for await (const s of jsm.streams.list()) {
        const followers = s.cluster?.replicas ?? [];
        if (!s.cluster?.leader || followers.length !== 2 || followers.some((r) => !r.current)) behind.push(s.config.name);
      }
      if (behind.length === 0) return;
    } catch (e) {
      behind = [(e as Error).message];
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`streams without three current copies after ${timeoutMs} ms: ${behind.join(', ')}`);
}

describe('NATS as a three-node cluster', () => {
  it('keeps every stream and bucket on three nodes, and no node has a password on its command line', async () => {
    const jsm = await jetstreamManager(dom0Bus.nc);
    const seen: string[] = [];
    for await (const s of jsm.streams.list()) {
      seen.push(s.config.name);
      expect(s.config.num_replicas, s.config.name).toBe(3);
      expect(s.cluster?.replicas?.length, `${s.config.name}'s followers`).toBe(2);
    }
    expect(seen).toEqual(expect.arrayContaining(['CONSOLE', 'LIFECYCLE', 'KV_splitvisor', 'KV_splitvisor-nodes']));
    expect(t.lab.natsNodeNames).toEqual(['nats-1', 'nats-2', 'nats-3']);
    expect(t.natsUrl.split(',')).toHaveLength(3);
    const args = readFileSync(`/proc/${t.lab.natsServer!.pid}/cmdline`, 'utf8').split('\0');
    expect(
      args.filter((a) => a.includes('@')),
      'credentials on the command line',
    ).toEqual([]);
  });

  it('a node lost: the running VM goes on and its console loses nothing; new VMs run again once JetStream has new leaders', async () => {
    await c.call('CreateVm', vmYaml('steady'));
    const tap = new ConsoleTap(c, 'steady');
    taps.push(tap);
    await c.call('StartVm', { name: 'steady' });
    await tap.waitFor(/tick 5\r\n/);

    const { oldPid } = await t.lab.killNatsNode('nats-1');
    expect(oldPid).toBeGreaterThan(0);
    const killedAt = Date.now();
    await expect(t.lab.killNatsNode('nats-2')).rejects.toThrow(/nats-2: killing it would leave JetStream fewer than 2 of 3 nodes/);
    await expect(t.lab.killNatsNode('nats-1')).rejects.toThrow(/nats-1 is down already/);

    const backInMs = await helloRuns('after-loss', 90_000);
    const atKill = ticks(tap.text).at(-1)!;
    await tap.waitFor(new RegExp(`tick ${atKill + 20}\\r\\n`), 30_000);
    console.log(
      `nats-cluster: node killed; a new VM ran ${(backInMs / 1000).toFixed(1)} s later, the running VM printed on; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const n = ticks(tap.text);
    expect(n, 'every tick, once, in order, across the loss').toEqual(Array.from({ length: n.length }, (_, i) => i + 1));
    expect(Date.now() - killedAt).toBeLessThan(150_000);

    // The node comes back on its port and store; then another may go.
    const { pid } = await t.lab.restartNats('restart', 'nats-1');
    expect(pid).toBeGreaterThan(0);
    await allReplicasCurrent(60_000);
    await t.lab.killNatsNode('nats-3');
    await helloRuns('after-second-loss', 90_000);
    const more = ticks(tap.text).at(-1)!;
    await tap.waitFor(new RegExp(`tick ${more + 10}\\r\\n`), 30_000);
    const all = ticks(tap.text);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
  }, 400_000);
});
