// kill -9 of mmu while a guest checks its memory: guest RAM is in mmu's sparse files, so
// nothing that had gone back to mmu is lost; the restarted mmu finds the VM on disk, the
// vCPU's page cache re-registers what it holds (so a device still sees the newest bytes),
// misses that came while mmu was away wait for it, and the guest goes on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMCHECK, MIB, MemLab, PAGE, patternBytes } from './mmu-lab.js';

let m: MemLab;
beforeAll(async () => {
  m = await MemLab.start();
  await m.bootMemcheck('crash', 16 * MIB, 2 * MIB);
}, 60_000);
afterAll(async () => {
  await m?.close();
});

/** Rewrites REGION_A with the values it has: every page the guest holds is recalled with
 *  its bytes (which go to mmu's file) and dropped, so the guest's next pass fetches all
 *  64 pages back from mmu. */
async function sendRegionHome(): Promise<void> {
  expect(await m.dmaWrite('crash', [{ addr: MEMCHECK.regionA, data: patternBytes() }])).toBe(MEMCHECK.aWords * 8);
}

describe('mmu killed with -9 under a running guest', () => {
  it('comes back with every page it had, and the guest goes on without a wrong word', async () => {
    const start = await m.until('crash', (s) => s.phase === 2 && s.passes >= 2, 'two checking passes');
    expect(start.errors).toBe(0);

    // Round 1: the guest parked while its pages go home and mmu dies and comes back; its
    // first pass after resuming reads all of REGION_A from the new mmu's file.
    await m.cpu.call('PauseVm', { vmId: 'crash' });
    await sendRegionHome();
    const mail = Buffer.alloc(8);
    mail.writeBigUInt64LE(0xc0ffeen);
    await m.dmaWrite('crash', [{ addr: MEMCHECK.mailbox, data: mail }]);
    expect(await m.t.lab.signalService('mmu', 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await m.t.lab.startService('mmu');
    await m.cpu.call('ResumeVm', { vmId: 'crash' });
    const round1 = await m.until('crash', (s) => s.passes > start.passes + 3 && s.mailbox === 0xc0ffeen, 'passes after the restart');
    expect(round1.errors).toBe(0);
    // A page the guest wrote before the crash and never gave back exists only in its cache:
    // the new mmu knows the guest holds it only because the cache re-registered.
    const [touched] = await m.dmaRead('crash', [{ addr: MEMCHECK.touch + 5 * PAGE, length: 8 }]);
    expect(Number(touched!.readBigUInt64LE(0))).toBe(MEMCHECK.touch + 5 * PAGE);
    const after1 = await m.mmu.call('GetVmStats', { vmId: 'crash' });
    expect(after1.fetches).toBeGreaterThanOrEqual(64); // REGION_A came back from the new mmu
    expect(after1.recovering).toBe(false);
    expect(m.log('cpu')).toMatch(/page cache re-registered with mmu/);
    expect(m.log('mmu')).toMatch(/"vm":"crash".*vm found on disk/);

    // Round 2: no pause. The guest misses on REGION_A while mmu is dead; its vCPU waits
    // for mmu rather than failing, then goes on.
    await sendRegionHome();
    await m.t.lab.signalService('mmu', 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await m.t.lab.startService('mmu');
    const round2 = await m.until('crash', (s) => s.passes > round1.passes + 3, 'passes after the second restart');
    expect(round2.errors).toBe(0);
    expect((await m.cpu.call('GetVmStats', { vmId: 'crash' })).running).toBe(true);

    // A device sees the guest's newest bytes: the status page (held Modified, known to
    // the new mmu only by re-registration) keeps counting, REGION_A is intact.
    const [a] = await m.dmaRead('crash', [{ addr: MEMCHECK.regionA, length: MEMCHECK.aWords * 8 }]);
    expect(a!.equals(patternBytes())).toBe(true);

    // Stopped, the vCPU writes every page back: mmu alone holds the guest's memory.
    await m.cpu.call('StopVm', { vmId: 'crash', reason: 'test over' });
    const end = await m.mmu.call('GetVmStats', { vmId: 'crash' });
    expect(end).toMatchObject({ heldModified: 0, heldShared: 0 });
    const last = await m.status('crash');
    expect(last.passes).toBeGreaterThanOrEqual(round2.passes);
    expect(last.errors).toBe(0);
  }, 60_000);
});
