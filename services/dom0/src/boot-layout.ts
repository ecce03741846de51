// What goes where in guest RAM before the first instruction, as QEMU's `virt` lays it out
// (hw/riscv/virt.c virt_machine_done, hw/riscv/boot.c): the image, or the firmware and the
// kernel it starts; the device tree near the top of RAM; the entry the boot ROM jumps to
// with a0 = hartid and a1 = the device tree's address. Pure: no files, no network.
import { DRAM_BASE, hex, KERNEL_ENTRY } from '@splitvisor/platform';
import { buildVirtDtb } from '@splitvisor/fdt';
import { checkImageFits, type GuestImage } from './guest-image.js';

const MIB = 1024 * 1024;
/** QEMU 7.2 riscv_load_fdt: the DTB must stay 32-bit addressable, so it goes below 3 GiB. */
const FDT_LIMIT = 3072 * MIB;
const FDT_ALIGN = 2 * MIB;
/** QEMU 7.2 sizes the DTB by its unpacked 1 MiB buffer (device_tree.c FDT_MAX_SIZE) when it
 *  places it; sizing ours the same way puts it at the very address QEMU would. */
const QEMU_FDT_SIZE = 1 * MIB;

export type SegmentRole = GuestImage['role'] | 'dtb';

export interface BootSegment {
  readonly role: SegmentRole;
  readonly addr: number;
  readonly data: Buffer;
}

export interface BootLayout {
  /** image: entered directly (-bios none); firmware: firmware first, then maybe a kernel;
   *  kernel: no firmware, the kernel entered by the hypervisor (mode: hw). */
  readonly kind: 'image' | 'firmware' | 'kernel';
  /** Where the boot ROM jumps. */
  readonly entry: number;
  /** Where the firmware should continue: fw_dynamic_info.next_addr in QEMU's boot ROM (the
   *  kernel's entry; 0 without a kernel, or when there is no firmware). fw_jump ignores it. */
  readonly nextAddr: number;
  readonly dtbAddr: number;
  readonly dtb: Uint8Array;
  /** Everything to load into RAM, the device tree last. */
  readonly segments: readonly BootSegment[];
  /** Things worth a log line: where we left QEMU's way, and why. */
  readonly notes: readonly string[];
}

export interface BootInputs {
  readonly memoryBytes: number;
  readonly harts: number;
  /** The harts have the H extension (riscv,isa says "h"). */
  readonly h?: boolean;
  readonly bootargs?: string;
  /** /chosen/rng-seed bytes (QEMU gives 32 fresh ones per boot); none when absent. */
  readonly rngSeed?: Uint8Array;
  readonly image?: GuestImage;
  readonly firmware?: GuestImage;
  readonly kernel?: GuestImage;
  /** QEMU's -initrd: raw bytes, placed after the kernel as QEMU places them. */
  readonly initrd?: { readonly path: string; readonly data: Buffer };
}

/**
 * Where QEMU 7.2 loads an initrd (hw/riscv/boot.c riscv_load_initrd): far enough above the
 * kernel's entry that the kernel will not clobber it while it unpacks, half of RAM when RAM is
 * under 256 MiB, else 128 MiB.
 */
export function qemuInitrdAddr(kernelEntry: number, ramSize: number): number {
  return kernelEntry + Math.min(Math.floor(ramSize / 2), 128 * MIB);
}

/** A layout that cannot be: `field` is the config field to change. */
export class BootLayoutError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'BootLayoutError';
  }
}

/**
 * Where QEMU 7.2 puts the DTB for `virt` (hw/riscv/boot.c riscv_load_fdt): 2 MiB-aligned
 * below the end of DRAM or 3 GiB, whichever is lower, far from the kernel and initrd.
 */
export function qemuDtbAddr(ramBase: number, ramSize: number, dtbSize: number): number {
  const end = ramBase < FDT_LIMIT ? Math.min(ramBase + ramSize, FDT_LIMIT) : ramBase + ramSize;
  return Math.floor((end - Math.max(dtbSize, QEMU_FDT_SIZE)) / FDT_ALIGN) * FDT_ALIGN;
}

const range = (s: { addr: number; data: { length: number } }) => `[${hex(s.addr)}, ${hex(s.addr + s.data.length)})`;
const overlaps = (a: { addr: number; data: { length: number } }, b: { addr: number; data: { length: number } }) =>
  a.addr < b.addr + b.data.length && b.addr < a.addr + a.data.length;

export function computeBootLayout(inp: BootInputs): BootLayout {
  const { memoryBytes } = inp;
  const notes: string[] = [];
  let kind: BootLayout['kind'];
  let entry: number;
  let nextAddr = 0;
  const loads: BootSegment[] = [];
  const add = (img: GuestImage) => {
    checkImageFits(img, DRAM_BASE, memoryBytes);
    for (const s of img.segments) loads.push({ role: img.role, addr: s.addr, data: s.data });
  };

  if (inp.image) {
    if (inp.firmware || inp.kernel) throw new BootLayoutError('firmware', 'cannot be combined with image:');
    kind = 'image';
    add(inp.image);
    entry = inp.image.entry;
  } else if (inp.firmware) {
    kind = 'firmware';
    add(inp.firmware);
    entry = inp.firmware.entry;
    if (inp.kernel) {
      const fw = loads.slice();
      add(inp.kernel);
      nextAddr = inp.kernel.entry;
      for (const k of loads.filter((s) => s.role === 'kernel')) {
        const clash = fw.find((f) => overlaps(f, k));
        if (clash) {
          throw new BootLayoutError('kernel', `${inp.kernel.path} ${range(k)} overlaps firmware ${inp.firmware.path} ${range(clash)}`);
        }
      }
      if (inp.kernel.entry !== KERNEL_ENTRY) {
        notes.push(`kernel entry ${hex(inp.kernel.entry)} is not ${hex(KERNEL_ENTRY)}, where fw_jump continues: a fw_jump firmware will not enter it`);
      }
    }
  } else if (inp.kernel) {
    // mode: hw: the hypervisor plays the firmware, so nothing is loaded at 0x80000000 and
    // the kernel is entered directly (in VS-mode, with a0 = hartid and a1 = the tree).
    kind = 'kernel';
    add(inp.kernel);
    entry = inp.kernel.entry;
  } else {
    throw new BootLayoutError('image', 'is required (a path to an ELF or raw binary)');
  }

  let initrd: { start: number; end: number } | undefined;
  if (inp.initrd) {
    const kernel = inp.kernel ?? inp.image;
    if (!kernel) throw new BootLayoutError('initrd', 'needs a kernel: to read it (QEMU: -initrd needs -kernel)');
    const seg: BootSegment = { role: 'initrd', addr: qemuInitrdAddr(kernel.entry, memoryBytes), data: inp.initrd.data };
    if (seg.addr + seg.data.length > DRAM_BASE + memoryBytes) {
      throw new BootLayoutError(
        'initrd',
        `${inp.initrd.path} (${seg.data.length} bytes) at ${hex(seg.addr)}, where QEMU puts it, runs past the end of RAM ${hex(DRAM_BASE + memoryBytes)}: give the VM more memory`,
      );
    }
    const clash = loads.find((l) => overlaps(l, seg));
    if (clash) throw new BootLayoutError('initrd', `${inp.initrd.path} ${range(seg)} overlaps ${clash.role} ${range(clash)}`);
    loads.push(seg);
    initrd = { start: seg.addr, end: seg.addr + seg.data.length };
  }

  const dtb = buildVirtDtb({
    memoryBytes,
    harts: inp.harts,
    ...(inp.h && { h: true }),
    ...(initrd && { initrd }),
    ...(inp.bootargs !== undefined && { bootargs: inp.bootargs }),
    ...(inp.rngSeed && { rngSeed: inp.rngSeed }),
  });
  const dtbSeg = (addr: number): BootSegment => ({ role: 'dtb', addr, data: Buffer.from(dtb.buffer, dtb.byteOffset, dtb.byteLength) });
  let placed = dtbSeg(qemuDtbAddr(DRAM_BASE, memoryBytes, dtb.length));
  const clash = placed.addr >= DRAM_BASE ? loads.find((s) => overlaps(s, placed)) : undefined;
  if (placed.addr < DRAM_BASE || clash) {
    // Only with 2 MiB of RAM or less: QEMU refuses to start ("Some ROM regions are
    // overlapping"); we put the tree in the last pages of RAM instead, so such a VM still
    // boots as it did before it had a tree.
    const top = dtbSeg(Math.floor((DRAM_BASE + memoryBytes - dtb.length) / 4096) * 4096);
    const topClash = top.addr >= DRAM_BASE ? loads.find((s) => overlaps(s, top)) : undefined;
    if (top.addr < DRAM_BASE || topClash) {
      throw new BootLayoutError(
        'memory',
        `${memoryBytes / MIB} MiB leaves no room for the ${dtb.length}-byte device tree beside ${topClash ? `${topClash.role} ${range(topClash)}` : 'the images'}`,
      );
    }
    notes.push(
      `device tree at ${hex(top.addr)}, not QEMU's ${hex(placed.addr)}${clash ? `, which overlaps ${clash.role} ${range(clash)}` : ''} (${memoryBytes / MIB} MiB of RAM)`,
    );
    placed = top;
  }
  return { kind, entry, nextAddr, dtbAddr: placed.addr, dtb, segments: [...loads, placed], notes };
}
