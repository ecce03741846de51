import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BOOT_ROM, DRAM_BASE, KERNEL_ENTRY, type MmioOffset } from '@splitvisor/platform';
import { qemuSystem, requireOrSkip } from '@splitvisor/testing';
import { bootRom, BootRom, FW_DYNAMIC_INFO_SIZE, RESET_VEC_CODE, RESET_VEC_SIZE } from './boot-rom.js';
import type { LocalAccessSize } from './local-device.js';

const off = (n: number) => n as MmioOffset;

// Hand assembly from the base ISA formats (unprivileged spec 2.3), independent of the
// constants under test.
const T0 = 5;
const A0 = 10;
const A1 = 11;
const A2 = 12;
const iType = (imm: number, rs1: number, f3: number, rd: number, op: number) => ((imm << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const auipc = (rd: number, imm20: number) => ((imm20 << 12) | (rd << 7) | 0x17) >>> 0;
const addi = (rd: number, rs1: number, imm: number) => iType(imm, rs1, 0, rd, 0x13);
const csrrs = (rd: number, csr: number, rs1: number) => iType(csr, rs1, 2, rd, 0x73);
const ld = (rd: number, imm: number, rs1: number) => iType(imm, rs1, 3, rd, 0x03);
const jalr = (rd: number, rs1: number, imm: number) => iType(imm, rs1, 0, rd, 0x67);
const MHARTID = 0xf14;

function words(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, i) => v.getUint32(i * 4, true));
}

describe('bootRom', () => {
  const rom = bootRom({ entry: DRAM_BASE, dtbAddr: 0x87e00000 });

  it('is the reset vector then fw_dynamic_info: 40 + 48 bytes', () => {
    expect(rom.length).toBe(RESET_VEC_SIZE + FW_DYNAMIC_INFO_SIZE);
    expect(rom.length).toBe(88);
  });

  it('decodes to auipc/addi/csrr/ld/ld/jr as assembled by hand', () => {
    expect(words(rom).slice(0, 6)).toEqual([
      auipc(T0, 0), // t0 = 0x1000
      addi(A2, T0, RESET_VEC_SIZE), // a2 = &fw_dyn
      csrrs(A0, MHARTID, 0), // csrr a0, mhartid
      ld(A1, 32, T0), // a1 = fdt_laddr
      ld(T0, 24, T0), // t0 = start
      jalr(0, T0, 0), // jr t0
    ]);
    expect(words(rom).slice(0, 6)).toEqual([...RESET_VEC_CODE]);
    // QEMU's literals (hw/riscv/boot.c), for a reader checking by eye.
    expect(RESET_VEC_CODE).toEqual([0x00000297, 0x02828613, 0xf1402573, 0x0202b583, 0x0182b283, 0x00028067]);
  });

  it('holds start and fdt_laddr as dwords at +24 and +32, where the lds look', () => {
    expect(words(rom).slice(6, 10)).toEqual([0x80000000, 0, 0x87e00000, 0]);
    const high = bootRom({ entry: 0x1_2345_6780, dtbAddr: 0xff_0000_0000 });
    expect(words(high).slice(6, 10)).toEqual([0x2345_6780, 0x1, 0, 0xff]);
  });

  it('ends in fw_dynamic_info: OSBI magic, version 2, next_addr, next_mode S, options 0, boot_hart 0', () => {
    expect(words(rom).slice(10)).toEqual([0x4942534f, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
    const ascii = new TextDecoder().decode(rom.subarray(40, 44));
    expect(ascii).toBe('OSBI');
  });

  it('takes fw_dynamic_info fields, boot_hart -1 as all ones', () => {
    const r = bootRom({ entry: DRAM_BASE, dtbAddr: 0x87e00000, fwDynamicInfo: { nextAddr: KERNEL_ENTRY, bootHart: -1, options: 1 } });
    expect(words(r).slice(10)).toEqual([0x4942534f, 0, 2, 0, 0x80200000, 0, 1, 0, 1, 0, 0xffffffff, 0xffffffff]);
  });

  it('refuses addresses a number cannot hold exactly', () => {
    expect(() => bootRom({ entry: 2 ** 64, dtbAddr: 0 })).toThrow(/entry/);
    expect(() => bootRom({ entry: 0, dtbAddr: 1.5 })).toThrow(/dtbAddr/);
  });

  // Differential check: QEMU's own ROM, read through its monitor before the first instruction.
  it('matches qemu-system-riscv64 -M virt word for word', ({ skip }) => {
    requireOrSkip(skip, [qemuSystem()], 'SPLITVISOR_ALLOW_NO_QEMU', "This test compares the boot ROM with QEMU's");
    const r = spawnSync(
      'qemu-system-riscv64',
      ['-M', 'virt', '-m', '128M', '-bios', 'none', '-display', 'none', '-serial', 'none', '-monitor', 'stdio', '-S'],
      { input: 'xp /24wx 0x1000\nquit\n', encoding: 'utf8', timeout: 20_000 },
    );
    const dumped: number[] = [];
    for (const m of r.stdout.matchAll(/^0*1[0-9a-f]{3}: ((?:0x[0-9a-f]{8} ?)+)/gm)) {
      for (const w of m[1]!.trim().split(' ')) dumped.push(Number(w));
    }
    expect(dumped).toHaveLength(24);
    // -bios none: QEMU still jumps to DRAM; the fdt sits 2 MiB-aligned below the end of 128 MiB.
    const ours = bootRom({ entry: DRAM_BASE, dtbAddr: 0x87e00000 });
    expect(dumped).toEqual([...words(ours), 0, 0]);
  }, 30_000);
});

describe('BootRom device', () => {
  const image = bootRom({ entry: DRAM_BASE, dtbAddr: 0x87e00000 });
  const dev = new BootRom(image);
  const out = new Int32Array(2);
  const read = (o: number, size: LocalAccessSize): [number, number] => {
    expect(dev.read(off(o), size, out)).toEqual({ ok: true });
    return [out[0]! >>> 0, out[1]! >>> 0];
  };

  it('is sized to the machine table window', () => {
    expect(dev.size).toBe(BOOT_ROM.size);
  });

  it('reads 1, 2, 4 and 8 bytes little-endian, at any alignment', () => {
    expect(read(0, 4)).toEqual([0x00000297, 0]);
    expect(read(0, 1)).toEqual([0x97, 0]);
    expect(read(1, 2)).toEqual([0x0002, 0]);
    expect(read(4, 2)).toEqual([0x8613, 0]);
    expect(read(0x18, 8)).toEqual([0x80000000, 0]);
    expect(read(0x28, 8)).toEqual([0x4942534f, 0]);
    expect(read(0x14, 8)).toEqual([0x00028067, 0x80000000]);
    expect(read(2, 4)).toEqual([0x86130000, 0x0]);
  });

  it('reads zeros past the image and refuses reads past the window', () => {
    expect(read(88, 8)).toEqual([0, 0]);
    expect(read(BOOT_ROM.size - 8, 8)).toEqual([0, 0]);
    expect(dev.read(off(BOOT_ROM.size - 4), 8, out)).toMatchObject({ ok: false });
    expect(dev.read(off(BOOT_ROM.size), 1, out)).toMatchObject({ ok: false });
  });

  it('refuses writes of every size, and the bytes stay', () => {
    for (const size of [1, 2, 4, 8] as LocalAccessSize[]) {
      expect(dev.write(off(0), size, 0x13, 0)).toMatchObject({ ok: false, reason: /read-only/ });
    }
    expect(read(0, 4)).toEqual([0x00000297, 0]);
  });

  it("discards writes instead when asked, as QEMU's TCG does with ROM", () => {
    const quiet = new BootRom(image, { writes: 'discard' });
    expect(quiet.write(off(0), 4, 0x13, 0)).toEqual({ ok: true });
    expect(quiet.read(off(0), 4, out)).toEqual({ ok: true });
    expect(out[0]).toBe(0x00000297);
  });

  it('refuses an image larger than the window', () => {
    expect(() => new BootRom(new Uint8Array(BOOT_ROM.size + 1))).toThrow(RangeError);
  });
});
