// The lifecycle logic against the data plane's ports in memory (fake-plane.test-util.ts):
// what it asks of mmu, io-backend and the cpu nodes, in which order, and what it records,
// for each command and each thing a guest can do. No process, no network.
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '@splitvisor/lab';
import { RpcError } from '@splitvisor/rpc';
import { silentLogger } from '@splitvisor/testing';
import type { EventsV1 } from '@splitvisor/proto';
import { subjects } from '@splitvisor/bus';
import { findNode, getProp, propStrings, readFdt, VIRT_ISA, VIRT_ISA_H } from '@splitvisor/fdt';
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

const event = (vmId: string, kind: EventsV1.LifecycleKind__Output, reason = '', exitCode = 0, source = 'cpu'): EventsV1.LifecycleEvent__Output =>
  ({ vmId, kind, reason, exitCode, source, at: Date.now() + 1000 }) as EventsV1.LifecycleEvent__Output;

/** The cpu's exit report of `vm`, on the cpu's own subject. */
const cpuExit = (ctl: Controller, vm: string, reason: string, exitCode = 0) =>
  ctl.onLifecycle(event(vm, 'LIFECYCLE_VCPU_EXITED', reason, exitCode), subjects.lifecycle(vm, 'cpu'));
/** io-backend's report of the guest's write to the sifive test device, on io-backend's subject. */
const ioReport = (ctl: Controller, vm: string, kind: 'LIFECYCLE_POWEROFF' | 'LIFECYCLE_RESET', reason: string, exitCode = 0) =>
  ctl.onLifecycle(event(vm, kind, reason, exitCode, 'io-backend'), subjects.lifecycle(vm, 'io-backend'));

describe('Controller', () => {
  it('creates, starts, pauses, resumes and shuts down a VM, releasing in the order the data flows', async () => {
    const { plane, store, ctl, create } = setup();
    const created = await create('a');
    expect(created).toMatchObject({ name: 'a', state: 'created', node: 'n1', memoryBytes: 16 << 20, entry: 0x80000000 });
    expect(plane.calls).toEqual(['mmu create a', 'mmu load a', 'io connect a']);
    expect(plane.memory.vms.get('a')!.loaded).toBeGreaterThan(0);
    expect(plane.devices.vms.get('a')).toEqual(['uart0', 'sifive_test']);

    expect((await ctl.start('a')).state).toBe('running');
    expect(plane.nodes.get('n1')!.vms.get('a')!.start).toMatchObject({ vmId: 'a', ramSize: 16 << 20, entry: 0x80000000, vcpus: 1, mode: 'emulate' });
    expect((await ctl.pause('a')).state).toBe('paused');
    expect(plane.nodes.get('n1')!.vms.get('a')!.paused).toBe(true);
    expect((await ctl.resume('a')).state).toBe('running');

    plane.calls.length = 0;
    expect(await ctl.shutdown('a')).toMatchObject({ state: 'stopped', reason: 'shut down by request' });
    expect(plane.calls).toEqual(['n1 stop a', 'io disconnect a', 'mmu release a']);
    expect(store.kinds('a')).toEqual(['CREATED', 'STARTED', 'PAUSED', 'RESUMED', 'SHUTDOWN', 'STOPPED']);
  });

  it('gives a VM with cpu.h a hart with H: StartVm says h, the device tree says "h" in riscv,isa', async () => {
    const { plane, ctl, create } = setup();
    const dtbAt = { plain: (await create('plain')).dtbAddr, hyp: (await create('hyp', 'cpu: { h: true }\n')).dtbAddr };
    await ctl.start('plain');
    await ctl.start('hyp');
    const started = (vm: string) => [...plane.nodes.values()].find((n) => n.vms.has(vm))!.vms.get(vm)!.start;
    expect(started('hyp')).toMatchObject({ vmId: 'hyp', mode: 'emulate', h: true });
    expect(started('plain')).toMatchObject({ vmId: 'plain', mode: 'emulate', h: false });
    const isa = (vm: 'plain' | 'hyp') => {
      const dtb = plane.memory.vms.get(vm)!.segments.find((seg) => seg.addr === dtbAt[vm])!.data;
      const cpu = findNode(readFdt(dtb).root, '/cpus/cpu@0')!;
      return propStrings(getProp(cpu, 'riscv,isa')!);
    };
    expect(isa('hyp')).toEqual([VIRT_ISA_H]);
    expect(isa('plain')).toEqual([VIRT_ISA]);
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
    await ioReport(ctl, 'off', 'LIFECYCLE_POWEROFF', 'guest wrote 0x5555 to sifive_test at 0x100000');
    expect(store.get('off').state).toBe('running'); // io-backend's word alone ends nothing
    await cpuExit(ctl, 'off', 'poweroff: guest powered off with code 0');
    // The cause is io-backend's account, once the cpu's own report confirms it.
    expect(store.get('off')).toMatchObject({ state: 'stopped', exitCode: 0, reason: 'guest wrote 0x5555 to sifive_test at 0x100000' });
    expect(plane.memory.vms.has('off')).toBe(false);

    await create('rst');
    await ctl.start('rst');
    plane.calls.length = 0;
    await ioReport(ctl, 'rst', 'LIFECYCLE_RESET', 'reset by the guest');
    expect(plane.calls).toEqual([]);
    await cpuExit(ctl, 'rst', 'reset: guest requested a reset');
    expect(store.get('rst')).toMatchObject({ state: 'running', boots: 2, reason: 'restarted: reset by the guest (on_reboot=restart)' });
    // The memory is replaced at create, never released in between: its reservation stays.
    expect(plane.calls).toEqual(['n1 stop rst', 'io disconnect rst', 'mmu create rst', 'mmu load rst', 'io connect rst', 'n1 start rst']);

    await create('crash', 'on_crash: restart\n');
    await ctl.start('crash');
    await cpuExit(ctl, 'crash', 'fatal: illegal instruction');
    expect(store.get('crash')).toMatchObject({ state: 'running', crashRestarts: 1 });
    await cpuExit(ctl, 'crash', 'fatal: illegal instruction');
    expect(store.get('crash').state).toBe('failed');
    expect(store.get('crash').reason).toMatch(/^fatal: illegal instruction \(on_crash=restart gave up: 1 restarts each within 60 s of the boot\)$/);

    await create('keep', 'on_poweroff: preserve\n');
    await ctl.start('keep');
    await cpuExit(ctl, 'keep', 'poweroff: guest powered off with code 3', 3);
    expect(store.get('keep')).toMatchObject({ state: 'preserved', exitCode: 3 });
    expect(plane.memory.vms.has('keep')).toBe(true);
    expect(plane.nodes.get('n1')!.vms.has('keep')).toBe(false);
  });

  it('ignores its own events and exit reports older than the current boot', async () => {
    const { store, ctl, create } = setup();
    await create('a');
    await ctl.start('a');
    await ctl.onLifecycle(event('a', 'LIFECYCLE_STOPPED', '', 0, 'dom0'), subjects.lifecycle('a', 'dom0'));
    await ctl.onLifecycle({ ...event('a', 'LIFECYCLE_VCPU_EXITED', 'reset: guest requested a reset'), at: 1 }, subjects.lifecycle('a', 'cpu'));
    expect(store.get('a').state).toBe('running');
    expect(ctl.reportCounts('a')).toEqual({ refused: 0, unconfirmed: 0 });
  });

  it('believes the subject, not the body: forged and unconfirmed reports change nothing and are counted', async () => {
    const { plane, store, ctl, create } = setup(['n1'], { confirmMs: 20 });
    await create('a');
    await ctl.start('a');
    plane.calls.length = 0;
    // io-backend's POWEROFF with no vCPU exit behind it: kept as a cause, then given up.
    await ioReport(ctl, 'a', 'LIFECYCLE_POWEROFF', 'forged');
    await vi.waitFor(() => expect(ctl.reportCounts('a').unconfirmed).toBe(1));
    // Bodies that disagree with their subjects, and kinds a source may not report.
    const onIo = subjects.lifecycle('a', 'io-backend');
    await ctl.onLifecycle(event('a', 'LIFECYCLE_VCPU_EXITED', 'poweroff: forged'), onIo); // claims to be the cpu
    await ctl.onLifecycle(event('a', 'LIFECYCLE_VCPU_EXITED', 'poweroff: forged', 0, 'io-backend'), onIo);
    await ctl.onLifecycle(event('a', 'LIFECYCLE_STOPPED', 'forged', 0, 'io-backend'), onIo);
    await ctl.onLifecycle(event('b', 'LIFECYCLE_VCPU_EXITED', 'poweroff: forged'), subjects.lifecycle('a', 'cpu')); // names another vm
    await ctl.onLifecycle(event('a', 'LIFECYCLE_VCPU_EXITED', 'poweroff: forged'), 'sv.vm.a.lifecycle');
    expect(ctl.reportCounts('a')).toEqual({ refused: 4, unconfirmed: 1 });
    expect(store.get('a').state).toBe('running');
    expect(plane.calls).toEqual([]);
    // The cpu's own report ends it; the forged cause given up earlier is not its reason.
    await cpuExit(ctl, 'a', 'poweroff: guest powered off with code 0');
    expect(store.get('a')).toMatchObject({ state: 'stopped', reason: 'poweroff: guest powered off with code 0' });
    await ctl.destroy('a');
    expect(ctl.reportCounts('a')).toEqual({ refused: 0, unconfirmed: 0 });
  });

  it('caps the VMs of a lab, creates in parallel included, naming the cap', async () => {
    const { ctl, create } = setup(['n1'], { maxVms: 2 });
    const results = await Promise.allSettled(['a', 'b', 'c'].map((n) => create(n)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason as RpcError;
    expect(refused.code).toBe('RESOURCE_EXHAUSTED');
    expect(refused.message).toMatch(/^vm "[abc]" refused: this lab holds 2 VMs and its cap is 2 \(dom0 --max-vms, SPLITVISOR_MAX_VMS\)$/);
    const [kept] = ctl.list();
    await ctl.destroy(kept!.name);
    expect((await create('d')).state).toBe('created');
  });

  it('reconciles with what the data plane holds after a restart', async () => {
    const { plane, store, ctl, create } = setup();
    await create('gone');
    expect((await ctl.start('gone')).node).toBe('n1');
    await create('other');
    expect((await ctl.start('other')).node).toBe('n2');
    await create('again', 'on_crash: restart\n');
    expect((await ctl.start('again')).node).toBe('n1');
    // n1, with 'gone' and 'again' on it, dies.
    plane.nodes.get('n1')!.vms.clear();
    plane.down('n1');
    await ctl.nodeLost('n1', 'its health stream ended');
    expect(store.get('gone')).toMatchObject({ state: 'failed', reason: 'cpu node n1 died (its health stream ended) and does not answer' });
    expect(store.kinds('gone').at(-1)).toBe('FAILED');
    expect(plane.memory.vms.has('gone')).toBe(false);
    expect(store.get('again')).toMatchObject({ state: 'running', node: 'n2', boots: 2 });
    expect(store.get('again').reason).toMatch(/^restarted: cpu node n1 died \(its health stream ended\) and does not answer \(on_crash=restart\)$/);
    expect(store.get('other')).toMatchObject({ state: 'running', node: 'n2' });
  });

  it('a lost node that came back still running the VM (or reporting its end itself) changes nothing', async () => {
    const { store, ctl, create } = setup();
    await create('a');
    await ctl.start('a');
    await ctl.nodeLost('n1', 'its health says NOT_SERVING');
    expect(store.get('a')).toMatchObject({ state: 'running', boots: 1 });
    await ctl.nodeLost('n2', 'its health stream ended');
    expect(store.get('a').state).toBe('running');
  });
});
