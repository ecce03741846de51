// Device DMA against a running guest, with real processes: what a device reads is what
// the guest wrote last (pages the vCPU holds Modified are recalled first); what a device
// writes is what the guest reads next (its copies are recalled away); and the API lets a
// device reach only the VM it is attached to, inside that VM's RAM, under a name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMCHECK, MIB, MemLab, PAGE, RAM, patternBytes, refusal } from './mmu-lab.js';

let m: MemLab;
beforeAll(async () => {
  m = await MemLab.start();
  await m.bootMemcheck('dma', 16 * MIB, 4 * MIB);
}, 60_000);
afterAll(async () => {
  await m?.cpu.call('StopVm', { vmId: 'dma', reason: 'test over' }).catch(() => undefined);
  await m?.close();
});

describe('DMA and the vCPU page cache', () => {
  it('a device reads the newest bytes the guest wrote', async () => {
    const first = await m.until('dma', (s) => s.phase === 2 && s.passes >= 2, 'two checking passes');
    // The status page lives Modified in the vCPU's cache: each read recalled it, and the
    // guest kept counting.
    const later = await m.until('dma', (s) => s.passes > first.passes + 2, 'more passes');
    expect(later.errors).toBe(0);
    // REGION_A (64 pages the guest wrote and holds Modified) as a device sees it.
    const [a] = await m.dmaRead('dma', [{ addr: MEMCHECK.regionA, length: MEMCHECK.aWords * 8 }]);
    expect(a!.equals(patternBytes())).toBe(true);
    // The touched pages each carry their own address, written by the guest.
    const [t] = await m.dmaRead('dma', [{ addr: MEMCHECK.touch + 5 * PAGE, length: 8 }]);
    expect(Number(t!.readBigUInt64LE(0))).toBe(MEMCHECK.touch + 5 * PAGE);
    const stats = await m.mmu.call('GetVmStats', { vmId: 'dma' });
    expect(stats.recalls).toBeGreaterThan(0);
    expect(stats.recalledPages).toBeGreaterThanOrEqual(64);
    expect(stats.dmaReadBytes).toBeGreaterThanOrEqual(MEMCHECK.aWords * 8);
    expect(stats.firstTouchFaults).toBeGreaterThanOrEqual(1024); // 4 MiB touched
  });

  it('the guest reads the bytes a device wrote', async () => {
    for (const v of [0x1234_5678_9abcn, 0xfeed_f00dn]) {
      const mail = Buffer.alloc(8);
      mail.writeBigUInt64LE(v);
      expect(await m.dmaWrite('dma', [{ addr: MEMCHECK.mailbox, data: mail }])).toBe(8);
      // The guest had the mailbox Shared; the write recalled its copy, so its next read
      // fetches the new bytes, and it echoes them into its status page.
      const s = await m.until('dma', (x) => x.mailbox === v, `the echo of 0x${v.toString(16)}`);
      expect(s.errors).toBe(0);
    }
  });

  it("a device write into pages the guest holds Modified merges with the guest's bytes", async () => {
    // Rewrite one word in the middle of REGION_A with the value it already has: the
    // guest's Modified copy is recalled with its bytes, so the other words stay right.
    const words = patternBytes();
    const at = 1000 * 8;
    expect(await m.dmaWrite('dma', [{ addr: MEMCHECK.regionA + at, data: words.subarray(at, at + 8) }])).toBe(8);
    const before = (await m.status('dma')).passes;
    const s = await m.until('dma', (x) => x.passes > before + 2, 'passes over the re-fetched page');
    expect(s.errors).toBe(0);
    const [a] = await m.dmaRead('dma', [{ addr: MEMCHECK.regionA, length: words.length }]);
    expect(a!.equals(words)).toBe(true);
  });

  it('reads and writes scatter-gather lists, in order', async () => {
    const segs = [
      { addr: MEMCHECK.touch + 7 * PAGE + 100, data: Buffer.from('across ') },
      { addr: MEMCHECK.touch + 9 * PAGE - 3, data: Buffer.from('a page boundary') },
    ];
    expect(await m.dmaWrite('dma', segs)).toBe(22);
    const got = await m.dmaRead('dma', [
      { addr: MEMCHECK.touch + 9 * PAGE - 3, length: 15 },
      { addr: MEMCHECK.touch + 7 * PAGE + 100, length: 7 },
    ]);
    expect(got.map((b) => b.toString())).toEqual(['a page boundary', 'across ']);
  });
});

describe('who may DMA where', () => {
  it('refuses a caller that names no identity, or one not attached to the VM', async () => {
    const anon = await refusal(m.dmaRead('dma', [{ addr: MEMCHECK.status, length: 8 }], ''));
    expect(anon.code).toBe('PERMISSION_DENIED');
    expect(anon.message).toBe('DMA read of vm "dma" [0x80002000, 0x80002008) refused: the call names no caller (metadata x-splitvisor-caller)');
    const stranger = await refusal(m.dmaWrite('dma', [{ addr: MEMCHECK.mailbox, data: Buffer.alloc(8) }], 'some-nic'));
    expect(stranger.code).toBe('PERMISSION_DENIED');
    expect(stranger.message).toBe('DMA write of vm "dma" [0x80003000, 0x80003008) refused: caller "some-nic" is not a device backend attached to vm "dma"');
  });

  it("refuses guest-physical addresses outside the VM's RAM, naming the range", async () => {
    const end = RAM + 16 * MIB;
    const past = await refusal(m.dmaRead('dma', [{ addr: end - 4, length: 8 }]));
    expect(past.code).toBe('INVALID_ARGUMENT');
    expect(past.message).toBe('DMA read by "io-backend" of vm "dma": [0x80fffffc, 0x81000004) lies outside RAM [0x80000000, 0x81000000)');
    const below = await refusal(m.dmaWrite('dma', [{ addr: 0x1000, data: Buffer.alloc(4) }]));
    expect(below.message).toBe('DMA write by "io-backend" of vm "dma": [0x1000, 0x1004) lies outside RAM [0x80000000, 0x81000000)');
    // One bad segment refuses the whole list: the good one is not written either.
    const [before] = await m.dmaRead('dma', [{ addr: MEMCHECK.touch + 11 * PAGE, length: 4 }]);
    const mixed = await refusal(
      m.dmaWrite('dma', [
        { addr: MEMCHECK.touch + 11 * PAGE, data: Buffer.from('nope') },
        { addr: end, data: Buffer.from('x') },
      ]),
    );
    expect(mixed.code).toBe('INVALID_ARGUMENT');
    const [after] = await m.dmaRead('dma', [{ addr: MEMCHECK.touch + 11 * PAGE, length: 4 }]);
    expect(after!.equals(before!)).toBe(true);
    expect((await m.status('dma')).errors).toBe(0);
  });

  it("keeps VMs apart: the same address is another VM's memory, reachable only if attached", async () => {
    await m.mmu.call('CreateVm', { vmId: 'other', ramBase: RAM, ramSize: 4 * MIB });
    await m.loadImage('other', [{ addr: MEMCHECK.regionA, data: Buffer.from('other VM secret') }]);
    // io-backend serves "dma", not "other".
    const denied = await refusal(m.dmaRead('other', [{ addr: MEMCHECK.regionA, length: 15 }]));
    expect(denied.code).toBe('PERMISSION_DENIED');
    expect(denied.message).toMatch(/vm "other" .*caller "io-backend" is not a device backend attached to vm "other"/);
    // The same guest-physical address in "dma" is dma's pattern, never other's bytes.
    const [mine] = await m.dmaRead('dma', [{ addr: MEMCHECK.regionA, length: 15 }]);
    expect(mine!.equals(patternBytes().subarray(0, 15))).toBe(true);
    // Once attached, the backend sees other's bytes there; once the VM is released, nothing.
    await m.mmu.call('AttachDevice', { vmId: 'other', backend: 'io-backend' });
    const [theirs] = await m.dmaRead('other', [{ addr: MEMCHECK.regionA, length: 15 }]);
    expect(theirs!.toString()).toBe('other VM secret');
    await m.mmu.call('ReleaseVm', { vmId: 'other' });
    expect((await refusal(m.dmaRead('other', [{ addr: MEMCHECK.regionA, length: 1 }]))).code).toBe('NOT_FOUND');
  });
});
