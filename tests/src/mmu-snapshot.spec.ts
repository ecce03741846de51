// Dirty logging and memory snapshots against a running guest: the log sees the pages the
// guest writes after a clear (and only those), a snapshot holds the guest's newest bytes
// though they sat Modified in the vCPU's cache, and restored into a fresh VM it is the
// same memory byte for byte, on which the guest goes on where it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { MEMCHECK, MIB, MemLab, PAGE, RAM, patternBytes, refusal } from './mmu-lab.js';

const SIZE = 16 * MIB;
let m: MemLab;
beforeAll(async () => {
  m = await MemLab.start();
  await m.bootMemcheck('snap', SIZE, MIB);
}, 60_000);
afterAll(async () => {
  await m?.close();
});

const bit = (bitmap: Buffer, page: number) => (bitmap[page >> 3]! >> (page & 7)) & 1;
const pageOf = (addr: number) => (addr - RAM) / PAGE;

describe('dirty log', () => {
  it('after a clear, marks the pages the guest writes and not the ones it only reads', async () => {
    await m.until('snap', (s) => s.phase === 2 && s.passes >= 1, 'a checking pass');
    await m.mmu.call('StartDirtyLog', { vmId: 'snap' });
    // Read and clear: every page the guest could write without asking is taken back to
    // Shared, so its next write has to come back for the page and is seen.
    const first = await m.mmu.call('GetDirtyLog', { vmId: 'snap', clear: true });
    expect(first).toMatchObject({ firstGfn: RAM / PAGE, pages: SIZE / PAGE });
    expect(first.bitmap.length).toBe(SIZE / PAGE / 8);
    const before = (await m.status('snap')).passes;
    await m.until('snap', (s) => s.passes > before + 2, 'more passes');
    const log = await m.mmu.call('GetDirtyLog', { vmId: 'snap', clear: false });
    // The status page is written every pass; REGION_A and the code are only read.
    expect(bit(log.bitmap, pageOf(MEMCHECK.status))).toBe(1);
    expect(bit(log.bitmap, pageOf(RAM))).toBe(0);
    for (let p = pageOf(MEMCHECK.regionA); p < pageOf(MEMCHECK.regionA) + 64; p++) expect(bit(log.bitmap, p), `page ${p}`).toBe(0);
    // A device write is a write too.
    await m.dmaWrite('snap', [{ addr: MEMCHECK.touch + 3 * PAGE, data: Buffer.from('dirty') }]);
    const after = await m.mmu.call('GetDirtyLog', { vmId: 'snap', clear: false });
    expect(bit(after.bitmap, pageOf(MEMCHECK.touch + 3 * PAGE))).toBe(1);
    await m.mmu.call('StopDirtyLog', { vmId: 'snap' });
    expect((await refusal(m.mmu.call('GetDirtyLog', { vmId: 'snap', clear: false }))).code).toBe('FAILED_PRECONDITION');
  });
});

describe('memory snapshot and restore', () => {
  it('restores into a fresh VM byte for byte, and the guest goes on from there', async () => {
    // Parked, so the running VM's memory does not move while it is compared.
    await m.cpu.call('PauseVm', { vmId: 'snap' });
    const snap = await m.mmu.call('SnapshotMemory', { vmId: 'snap', name: 'snap-1' });
    expect(snap.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(snap.path)).toBe(true);
    expect(snap.pages).toBeGreaterThan(64 + 256); // REGION_A and the touched MiB at least

    await m.mmu.call('CreateVm', { vmId: 'copy', ramBase: RAM, ramSize: SIZE });
    const wrong = await refusal(m.mmu.call('RestoreMemory', { vmId: 'copy', name: 'snap-1', sha256: '0'.repeat(64) }));
    expect(wrong.code).toBe('INVALID_ARGUMENT');
    expect(wrong.message).toMatch(/has checksum [0-9a-f]{64}, not the 0{64} asked for/);
    // A running VM's memory is not replaced under its vCPU.
    const busy = await refusal(m.mmu.call('RestoreMemory', { vmId: 'snap', name: 'snap-1' }));
    expect(busy.code).toBe('FAILED_PRECONDITION');
    const small = 'small';
    await m.mmu.call('CreateVm', { vmId: small, ramBase: RAM, ramSize: 4 * MIB });
    expect((await refusal(m.mmu.call('RestoreMemory', { vmId: small, name: 'snap-1' }))).message).toMatch(
      /holds RAM \[0x80000000, 0x81000000\) but vm "small" has RAM \[0x80000000, 0x80400000\)/,
    );

    expect(await m.mmu.call('RestoreMemory', { vmId: 'copy', name: 'snap-1', sha256: snap.sha256 })).toEqual({ pages: snap.pages, sha256: snap.sha256 });
    await m.mmu.call('AttachDevice', { vmId: 'copy', backend: 'io-backend' });
    const [orig] = await m.dmaRead('snap', [{ addr: RAM, length: SIZE }]);
    const [copy] = await m.dmaRead('copy', [{ addr: RAM, length: SIZE }]);
    expect(copy!.length).toBe(SIZE);
    expect(copy!.equals(orig!)).toBe(true);

    // memcheck keeps its pass count in RAM: started on the copy, it goes on counting.
    const was = await m.status('copy');
    expect(was.errors).toBe(0);
    await m.cpu.call('StartVm', { vmId: 'copy', ramBase: RAM, ramSize: SIZE, entry: RAM, dtbAddr: 0, vcpus: 1 });
    const now = await m.until('copy', (s) => s.phase === 2 && s.passes > was.passes + 2, 'passes on the restored copy');
    expect(now.errors).toBe(0);
    const [a] = await m.dmaRead('copy', [{ addr: MEMCHECK.regionA, length: MEMCHECK.aWords * 8 }]);
    expect(a!.equals(patternBytes())).toBe(true);
    await m.cpu.call('StopVm', { vmId: 'copy', reason: 'test over' });
    await m.cpu.call('StopVm', { vmId: 'snap', reason: 'test over' });
  }, 60_000);
});
