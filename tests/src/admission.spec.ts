// Admission control (issue 11, item 11), through the whole lab. mmu reserves each VM's RAM
// whole at create, so a VM that does not fit is refused there with a message saying what
// is free and who holds the rest, never failed mid-run when a neighbour has touched all of
// its own RAM; dom0 caps the VMs a lab holds. Creates in parallel cannot both take the same
// memory or the last slot, a reboot keeps its memory, and an mmu restarted keeps every
// reservation it held.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestLab, type TestLab } from '@splitvisor/testing';
import { dom0Client, rpcError, vmYaml, waitForState, type Dom0 } from './dom0-helpers.js';
import { MemLab, MIB } from './mmu-lab.js';

describe('admission through dom0', () => {
  let t: TestLab;
  let c: Dom0;
  beforeAll(async () => {
    t = await startTestLab({ serviceEnv: { mmu: { SPLITVISOR_MMU_POOL_MIB: '40' }, dom0: { SPLITVISOR_MAX_VMS: '4' } } });
    c = dom0Client(t.addresses.dom0);
  });
  afterAll(async () => {
    c?.close();
    await t?.teardown();
  });

  it('refuses at create a VM whose RAM is not free, naming what is; parallel creates cannot both have it; the cap is named', async () => {
    await c.call('CreateVm', vmYaml('a'));
    await c.call('CreateVm', vmYaml('b'));
    const e = await rpcError(c.call('CreateVm', vmYaml('c')));
    expect(e.code).toBe('RESOURCE_EXHAUSTED');
    expect(e.message).toBe('creating vm "c": vm "c" asks for 16 MiB of RAM but only 8 MiB of the host pool\'s 40 MiB are free (32 MiB reserved by 2 VMs)');
    expect((await c.call('ListVms', {})).vms.map((v) => v.name)).toEqual(['a', 'b']);

    // 8 MiB free: of two creates of 8 MiB at once, exactly one has it.
    const both = await Promise.allSettled(['p', 'q'].map((n) => c.call('CreateVm', vmYaml(n, '', undefined, '8M'))));
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = both.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason as Error;
    expect(lost.message).toMatch(
      /^creating vm "[pq]": vm "[pq]" asks for 8 MiB of RAM but only 0 MiB of the host pool's 40 MiB are free \(40 MiB reserved by 3 VMs\)$/,
    );

    // Four VMs: the lab's cap, whatever memory is left.
    await c.call('DestroyVm', { name: 'b' });
    await c.call('CreateVm', vmYaml('d', '', undefined, '4M'));
    await c.call('CreateVm', vmYaml('e', '', undefined, '4M'));
    const capped = await rpcError(c.call('CreateVm', vmYaml('f', '', undefined, '4M')));
    expect(capped.code).toBe('RESOURCE_EXHAUSTED');
    expect(capped.message).toBe('vm "f" refused: this lab holds 4 VMs and its cap is 4 (dom0 --max-vms, SPLITVISOR_MAX_VMS)');
  });

  it("keeps a rebooting VM's memory its own, and frees it when the VM is destroyed", async () => {
    await c.call('StartVm', { name: 'a' });
    await c.call('RebootVm', { name: 'a' });
    expect(await waitForState(c, 'a', ['running'])).toMatchObject({ boots: 2 });
    // Still reserved after the reboot: 16 (a) + 8 of 40, so 20 MiB more do not fit.
    await c.call('DestroyVm', { name: 'd' });
    await c.call('DestroyVm', { name: 'e' });
    const e = await rpcError(c.call('CreateVm', vmYaml('big', '', undefined, '20M')));
    expect(e.message).toMatch(/only 16 MiB of the host pool's 40 MiB are free \(24 MiB reserved by 2 VMs\)$/);
    await c.call('DestroyVm', { name: 'a' });
    await c.call('CreateVm', vmYaml('big', '', undefined, '20M'));
  });
});

describe('admission at mmu, with guests touching every page', () => {
  let m: MemLab;
  beforeAll(async () => {
    m = await MemLab.start({ mmu: { SPLITVISOR_MMU_POOL_MIB: '8' } });
  });
  afterAll(async () => {
    await m?.close();
  });

  it('a guest touching all its RAM leaves another VM its own; the rest is refused at create; a restarted mmu keeps the reservations', async () => {
    // hog: 5 MiB, touching every page from 1 MiB to its end (memcheck's TOUCH).
    await m.bootMemcheck('hog', 5 * MIB, 4 * MIB);
    await m.until('hog', (s) => s.phase >= 1, 'the first touch of 4 MiB');
    const e = await m.mmu.call('CreateVm', { vmId: 'calm', ramBase: 0x80000000, ramSize: 4 * MIB }).catch((x: Error) => x);
    expect(e).toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      message: 'vm "calm" asks for 4 MiB of RAM but only 3 MiB of the host pool\'s 8 MiB are free (5 MiB reserved by 1 VM)',
    });
    // What fits runs to the end of its RAM while hog holds all of its own.
    await m.bootMemcheck('calm', 3 * MIB, 2 * MIB);
    const calm = await m.until('calm', (s) => s.phase === 2 && s.passes >= 1, 'a checked pass after touching all its RAM');
    expect(calm.errors).toBe(0);
    expect((await m.until('hog', (s) => s.passes >= 1, 'a checked pass')).errors).toBe(0);

    // mmu killed and started again: the VMs found on disk hold their whole RAM again.
    await m.t.lab.signalService('mmu', 'SIGKILL');
    await m.t.lab.startService('mmu');
    const again = await m.mmu.call('CreateVm', { vmId: 'late', ramBase: 0x80000000, ramSize: MIB }, { deadlineMs: 15_000 }).catch((x: Error) => x);
    expect(again).toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      message: 'vm "late" asks for 1 MiB of RAM but only 0 MiB of the host pool\'s 8 MiB are free (8 MiB reserved by 2 VMs)',
    });
    const passes = (await m.status('calm')).passes;
    expect((await m.until('calm', (s) => s.passes > passes, 'a pass after the restart')).errors).toBe(0);
  });
});
