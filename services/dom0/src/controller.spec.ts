// The lifecycle logic against the data plane's ports in memory (fake-plane.test-util.ts):
// what it asks of mmu, io-backend and the cpu nodes, in which order, and what it records,
// for each command and each thing a guest can do. No process, no network.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@splitvisor/lab';
import { RpcError } from '@splitvisor/rpc';
import { silentLogger } from '@splitvisor/testing';
import type { EventsV1 } from '@splitvisor/proto';
import { Controller } from './controller.js';
import { FakePlane, MemoryRecords } from './fake-plane.test-util.js';

const HELLO = join(REPO_ROOT, 'guests/hello/hello.elf');

function setup(nodes = ['n1', 'n2'], opts: ConstructorParameters<typeof Controller>[3] = {}) {
  const plane = new FakePlane(nodes);
  const store = new MemoryRecords();
  const ctl = new Controller(plane, store, silentLogger(), opts);
  const yaml = (name: string, extra = '') => `name: ${name}\nmemory: 16M\nimage: ${HELLO}\n${extra}`;
  const create = (name: string, extra = '') => ctl.create(yaml(name, extra), REPO_ROOT, `${name}.yaml`);
  return { plane, store, ctl, create };
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof RpcError)) throw new Error(`expected an RpcError, got ${String(e)}`);
  return { code: e.code, message: e.message };
}

const event = (vmId: string, kind: EventsV1.LifecycleKind__Output, reason = '', exitCode = 0): EventsV1.LifecycleEvent__Output =>
  ({ vmId, kind, reason, exitCode, source: 'cpu', at: Date.now() + 1000 }) as EventsV1.LifecycleEvent__Output;

describe('Controller', () => {
  it('creates, starts, pauses, resumes and shuts down a VM, releasing in the order the data flows', async () => {
    const { plane, store, ctl, create } = setup();
    const created = await create('a');
    expect(created).toMatchObject({ name: 'a', state: 'created', node: 'n1', memoryBytes: 16 << 20, entry: 0x80000000 });
    expect(plane.calls).toEqual(['mmu create a', 'mmu load a', 'io connect a']);
    expect(plane.memory.vms.get('a')!.loaded).toBeGreaterThan(0);
    expect(plane.devices.vms.get('a')).toEqual(['uart0', 'sifive_test']);

    expect((await ctl.start('a')).state).toBe('running');
    expect(plane.nodes.get('n1')!.vms.get('a')!.start).toMatchObject({ vmId: 'a', ramSize: 16 << 20, entry: 0x80000000, vcpus: 1 });
    expect((await ctl.pause('a')).state).toBe('paused');
    expect(plane.nodes.get('n1')!.vms.get('a')!.paused).toBe(true);
    expect((await ctl.resume('a')).state).toBe('running');

    plane.calls.length = 0;
    expect(await ctl.shutdown('a')).toMatchObject({ state: 'stopped', reason: 'shut down by request' });
    expect(plane.calls).toEqual(['n1 stop a', 'io disconnect a', 'mmu release a']);
    expect(store.kinds('a')).toEqual(['CREATED', 'STARTED', 'PAUSED', 'RESUMED', 'SHUTDOWN', 'STOPPED']);
  });

  it('refuses a command the state does not allow, naming the state, and asks nothing of the data plane', async () => {
    const { plane, ctl, create } = setup();
    await create('a');
    plane.calls.length = 0;
    expect(await refusal(ctl.pause('a'))).toEqual({ code: 'FAILED_PRECONDITION', message: 'vm "a" is created; pause needs it to be running' });
    expect(await refusal(create('a'))).toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(await refusal(ctl.start('nope'))).toEqual({ code: 'NOT_FOUND', message: 'no vm named "nope"' });
    expect(plane.calls).toEqual([]);
  });

  it('places VMs created at the same time on different nodes', async () => {
    const { create } = setup(['n1', 'n2', 'n3']);
    const vms = await Promise.all(['a', 'b', 'c'].map((n) => create(n)));
    expect(vms.map((v) => v.node).sort()).toEqual(['n1', 'n2', 'n3']);
  });

  it('undoes a create whose devices do not come up: memory released, nothing recorded', async () => {
    const { plane, store, create } = setup();
    plane.faults.set('io connect', new RpcError('UNAVAILABLE', 'xenbus: io-backend did not answer'));
    expect(await refusal(create('a'))).toEqual({ code: 'UNAVAILABLE', message: 'creating vm "a": xenbus: io-backend did not answer' });
    expect(plane.calls).toEqual(['mmu create a', 'mmu load a', 'io connect a', 'io disconnect a', 'mmu release a']);
    expect(plane.memory.vms.size).toBe(0);
    expect(store.find('a')).toBeUndefined();
  });

  it('starts a VM on another node when its own does not answer, and then patiently', async () => {
    const { plane, ctl, create } = setup();
    await create('a');
    plane.down('n1');
    expect(await ctl.start('a')).toMatchObject({ state: 'running', node: 'n2' });
    expect(plane.calls.filter((c) => c.includes('start'))).toEqual(['n1 start a', 'n2 start a']);

    const { plane: p2, ctl: c2, create: create2 } = setup(['n1']);
    await create2('b');
    p2.faults.set('n1 start', new RpcError('UNAVAILABLE', 'reconnecting'));
    expect(await c2.start('b')).toMatchObject({ state: 'running', node: 'n1' });
    expect(p2.calls.filter((c) => c.includes('start'))).toEqual(['n1 start b', 'n1 start patiently b']);

    p2.down('n1');
    await c2.shutdown('b');
    expect(await refusal(c2.start('b'))).toEqual({ code: 'UNAVAILABLE', message: 'starting vm "b" on cpu node n1: n1 connection refused' });
  });

  it('follows the policies when the guest powers off, resets or crashes', async () => {
    const { plane, store, ctl, create } = setup(['n1'], { maxCrashRestarts: 1, crashWindowMs: 60_000 });
    await create('off');
    await ctl.start('off');
    await ctl.onLifecycle(event('off', 'LIFECYCLE_POWEROFF', 'poweroff (sifive_test pass)', 0));
    expect(store.get('off')).toMatchObject({ state: 'stopped', exitCode: 0 });
    expect(plane.memory.vms.has('off')).toBe(false);

    await create('rst');
    await ctl.start('rst');
    plane.calls.length = 0;
    await ctl.onLifecycle(event('rst', 'LIFECYCLE_RESET', 'reset by the guest'));
    expect(store.get('rst')).toMatchObject({ state: 'running', boots: 2, reason: 'restarted: reset by the guest (on_reboot=restart)' });
    expect(plane.calls).toEqual(['n1 stop rst', 'io disconnect rst', 'mmu release rst', 'mmu create rst', 'mmu load rst', 'io connect rst', 'n1 start rst']);

    await create('crash', 'on_crash: restart\n');
    await ctl.start('crash');
    await ctl.onLifecycle(event('crash', 'LIFECYCLE_VCPU_EXITED', 'illegal instruction'));
    expect(store.get('crash')).toMatchObject({ state: 'running', crashRestarts: 1 });
    await ctl.onLifecycle(event('crash', 'LIFECYCLE_VCPU_EXITED', 'illegal instruction'));
    expect(store.get('crash').state).toBe('failed');
    expect(store.get('crash').reason).toMatch(/^illegal instruction \(on_crash=restart gave up: 1 restarts each within 60 s of the boot\)$/);

    await create('keep', 'on_poweroff: preserve\n');
    await ctl.start('keep');
    await ctl.onLifecycle(event('keep', 'LIFECYCLE_POWEROFF', 'poweroff', 3));
    expect(store.get('keep')).toMatchObject({ state: 'preserved', exitCode: 3 });
    expect(plane.memory.vms.has('keep')).toBe(true);
    expect(plane.nodes.get('n1')!.vms.has('keep')).toBe(false);
  });

  it('ignores its own events and events older than the current boot', async () => {
    const { store, ctl, create } = setup();
    await create('a');
    await ctl.start('a');
    await ctl.onLifecycle({ ...event('a', 'LIFECYCLE_POWEROFF'), source: 'dom0' });
    await ctl.onLifecycle({ ...event('a', 'LIFECYCLE_RESET'), at: 1 });
    expect(store.get('a').state).toBe('running');
  });

  it('reconciles with what the data plane holds after a restart', async () => {
    const { plane, store, ctl, create } = setup();
    await create('gone');
    await ctl.start('gone');
    plane.nodes.get('n1')!.vms.delete('gone');
    await ctl.reconcile('gone');
    expect(store.get('gone')).toMatchObject({ state: 'failed', reason: 'cpu node n1 no longer runs it (found when dom0 came back)' });

    await create('p');
    await ctl.start('p');
    plane.nodes.get(store.get('p').node!)!.vms.get('p')!.paused = true;
    await ctl.reconcile('p');
    expect(store.get('p').state).toBe('paused');
    expect(store.kinds('p').at(-1)).toBe('PAUSED');
  });

  it('destroys a paused VM at once and forgets it', async () => {
    const { plane, store, ctl, create } = setup();
    await create('a');
    await ctl.start('a');
    await ctl.pause('a');
    plane.calls.length = 0;
    expect((await ctl.destroy('a')).state).toBe('destroyed');
    expect(plane.calls).toEqual(['n1 stop a', 'io disconnect a', 'mmu release a']);
    expect(store.find('a')).toBeUndefined();
    expect(store.kinds('a').at(-1)).toBe('DESTROYED');
  });
});
