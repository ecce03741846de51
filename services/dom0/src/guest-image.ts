// Guest images: an ELF64 RISC-V executable (its PT_LOAD segments at their physical
// addresses, entry from the header) or a raw binary (at DRAM_BASE, entered there), the two
// forms `qemu-system-riscv64 -M virt -bios none -kernel` accepts. The same two forms serve
// as firmware (`-bios`, raw at DRAM_BASE) and as the kernel a firmware starts (`-kernel`
// after -bios, raw at KERNEL_ENTRY: QEMU hw/riscv/boot.c riscv_load_kernel).
import { readFile, stat } from 'node:fs/promises';
import { ElfError, isElf, parseElf, type ElfImage } from '@splitvisor/elf';
import { DRAM_BASE, hex, KERNEL_ENTRY } from '@splitvisor/platform';

export interface ImageSegment {
  addr: number;
  data: Buffer;
}

/** What a file is to the VM: named in every message about it. */
export type ImageRole = 'image' | 'firmware' | 'kernel' | 'initrd';

export interface GuestImage {
  path: string;
  role: ImageRole;
  format: 'elf' | 'raw';
  entry: number;
  segments: ImageSegment[];
  bytes: number;
}

export class ImageError extends Error {
  constructor(path: string, problem: string, role: ImageRole = 'image') {
    super(`${role} ${path}: ${problem}`);
    this.name = 'ImageError';
  }
}

function readElf(path: string, buf: Buffer, role: ImageRole): GuestImage {
  let elf: ElfImage;
  try {
    elf = parseElf(buf);
  } catch (e) {
    if (e instanceof ElfError) throw new ImageError(path, e.message, role);
    throw e;
  }
  // memsz beyond filesz is .bss: guest RAM is demand-zero, but load zeros explicitly so a
  // reused frame can never leak old bytes into it.
  const segments = elf.segments.map((seg): ImageSegment => {
    const data = Buffer.alloc(seg.memsz);
    data.set(seg.data);
    return { addr: seg.paddr, data };
  });
  return { path, role, format: 'elf', entry: elf.entry, segments, bytes: segments.reduce((n, s) => n + s.data.length, 0) };
}

/**
 * Reads an ELF or raw image. A raw one is loaded at `rawAt` and entered there: DRAM_BASE for
 * an image or firmware, KERNEL_ENTRY for a kernel (see readKernelImage).
 */
export async function readGuestImage(path: string, role: ImageRole = 'image', rawAt: number = DRAM_BASE): Promise<GuestImage> {
  const buf = await readImageFile(path, role);
  if (isElf(buf)) return readElf(path, buf, role);
  return { path, role, format: 'raw', entry: rawAt, segments: [{ addr: rawAt, data: buf }], bytes: buf.length };
}

/** An initial RAM disk (QEMU's -initrd): bytes loaded as they are, never parsed. */
export async function readInitrd(path: string): Promise<{ path: string; data: Buffer }> {
  return { path, data: await readImageFile(path, 'initrd') };
}

/** A file's bytes, refused with an ImageError naming it when missing, empty or too large. */
async function readImageFile(path: string, role: ImageRole): Promise<Buffer> {
  const fail = (problem: string) => new ImageError(path, problem, role);
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw fail('is not a regular file');
    size = st.size;
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message);
  }
  if (size === 0) throw fail('is empty');
  if (size > 4 * 1024 * 1024 * 1024) throw fail(`is ${size} bytes, larger than any guest RAM`);
  return readFile(path);
}

/** The payload a firmware starts: an ELF where it links, or a raw binary at 0x80200000,
 *  where fw_jump continues in S-mode (QEMU -bios <fw> -kernel <this>). */
export function readKernelImage(path: string): Promise<GuestImage> {
  return readGuestImage(path, 'kernel', KERNEL_ENTRY);
}

/** Checks that every segment and the entry point lie in RAM [base, base+size). */
export function checkImageFits(img: GuestImage, ramBase: number, ramSize: number): void {
  const end = ramBase + ramSize;
  const mib = (n: number) => `${(n / 1048576).toFixed(n % 1048576 ? 2 : 0)} MiB`;
  for (const s of img.segments) {
    if (s.addr < ramBase || s.addr + s.data.length > end) {
      throw new ImageError(
        img.path,
        `${img.format === 'raw' ? `raw ${img.role}` : 'segment'} [${hex(s.addr)}, ${hex(s.addr + s.data.length)}) (${mib(s.data.length)}) does not fit in RAM [${hex(ramBase)}, ${hex(end)}) (${mib(ramSize)})`,
        img.role,
      );
    }
  }
  if (img.entry < ramBase || img.entry >= end) throw new ImageError(img.path, `entry point ${hex(img.entry)} lies outside RAM`, img.role);
}
