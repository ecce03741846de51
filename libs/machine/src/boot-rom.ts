// The reset vector QEMU's virt machine puts in its mask ROM at 0x1000, byte for byte
// (hw/riscv/boot.c riscv_setup_rom_reset_vec and riscv_rom_copy_firmware_info, rv64):
//
//   0x00  00000297  1: auipc t0, %pcrel_hi(fw_dyn)     t0 = 0x1000
//   0x04  02828613     addi  a2, t0, %pcrel_lo(1b)     a2 = &fw_dyn (0x1028)
//   0x08  f1402573     csrr  a0, mhartid
//   0x0c  0202b583     ld    a1, 32(t0)                a1 = fdt_laddr
//   0x10  0182b283     ld    t0, 24(t0)                t0 = start
//   0x14  00028067     jr    t0
//   0x18  start:     .dword  first-stage entry (firmware at DRAM base)
//   0x20  fdt_laddr: .dword  device tree address
//   0x28  fw_dyn:    struct fw_dynamic_info (include/hw/riscv/boot_opensbi.h), six
//                    target_long (8 bytes on rv64): magic 0x4942534f ("OSBI"), version 2,
//                    next_addr (QEMU: the kernel entry, 0 without -kernel), next_mode
//                    (QEMU: 1 = S), options 0, boot_hart 0.
//
// The reset vector is ten 32-bit words (40 bytes), so fw_dyn sits at +0x28 and QEMU's
// `addi a2, t0, 0x28` reaches it; OpenSBI's fw_dynamic reads it through a2, other firmware
// (fw_jump) ignores a2. Everything is little-endian. The rest of the ROM reads as zero.
import { BOOT_ROM, type MmioOffset } from '@splitvisor/platform';
import { answer, refuse, LOCAL_OK, type LocalAccessSize, type LocalDevice, type LocalResult } from './local-device.js';

/** The six instructions, in order (rv64 variant: ld, not lw). */
export const RESET_VEC_CODE: readonly number[] = Object.freeze([0x00000297, 0x02828613, 0xf1402573, 0x0202b583, 0x0182b283, 0x00028067]);
/** Bytes of QEMU's reset_vec[10]; where fw_dynamic_info starts. */
export const RESET_VEC_SIZE = 40;
/** sizeof(struct fw_dynamic_info) on rv64: six 8-byte fields. */
export const FW_DYNAMIC_INFO_SIZE = 48;
export const FW_DYNAMIC_INFO_MAGIC = 0x4942534f;
export const FW_DYNAMIC_INFO_VERSION = 2;
export const FW_DYNAMIC_INFO_NEXT_MODE_U = 0;
export const FW_DYNAMIC_INFO_NEXT_MODE_S = 1;
export const FW_DYNAMIC_INFO_NEXT_MODE_M = 3;

export interface FwDynamicInfo {
  /** Where the firmware continues (QEMU: the -kernel entry, else 0). */
  nextAddr: number;
  /** Mode it continues in (QEMU: FW_DYNAMIC_INFO_NEXT_MODE_S). */
  nextMode: number;
  /** OpenSBI options bits (QEMU: 0). */
  options: number;
  /** Preferred boot hart, -1 for OpenSBI's relocation lottery (QEMU: 0). */
  bootHart: number;
}

export interface BootRomOptions {
  /** First-stage entry, where every hart jumps (QEMU: DRAM base, the firmware). */
  entry: number;
  /** Device tree address, handed over in a1. */
  dtbAddr: number;
  /** Fields of fw_dynamic_info; QEMU's values where left out. */
  fwDynamicInfo?: Partial<FwDynamicInfo>;
}

/** QEMU's reset vector plus fw_dynamic_info: 88 bytes to place at the boot ROM's base. */
export function bootRom(opts: BootRomOptions): Uint8Array {
  const info: FwDynamicInfo = { nextAddr: 0, nextMode: FW_DYNAMIC_INFO_NEXT_MODE_S, options: 0, bootHart: 0, ...opts.fwDynamicInfo };
  const bytes = new Uint8Array(RESET_VEC_SIZE + FW_DYNAMIC_INFO_SIZE);
  const v = new DataView(bytes.buffer);
  RESET_VEC_CODE.forEach((insn, i) => v.setUint32(i * 4, insn, true));
  putDword(v, 0x18, opts.entry, 'entry');
  putDword(v, 0x20, opts.dtbAddr, 'dtbAddr');
  const fields = [FW_DYNAMIC_INFO_MAGIC, FW_DYNAMIC_INFO_VERSION, info.nextAddr, info.nextMode, info.options, info.bootHart];
  const names = ['magic', 'version', 'nextAddr', 'nextMode', 'options', 'bootHart'];
  fields.forEach((n, i) => putDword(v, RESET_VEC_SIZE + i * 8, n, names[i]!));
  return bytes;
}

/** A 64-bit little-endian field from a safe integer; negatives as two's complement (-1 = all ones). */
function putDword(v: DataView, at: number, n: number, what: string): void {
  if (!Number.isSafeInteger(n)) throw new RangeError(`boot ROM ${what} ${n} is not a safe integer`);
  v.setUint32(at, n >>> 0, true);
  v.setUint32(at + 4, Math.floor(n / 4294967296) >>> 0, true);
}

export interface BootRomDeviceOptions {
  /** Device name (default "mrom"). */
  name?: string;
  /** Window size (default BOOT_ROM.size, 0xf000). */
  size?: number;
  /**
   * What a store does. 'refuse' (default): an access fault. 'discard': ignored, which is
   * what QEMU's TCG does with stores to ROM (accel/tcg/cputlb.c, TLB_DISCARD_WRITE);
   * use it for differential runs against QEMU.
   */
  writes?: 'refuse' | 'discard';
}

/** The mask ROM: `image` at offset 0, zeros after it, read-only. */
export class BootRom implements LocalDevice {
  readonly name: string;
  readonly size: number;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly discard: boolean;

  constructor(image: Uint8Array, opts: BootRomDeviceOptions = {}) {
    this.name = opts.name ?? 'mrom';
    this.size = opts.size ?? BOOT_ROM.size;
    if (image.length > this.size) throw new RangeError(`boot ROM image of ${image.length} bytes does not fit in ${this.size}`);
    this.bytes = new Uint8Array(this.size);
    this.bytes.set(image);
    this.view = new DataView(this.bytes.buffer);
    this.discard = opts.writes === 'discard';
  }

  /** Any alignment: the ROM is memory, not registers (alignment is the hart's concern). */
  read(offset: MmioOffset, size: LocalAccessSize, out: Int32Array): LocalResult {
    if (offset < 0 || offset + size > this.size) return refuse(this.name, 'read', offset, size, `outside the ${this.size}-byte ROM`);
    const v = this.view;
    switch (size) {
      case 1:
        return answer(out, v.getUint8(offset), 0);
      case 2:
        return answer(out, v.getUint16(offset, true), 0);
      case 4:
        return answer(out, v.getInt32(offset, true), 0);
      default:
        return answer(out, v.getInt32(offset, true), v.getInt32(offset + 4, true));
    }
  }

  write(offset: MmioOffset, size: LocalAccessSize, lo: number, _hi: number): LocalResult {
    if (this.discard && offset >= 0 && offset + size <= this.size) return LOCAL_OK;
    return refuse(this.name, 'write', offset, size, `the boot ROM is read-only (value ${lo >>> 0})`);
  }

  reset(): void {
    // Read-only: nothing to reset.
  }
}
