// dom0 can die and come back: the data plane does not need it, and a restarted dom0
// rebuilds its view from KV, catches up on the lifecycle events it missed (JetStream) and
// reconciles with what cpu, mmu and io-backend hold.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { ConsoleInputCodec } from '@splitvisor/proto';
import { subjects } from '@splitvisor/bus';
import { protos, type CpuV1, type IoV1, type MmuV1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { REPO_ROOT, startTestLab, type TestLab } from '@splitvisor/testing';
import { labEnv, runCli, SPLITVISOR } from './cli-runner.js';
import { ConsoleTap, dom0Client, testBus, vmYaml, waitFor, waitForState } from './dom0-helpers.js';

let t: TestLab | undefined;
afterEach(async () => {
  await t?.teardown();
  t = undefined;
});

async function holders(lab: TestLab, name: string): Promise<string[]> {
  const cpu = new RpcClient<CpuV1.CpuClient>(protos().cpu.Cpu, lab.addresses.cpu);
  const mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, lab.addresses.mmu);
  const io = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, lab.addresses['io-backend']);
  try {
    const held = await Promise.all([
      cpu.call('GetVmStats', { vmId: name }).then(
        () => 'cpu',
        () => '',
      ),
      mmu.call('GetVmStats', { vmId: name }).then(
        () => 'mmu',
        () => '',
      ),
      io.call('GetVmStats', { vmId: name }).then(
        () => 'io-backend',
        () => '',
      ),
    ]);
    return held.filter(Boolean);
  } finally {
    for (const x of [cpu, mmu, io]) x.close();
  }
}

/** Types at a VM's console behind dom0's back (dom0 is down), straight onto NATS. */
async function typeAtConsole(lab: TestLab, vm: string, text: string): Promise<void> {
  const bus = await testBus(lab.natsUrl);
  bus.publish(subjects.consoleIn(vm), ConsoleInputCodec, { vmId: vm, data: Buffer.from(text) });
  await bus.drain();
}

describe('kill -9 dom0', () => {
  it('while a VM prints: it keeps running, `list` still shows it, and an attached console goes on without a gap', async () => {
    t = await startTestLab();
    const c = dom0Client(t.addresses.dom0);
    await c.call('CreateVm', vmYaml('tick'));
    await c.call('StartVm', { name: 'tick' });
    // A person at the console, through dom0.
    const con = spawn(process.execPath, [SPLITVISOR, 'console', 'tick'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...labEnv(t) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    con.stdout.on('data', (b: Buffer) => (out += b.toString('latin1')));
    con.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => con.on('exit', (code) => r(code)));
    try {
      const ticks = () => [...out.matchAll(/tick (\d+)\r\n/g)].map((m) => Number(m[1]));
      await waitFor('tick 5 at the console', () => ticks().includes(5) || undefined);

      expect(await t.lab.signalService('dom0', 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      const atKill = ticks().at(-1)!;
      await new Promise((r) => setTimeout(r, 1500));
      await t.lab.startService('dom0');

      const list = await runCli(['list', '--json'], { env: labEnv(t) });
      expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: 'tick', state: 'running', boots: 1 })]);
      // The guest ticked on while dom0 was away (20 ticks a second), and the console shows it all.
      await waitFor('the console to catch up', () => (ticks().at(-1)! > atKill + 30 ? true : undefined));
      con.stdin.write('q');
      expect(await exited).toBe(0);
      const all = ticks();
      expect(all).toEqual(all.map((_, i) => i + 1));
      expect(out).toMatch(/^ticker: boot\r\ntick 1\r\n[^]*\r\nticker: bye\r\n$/);
      expect(err).toMatch(/lost dom0 .*; reconnecting\n/);
      expect(err).toMatch(/reconnected to dom0\n/);
      expect(err).toMatch(/tick stopped: guest wrote 0x5555/);
    } finally {
      con.kill('SIGKILL');
      c.close();
    }
  });

  it('while the guest powers off: the restarted dom0 catches up from JetStream and frees everything', async () => {
    t = await startTestLab();
    const c = dom0Client(t.addresses.dom0);
    await c.call('CreateVm', vmYaml('late'));
    await c.call('StartVm', { name: 'late' });
    const tap = new ConsoleTap(c, 'late');
    await tap.waitFor(/tick 2\r\n/);
    await t.lab.signalService('dom0', 'SIGKILL');
    await typeAtConsole(t, 'late', 'x');
    // The guest powers off with fail code 1 while nobody is there to release it.
    await new Promise((r) => setTimeout(r, 800));
    expect(await holders(t, 'late')).toEqual(['cpu', 'mmu', 'io-backend']);
    await t.lab.startService('dom0');
    const v = await waitForState(c, 'late', ['stopped']);
    expect(v).toMatchObject({ exitCode: 1, reason: expect.stringMatching(/guest wrote 0x13333/) });
    expect(await holders(t, 'late')).toEqual([]);
    c.close();
  });

  it('while the guest resets: on_reboot=restart is applied when dom0 is back', async () => {
    t = await startTestLab();
    const c = dom0Client(t.addresses.dom0);
    await c.call('CreateVm', vmYaml('rb'));
    await c.call('StartVm', { name: 'rb' });
    const tap = new ConsoleTap(c, 'rb');
    await tap.waitFor(/tick 2\r\n/);
    await t.lab.signalService('dom0', 'SIGKILL');
    await typeAtConsole(t, 'rb', 'r');
    await new Promise((r) => setTimeout(r, 800));
    await t.lab.startService('dom0');
    const v = await waitFor('the second boot', async () => {
      const x = await c.call('GetVm', { name: 'rb' });
      return x.boots === 2 && x.state === 'running' ? x : undefined;
    });
    expect(v.reason).toMatch(/restarted: guest wrote 0x7777 .*\(on_reboot=restart\)/);
    const tap2 = new ConsoleTap(c, 'rb');
    await tap2.waitFor(/ticker: reset\r\nticker: boot\r\ntick 1\r\n/);
    tap2.close();
    c.close();
  });

  it('and the cpu too: the VM the cpu no longer runs is marked failed, saying so, and released', async () => {
    t = await startTestLab();
    const c = dom0Client(t.addresses.dom0);
    await c.call('CreateVm', vmYaml('lost'));
    await c.call('StartVm', { name: 'lost' });
    await c.call('CreateVm', vmYaml('kept'));
    await t.lab.signalService('dom0', 'SIGKILL');
    await t.lab.signalService('cpu', 'SIGKILL');
    await t.lab.startService('cpu');
    await t.lab.startService('dom0');
    const v = await waitForState(c, 'lost', ['failed']);
    expect(v.reason).toBe(`cpu node ${t.addresses.cpu} no longer runs it (found when dom0 came back)`);
    expect(await holders(t, 'lost')).toEqual([]);
    // A created VM never needed the cpu: it is as it was, and starts.
    expect((await c.call('GetVm', { name: 'kept' })).state).toBe('created');
    expect((await c.call('StartVm', { name: 'kept' })).state).toBe('running');
    c.close();
  });
});
