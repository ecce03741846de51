import { describe, expect, it } from 'vitest';
import { DRAM_BASE, PAGE_SIZE } from '@splitvisor/platform';
import { MemError } from './errors.js';
import { FramePool } from './frame-pool.js';
import { Mmu } from './mmu.js';

const MIB = 1024 * 1024;

function refusal(fn: () => unknown): { kind: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof MemError)) throw e;
    return { kind: e.kind, message: e.message };
  }
  throw new Error('expected a MemError');
}

describe('Mmu', () => {
  it("creates, finds and releases VMs, each one's RAM reserved in the one pool", () => {
    const mmu = new Mmu(FramePool.ofMib(64));
    const a = mmu.createVm('a', DRAM_BASE, 32 * MIB);
    const b = mmu.createVm('b', DRAM_BASE, 16 * MIB); // reserved whole, frames taken on touch
    a.space.write(DRAM_BASE, Buffer.alloc(3 * PAGE_SIZE, 1));
    b.space.write(DRAM_BASE, Buffer.alloc(PAGE_SIZE, 1));
    expect(mmu.vm('a')).toBe(a);
    expect(mmu.totals()).toEqual({ vms: 2, residentPages: 4, poolFrames: 16384, freeFrames: 4096, reservedFrames: 12288 });
    expect(refusal(() => mmu.createVm('c', DRAM_BASE, 32 * MIB))).toEqual({
      kind: 'exhausted',
      message: 'vm "c" asks for 32 MiB of RAM but only 16 MiB of the host pool\'s 64 MiB are free (48 MiB reserved by 2 VMs)',
    });
    expect(mmu.releaseVm('a')).toBe(3);
    expect(mmu.totals()).toEqual({ vms: 1, residentPages: 1, poolFrames: 16384, freeFrames: 12288, reservedFrames: 4096 });
    mmu.createVm('c', DRAM_BASE, 32 * MIB); // a's reservation is free again
    expect(refusal(() => mmu.vm('a'))).toEqual({ kind: 'not-found', message: 'vm "a" not found' });
    expect(refusal(() => mmu.releaseVm('a')).kind).toBe('not-found');
    mmu.createVm('a', DRAM_BASE, MIB); // the id is free again
  });

  it('refuses bad ids, duplicates, bad layouts and RAM larger than the whole pool', () => {
    const mmu = new Mmu(FramePool.ofMib(16));
    mmu.createVm('web-1', DRAM_BASE, MIB);
    expect(refusal(() => mmu.createVm('web-1', DRAM_BASE, MIB))).toEqual({ kind: 'exists', message: 'vm "web-1" already exists' });
    expect(refusal(() => mmu.createVm('Bad.Id', DRAM_BASE, MIB))).toEqual({
      kind: 'invalid',
      message: 'vmId: "Bad.Id" must be 1-63 characters of a-z, 0-9 and \'-\', starting with a letter or digit',
    });
    expect(refusal(() => mmu.createVm('x', DRAM_BASE + 1, MIB)).message).toBe('ramBase 0x80000001 is not page-aligned (4096)');
    expect(refusal(() => mmu.createVm('x', DRAM_BASE, 32 * MIB))).toEqual({
      kind: 'exhausted',
      message: 'vm "x" asks for 32 MiB of RAM but the host pool holds 16 MiB',
    });
    expect(refusal(() => mmu.vm(''))).toMatchObject({ kind: 'invalid' });
  });

  it('answers calls after close as unavailable, so a page cache waits for the next mmu', async () => {
    const mmu = new Mmu(FramePool.ofMib(1));
    const vm = mmu.createVm('a', DRAM_BASE, MIB);
    vm.space.write(DRAM_BASE, Buffer.alloc(PAGE_SIZE, 1));
    mmu.close();
    expect(mmu.pool.used).toBe(0);
    const e = await vm.fetch('cpu', DRAM_BASE / PAGE_SIZE, 1, false).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MemError);
    expect(e).toMatchObject({ kind: 'unavailable', message: 'mmu is stopping: vm "a" is closed until it starts again' });
    expect(refusal(() => mmu.vm('a').space.read(DRAM_BASE, 1)).kind).toBe('unavailable');
  });

  it('keeps a hostile id out of its messages beyond a short prefix', () => {
    const mmu = new Mmu(FramePool.ofMib(1));
    const { message } = refusal(() => mmu.vm('a'.repeat(100_000)));
    expect(message.length).toBeLessThan(200);
    expect(message).toContain(`"${'a'.repeat(80)}…"`);
  });
});
