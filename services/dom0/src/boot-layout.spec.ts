import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/lab';
import { findNode, getProp, propCells, propStrings, readFdt } from '@splitvisor/fdt';
import { BootLayoutError, computeBootLayout, qemuDtbAddr, qemuInitrdAddr } from './boot-layout.js';
import { readGuestImage, type GuestImage, type ImageRole } from './guest-image.js';

const MIB = 1024 * 1024;
const raw = (role: ImageRole, addr: number, bytes: number): GuestImage => ({
  path: `/x/${role}.bin`,
  role,
  format: 'raw',
  entry: addr,
  segments: [{ addr, data: Buffer.alloc(bytes, 0x13) }],
  bytes,
});
const elf = (role: ImageRole, entry: number, addr: number, bytes: number): GuestImage => ({ ...raw(role, addr, bytes), format: 'elf', entry });

describe('boot layout', () => {
  it('puts an initrd where QEMU 7.2 does and names it in /chosen (linux,initrd-start/end)', () => {
    // `info roms` / dumpdtb of qemu-system-riscv64 7.2 -M virt -bios fw_jump.bin -kernel Image -initrd x
    expect(qemuInitrdAddr(0x80200000, 256 * MIB)).toBe(0x88200000);
    expect(qemuInitrdAddr(0x80200000, 128 * MIB)).toBe(0x84200000);
    const l = computeBootLayout({
      memoryBytes: 256 * MIB,
      harts: 1,
      firmware: raw('firmware', 0x80000000, 4096),
      kernel: raw('kernel', 0x80200000, 8192),
      initrd: { path: '/x/initrd.gz', data: Buffer.alloc(1000, 7) },
    });
    expect(l.segments.map((seg) => [seg.role, seg.addr, seg.data.length])).toEqual([
      ['firmware', 0x80000000, 4096],
      ['kernel', 0x80200000, 8192],
      ['initrd', 0x88200000, 1000],
      ['dtb', 0x8fe00000, l.dtb.length],
    ]);
    const chosen = findNode(readFdt(l.dtb).root, '/chosen')!;
    expect(propCells(getProp(chosen, 'linux,initrd-start')!)).toEqual([0x88200000]);
    expect(propCells(getProp(chosen, 'linux,initrd-end')!)).toEqual([0x88200000 + 1000]);
  });

  it('refuses an initrd that runs past the end of RAM or over an image, naming the field', () => {
    const base = { harts: 1, firmware: raw('firmware', 0x80000000, 4096), kernel: raw('kernel', 0x80200000, 8192) };
    expect(() => computeBootLayout({ ...base, memoryBytes: 64 * MIB, initrd: { path: '/x/big', data: Buffer.alloc(31 * MIB) } })).toThrow(
      /^initrd: \/x\/big \(32505856 bytes\) at 0x82200000, where QEMU puts it, runs past the end of RAM 0x84000000: give the VM more memory$/,
    );
    const hugeKernel = raw('kernel', 0x80200000, 200 * MIB);
    expect(() => computeBootLayout({ ...base, kernel: hugeKernel, memoryBytes: 1024 * MIB, initrd: { path: '/x/i', data: Buffer.alloc(10) } })).toThrow(
      /^initrd: \/x\/i \[0x88200000, 0x8820000a\) overlaps kernel/,
    );
    try {
      computeBootLayout({ ...base, memoryBytes: 64 * MIB, initrd: { path: '/x/big', data: Buffer.alloc(31 * MIB) } });
    } catch (e) {
      expect(e).toBeInstanceOf(BootLayoutError);
      expect((e as BootLayoutError).field).toBe('initrd');
    }
  });

  it('puts the DTB where QEMU 7.2 does: 2 MiB-aligned below the end of RAM or 3 GiB', () => {
    // `info roms` of qemu-system-riscv64 7.2 -M virt -m <size>: the "fdt" blob's address.
    const qemu: [number, number][] = [
      [3 * MIB, 0x80200000],
      [5 * MIB, 0x80400000],
      [64 * MIB, 0x83e00000],
      [256 * MIB, 0x8fe00000],
      [3072 * MIB, 0xbfe00000],
      [4096 * MIB, 0xbfe00000],
    ];
    for (const [ram, addr] of qemu) expect(qemuDtbAddr(0x80000000, ram, 4096), `${ram / MIB} MiB`).toBe(addr);
  });

  it('an image alone: loaded as today, entered directly, the DTB at the top in a1', async () => {
    const hello = await readGuestImage(join(REPO_ROOT, 'guests/hello/hello.elf'));
    const l = computeBootLayout({ memoryBytes: 64 * MIB, harts: 1, image: hello });
    expect(l.kind).toBe('image');
    expect(l.entry).toBe(0x80000000);
    expect(l.nextAddr).toBe(0);
    expect(l.dtbAddr).toBe(0x83e00000);
    expect(l.segments.map((s) => [s.role, s.addr])).toEqual([...hello.segments.map((s) => ['image', s.addr]), ['dtb', 0x83e00000]]);
    expect(l.segments[0]!.data).toBe(hello.segments[0]!.data);
    expect(l.notes).toEqual([]);
    const { root } = readFdt(l.segments.at(-1)!.data);
    expect(propCells(getProp(findNode(root, '/memory@80000000')!, 'reg')!)).toEqual([0, 0x80000000, 0, 64 * MIB]);
    expect(getProp(findNode(root, '/chosen')!, 'bootargs')).toBeUndefined();
  });

  it('firmware and a raw kernel: firmware at 0x80000000 entered first, kernel at 0x80200000', () => {
    const l = computeBootLayout({
      memoryBytes: 256 * MIB,
      harts: 1,
      bootargs: 'console=ttyS0',
      rngSeed: new Uint8Array(32).fill(7),
      firmware: raw('firmware', 0x80000000, 0x40000),
      kernel: raw('kernel', 0x80200000, 0x80000),
    });
    expect(l.kind).toBe('firmware');
    expect(l.entry).toBe(0x80000000);
    expect(l.nextAddr).toBe(0x80200000);
    expect(l.segments.map((s) => [s.role, s.addr, s.data.length])).toEqual([
      ['firmware', 0x80000000, 0x40000],
      ['kernel', 0x80200000, 0x80000],
      ['dtb', 0x8fe00000, l.dtb.length],
    ]);
    const { root } = readFdt(l.dtb);
    expect(propStrings(getProp(findNode(root, '/chosen')!, 'bootargs')!)).toEqual(['console=ttyS0']);
    expect(getProp(findNode(root, '/chosen')!, 'rng-seed')).toEqual(new Uint8Array(32).fill(7));
  });

  it('firmware alone is a boot too (a firmware with its payload built in)', () => {
    const l = computeBootLayout({ memoryBytes: 64 * MIB, harts: 1, firmware: elf('firmware', 0x80000000, 0x80000000, 4096) });
    expect(l.segments.map((s) => s.role)).toEqual(['firmware', 'dtb']);
    expect(l.nextAddr).toBe(0);
  });

  it('refuses a kernel that overlaps the firmware, naming both ranges', () => {
    expect(() =>
      computeBootLayout({ memoryBytes: 64 * MIB, harts: 1, firmware: raw('firmware', 0x80000000, 3 * MIB), kernel: raw('kernel', 0x80200000, 4096) }),
    ).toThrow(/^kernel: \/x\/kernel.bin \[0x80200000, 0x80201000\) overlaps firmware \/x\/firmware.bin \[0x80000000, 0x80300000\)$/);
  });

  it('says when an ELF kernel is not where fw_jump will jump', () => {
    const l = computeBootLayout({
      memoryBytes: 64 * MIB,
      harts: 1,
      firmware: raw('firmware', 0x80000000, 4096),
      kernel: elf('kernel', 0x80400000, 0x80400000, 4096),
    });
    expect(l.notes).toEqual(['kernel entry 0x80400000 is not 0x80200000, where fw_jump continues: a fw_jump firmware will not enter it']);
  });

  it('keeps the old messages for an image that does not fit', () => {
    expect(() => computeBootLayout({ memoryBytes: 2 * MIB, harts: 1, image: raw('image', 0x80000000, 2 * MIB + 1) })).toThrow(
      /image \/x\/image.bin: raw image \[0x80000000, 0x80200001\) \(2.00 MiB\) does not fit in RAM \[0x80000000, 0x80200000\) \(2 MiB\)/,
    );
    expect(() =>
      computeBootLayout({ memoryBytes: 64 * MIB, harts: 1, firmware: raw('firmware', 0x80000000, 4096), kernel: raw('kernel', 0x80200000, 64 * MIB) }),
    ).toThrow(/^kernel \/x\/kernel.bin: raw kernel \[0x80200000, 0x84200000\)/);
  });

  it('with 2 MiB of RAM or less, where QEMU refuses to start, puts the DTB in the last pages', () => {
    const l = computeBootLayout({ memoryBytes: 1 * MIB, harts: 1, image: raw('image', 0x80000000, 0xd4) });
    const end = 0x80100000;
    expect(l.dtbAddr % 4096).toBe(0);
    expect(l.dtbAddr + l.dtb.length).toBeLessThanOrEqual(end);
    expect(l.dtbAddr).toBeGreaterThan(end - 4096 - l.dtb.length);
    expect(l.notes[0]).toMatch(/^device tree at 0x800ff000, not QEMU's 0x80000000, which overlaps image \[0x80000000, 0x800000d4\) \(1 MiB of RAM\)$/);
  });

  it('refuses when RAM has no room left for the DTB, naming memory', () => {
    const full = () => computeBootLayout({ memoryBytes: 1 * MIB, harts: 1, image: raw('image', 0x80000000, MIB - 100) });
    expect(full).toThrow(BootLayoutError);
    expect(full).toThrow(/^memory: 1 MiB leaves no room for the \d+-byte device tree beside image \[0x80000000, 0x800fff9c\)$/);
  });
});
