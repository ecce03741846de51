// Forged lifecycle events (issue 11, item 8), tried through the attacker's path: a secure
// lab, and io-backend's own NATS identity (what a compromised io-backend holds) publishing
// POWEROFF, RESET and vCPU exits for a VM it does not like. Each lifecycle subject names the
// VM and the reporting service, NATS lets each service publish only on its own, dom0 takes
// both from the subject, and only the cpu's own exit report ends or restarts a VM. The
// honest paths (a guest's poweroff, reset and crash) are run beside it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifecycleEventCodec, protos, type EventsV1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { Bus, subjects, LIFECYCLE_SOURCES, type LifecycleSource } from '@splitvisor/bus';
import { silentLogger, startTestLab, type TestLab } from '@splitvisor/testing';
import { ConsoleTap, kinds, storedEvents, vmYaml, waitFor, waitForState, type Dom0 } from './dom0-helpers.js';

let t: TestLab;
let c: Dom0;
const buses: Bus[] = [];

/** A NATS connection as one of the lab's users. */
async function busAs(user: string): Promise<Bus> {
  const bus = await Bus.connect({ url: t.lab.natsUrlFor(user), name: `test-${user}`, log: silentLogger(), connectTimeoutMs: 3000 });
  buses.push(bus);
  return bus;
}

/** NATS refuses a publish as a permissions violation (a request surfaces it). */
async function refusedOnNats(bus: Bus, subject: string): Promise<string> {
  try {
    await bus.nc.request(subject, new Uint8Array([1]), { timeout: 1500 });
  } catch (e) {
    return (e as Error).message;
  }
  return 'not refused';
}

function forged(vmId: string, kind: EventsV1.LifecycleKind, source: string, reason: string): EventsV1.LifecycleEvent {
  return { vmId, kind, source, reason, exitCode: 0, at: Date.now() };
}

/** The messages dom0 logged so far (its log lines are JSON). */
const dom0Said = () => t.lines.filter((l) => l.service === 'dom0' && l.line.startsWith('{')).map((l) => (JSON.parse(l.line) as { msg: string }).msg);

beforeAll(async () => {
  t = await startTestLab({ secure: true });
  c = new RpcClient(protos().dom0.Dom0, t.addresses.dom0, { tls: t.lab.tls('cli')!, server: 'dom0', deadlineMs: 30_000 });
});
afterAll(async () => {
  for (const b of buses) await b.drain().catch(() => undefined);
  c?.close();
  await t?.teardown();
});

describe('forged lifecycle events', () => {
  it('each service may report lifecycle events only on its own subject', async () => {
    const allowed: Record<string, LifecycleSource | undefined> = { cpu: 'cpu', 'io-backend': 'io-backend', mmu: undefined };
    for (const [user, own] of Object.entries(allowed)) {
      const bus = await busAs(user);
      for (const source of LIFECYCLE_SOURCES) {
        const subject = subjects.lifecycle('natsvm', source);
        if (source === own) await bus.publishDurable(subject, LifecycleEventCodec, forged('natsvm', 'LIFECYCLE_UNSPECIFIED', source, 'allowed'));
        else expect(await refusedOnNats(bus, subject), `${user} on ${subject}`).toMatch(/Permissions Violation for Publish/);
      }
    }
  });

  it("io-backend's identity cannot stop or restart a running VM: forged reports change nothing and are logged and counted", async () => {
    await c.call('CreateVm', vmYaml('victim'));
    const tap = new ConsoleTap(c, 'victim');
    await c.call('StartVm', { name: 'victim' });
    await tap.waitFor(/tick 2\r\n/);
    const io = await busAs('io-backend');
    const own = subjects.lifecycle('victim', 'io-backend');
    // Well-formed, on its own subject: taken as a cause, never acted on without the cpu's exit.
    await io.publishDurable(own, LifecycleEventCodec, forged('victim', 'LIFECYCLE_POWEROFF', 'io-backend', 'guest wrote 0x5555 to sifive_test (forged)'));
    // Bodies that lie about their reporter, or report what io-backend may not.
    await io.publishDurable(own, LifecycleEventCodec, forged('victim', 'LIFECYCLE_VCPU_EXITED', 'cpu', 'poweroff: forged'));
    await io.publishDurable(own, LifecycleEventCodec, forged('victim', 'LIFECYCLE_STOPPED', 'io-backend', 'forged'));
    // A body naming the victim on another VM's subject: about that other VM, if at all.
    await io.publishDurable(subjects.lifecycle('elsewhere', 'io-backend'), LifecycleEventCodec, forged('victim', 'LIFECYCLE_RESET', 'io-backend', 'forged'));

    const counted = await waitFor('dom0 to count the forged reports', async () => {
      const s = await c.call('GetStats', { name: 'victim' });
      return s.reports && s.reports.refused === 2 && s.reports.unconfirmed === 1 ? s.reports : undefined;
    });
    expect(counted).toEqual({ refused: 2, unconfirmed: 1 });
    expect(dom0Said()).toEqual(
      expect.arrayContaining([
        'lifecycle report refused: its body says "cpu" reported it, its subject io-backend',
        'lifecycle report refused: io-backend may not report LIFECYCLE_STOPPED',
        'lifecycle report refused: its body names vm "victim", its subject vm "elsewhere"',
        'io-backend reported the guest\'s poweroff but vm "victim"\'s vCPU did not exit within 5000 ms: not acted on (a forged or lost report)',
      ]),
    );

    // Still running, still ticking, its console still open.
    const before = Math.max(...tap.ticks());
    await tap.waitFor(new RegExp(`tick ${before + 3}\\r\\n`));
    expect((await c.call('GetVm', { name: 'victim' })).state).toBe('running');
    expect(tap.end).toBeUndefined();
    expect(tap.text).not.toMatch(/ticker: boot[\s\S]*ticker: boot/); // never restarted
    // The events stream shows who really reported: the subject's source, not the body's.
    const evs = kinds(await storedEvents(c, 'victim'));
    expect(evs).toEqual(['CREATED dom0', 'STARTED dom0', 'POWEROFF io-backend', 'VCPU_EXITED io-backend', 'STOPPED io-backend']);
    tap.close();
    await c.call('DestroyVm', { name: 'victim' });
  });

  it("the honest paths still work: the guest's reset restarts it, a crash follows on_crash, its poweroff stops it with the device's cause", async () => {
    await c.call('CreateVm', vmYaml('honest', 'on_crash: restart\n'));
    const tap = new ConsoleTap(c, 'honest');
    await c.call('StartVm', { name: 'honest' });
    await tap.waitFor(/tick 1\r\n/);
    tap.send('r');
    await tap.waitFor(/ticker: reset\r\nticker: boot\r\ntick 1\r\n/);
    expect(await waitForState(c, 'honest', ['running'])).toMatchObject({
      boots: 2,
      reason: 'restarted: guest wrote 0x7777 to sifive_test at 0x100000 (on_reboot=restart)',
    });
    tap.send('c');
    await tap.waitFor(/ticker: crash\r\nticker: boot\r\ntick 1\r\n/);
    expect(await waitForState(c, 'honest', ['running'])).toMatchObject({
      boots: 3,
      reason: expect.stringMatching(/^restarted: fatal: .*\(on_crash=restart\)$/),
    });
    expect((await c.call('GetStats', { name: 'honest' })).reports).toEqual({ refused: 0, unconfirmed: 0 });
    tap.send('q');
    expect(await tap.waitForEnd()).toMatchObject({ state: 'stopped', exitCode: 0, kind: 'LIFECYCLE_STOPPED' });
    expect(await c.call('GetVm', { name: 'honest' })).toMatchObject({ state: 'stopped', reason: 'guest wrote 0x5555 to sifive_test at 0x100000' });
    // io-backend's cause first, then the cpu's exit that confirms it, then dom0's verdict.
    expect(kinds(await storedEvents(c, 'honest')).slice(-3)).toEqual(['POWEROFF io-backend', 'VCPU_EXITED cpu', 'STOPPED dom0']);
    await c.call('DestroyVm', { name: 'honest' });
  });
});
