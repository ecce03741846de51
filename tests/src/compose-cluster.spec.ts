// The compose lab with NATS as a three-node cluster (deploy/compose.cluster.yaml over
// compose.yaml, issue 16): `SPLITVISOR_COMPOSE_CLUSTER=1 npm run lab:compose` brings up
// three NATS containers routed to one another and the four services on all three, with three
// copies of every stream and bucket. Then the container of the JetStream meta leader is
// killed (`docker kill`: the engine leaves it down) under a running ticker: the ticker's
// console loses nothing, a new VM boots from the host CLI, and the node, started again,
// catches up. Times printed with the load average beside them.
//
// Needs an engine that answers (npm test starts one); else fails naming it, unless
// SPLITVISOR_ALLOW_NO_DOCKER=1.
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from './cli-runner.js';
import { ComposeProject, docker, engineAnswers, inspect, load, needEngine } from './compose-project.js';
import { ConsoleProcess } from './console-process.js';
import { waitFor } from './dom0-helpers.js';
import { HELLO_BANNER, TICKER_BOOT } from './guest-expectations.js';

const lab = new ComposeProject(['deploy/compose.cluster.yaml'], { SPLITVISOR_COMPOSE_CLUSTER: '1' });
let ticker: ConsoleProcess | undefined;

afterAll(() => {
  ticker?.child.kill('SIGKILL');
  if (!engineAnswers) return;
  const { out, ...left } = lab.down();
  expect(left, out).toEqual({ down: 0, containers: '', volumes: '' });
}, 240_000);

interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number; replicas?: { name: string; current: boolean }[] };
  account_details?: { stream_detail?: { name: string; config: { num_replicas: number }; cluster?: { leader?: string } }[] }[];
}

/** JetStream as a node's monitoring port says it (node 1's is published on the host). */
async function jsz(): Promise<Jsz> {
  const r = await fetch(`http://127.0.0.1:${lab.env['SPLITVISOR_NATS_MONITOR_PORT']}/jsz?streams=true&config=true`);
  return (await r.json()) as Jsz;
}

/** A node's monitoring answer from inside its own container (their ports are not published). */
function healthzIn(container: string): string {
  return docker(['exec', container, 'wget', '-qO-', 'http://localhost:8222/healthz']).stdout.trim();
}

const ticks = (text: string) => [...text.matchAll(/tick (\d+)\r?\n/g)].map((m) => Number(m[1]));

describe('the compose lab with a three-node NATS cluster (deploy/compose.cluster.yaml)', () => {
  it('comes up with three copies of everything; the meta leader killed: nothing lost, a new VM boots, the node catches up', async ({ skip }) => {
    needEngine(skip);
    const { code, lines } = await lab.up();
    const text = lines.map((l) => l.text).join('\n');
    expect(code, text).toBe(0);
    expect(text).toContain(HELLO_BANNER.trimEnd());
    const healthy = /NATS \(3 node\(s\)\) and the four services healthy in ([\d.]+) s \(load ([\d. ]+)\)/.exec(text);
    expect(healthy, text).not.toBeNull();

    // Three nodes, and every stream the services made (console, lifecycle, the KV buckets)
    // kept three times.
    const before = await jsz();
    expect(before.meta_cluster?.cluster_size).toBe(3);
    const streams = (before.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
    expect(streams.map((s) => s.name)).toEqual(expect.arrayContaining(['CONSOLE', 'LIFECYCLE', 'KV_splitvisor', 'KV_splitvisor-nodes']));
    for (const s of streams) expect(s.config.num_replicas, `${s.name}'s replicas`).toBe(3);

    const cli = (args: string[], timeoutMs = 60_000) => runCli(args, { env: lab.cliEnv(), timeoutMs });
    for (const args of [
      ['create', 'examples/ticker.yaml'],
      ['start', 'ticker'],
    ]) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    ticker = new ConsoleProcess(spawnCli(['console', 'ticker'], { env: lab.cliEnv() }));
    await ticker.waitFor(new RegExp(TICKER_BOOT.trimEnd()), 30_000);
    await waitFor('five ticks', () => ticks(ticker!.out).length >= 5 || undefined, 30_000);

    // The meta leader: its loss makes JetStream elect anew, besides the streams it led.
    const leader = before.meta_cluster?.leader ?? '';
    const service = leader === 'nats-1' ? 'nats' : leader;
    expect(['nats', 'nats-2', 'nats-3'], `meta leader ${leader}`).toContain(service);
    const id = lab.container(service);
    const killedAt = Date.now();
    expect(docker(['kill', id]).status).toBe(0);
    const tickAtKill = ticks(ticker.out).at(-1) ?? 0;

    // A new VM, through dom0 (its KV on the cluster), as soon as JetStream serves again.
    let hello = '';
    await waitFor(
      () => `hello after the loss of ${leader} (last try: ${hello})`,
      async () => {
        const r = await cli(['run', 'examples/hello.yaml'], 45_000);
        hello = `${r.code} ${r.stdout.slice(-200)} ${r.stderr.slice(-300)}`;
        if (r.code === 0 && r.stdout.includes(HELLO_BANNER.trimEnd())) return true;
        await cli(['destroy', 'hello']);
        return undefined;
      },
      150_000,
    );
    const helloAfter = ((Date.now() - killedAt) / 1000).toFixed(1);
    await waitFor(
      () => `twenty ticks after the loss (last ${ticks(ticker!.out).at(-1)})`,
      () => (ticks(ticker!.out).at(-1) ?? 0) >= tickAtKill + 20 || undefined,
      60_000,
    );
    const n = ticks(ticker.out);
    expect(n, 'every tick, once, in order, across the loss').toEqual(Array.from({ length: n.length }, (_, i) => i + 1));
    const list = await cli(['list']);
    expect(list.stdout).toMatch(/\nticker +running /);
    expect(inspect(id, '{{.State.Status}}'), 'docker kill leaves the node down').toBe('exited');

    // Back: the node rejoins and catches up (its healthz says ok once JetStream is current).
    const startedAt = Date.now();
    expect(docker(['start', id]).status).toBe(0);
    await waitFor(
      () => `${leader} healthy again (${healthzIn(id)})`,
      () => /"ok"/.test(healthzIn(id)) || undefined,
      120_000,
    );
    const rejoin = ((Date.now() - startedAt) / 1000).toFixed(1);
    const after = await jsz();
    expect(after.meta_cluster?.cluster_size).toBe(3);
    process.stdout.write(
      `compose-cluster: up to healthy ${healthy![1]} s (load ${healthy![2]}); meta leader ${leader} killed: hello ran ${helloAfter} s later, ` +
        `ticker went on (${n.length} ticks, none lost); ${leader} started again, current in ${rejoin} s (load ${load()})\n`,
    );
    await cli(['destroy', 'ticker']);
  }, 900_000);
});
