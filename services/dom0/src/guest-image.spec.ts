import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@splitvisor/lab';
import { checkImageFits, readGuestImage, readKernelImage } from './guest-image.js';

const dir = mkdtempSync(join(tmpdir(), 'sv-image-'));
const file = (name: string, data: Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

describe('guest images', () => {
  it('reads the committed hello ELF: its segment at 0x80000000 and its entry', async () => {
    const img = await readGuestImage(join(REPO_ROOT, 'guests/hello/hello.elf'));
    expect(img.format).toBe('elf');
    expect(img.entry).toBe(0x80000000);
    expect(img.segments[0]!.addr).toBe(0x80000000);
    const bin = await readGuestImage(join(REPO_ROOT, 'guests/hello/hello.bin'));
    expect(bin.format).toBe('raw');
    // The ELF's loadable bytes are the raw image (objcopy -O binary of the same link).
    expect(img.segments[0]!.data.subarray(0, bin.bytes)).toEqual(bin.segments[0]!.data);
    expect(() => checkImageFits(img, 0x80000000, 1 << 20)).not.toThrow();
  });

  it('refuses an image larger than RAM, naming both sizes', async () => {
    const img = await readGuestImage(file('big.bin', Buffer.alloc(3 << 20, 1)));
    expect(() => checkImageFits(img, 0x80000000, 2 << 20)).toThrow(
      /raw image \[0x80000000, 0x80300000\) \(3 MiB\) does not fit in RAM \[0x80000000, 0x80200000\) \(2 MiB\)/,
    );
  });

  it('loads a raw kernel at 0x80200000, where fw_jump continues; an ELF one where it links', async () => {
    const k = await readKernelImage(file('u-boot.bin', Buffer.alloc(4096, 0x13)));
    expect(k).toMatchObject({ role: 'kernel', format: 'raw', entry: 0x80200000, segments: [{ addr: 0x80200000 }] });
    const e = await readKernelImage(join(REPO_ROOT, 'guests/hello/hello.elf'));
    expect(e).toMatchObject({ role: 'kernel', format: 'elf', entry: 0x80000000 });
    await expect(readKernelImage(join(dir, 'nope.bin'))).rejects.toThrow(/^kernel .*nope.bin: no such file$/);
    await expect(readGuestImage(join(dir, 'nope.bin'), 'firmware')).rejects.toThrow(/^firmware .*nope.bin: no such file$/);
  });

  it('names a missing, empty or foreign file', async () => {
    await expect(readGuestImage(join(dir, 'nope.elf'))).rejects.toThrow(/nope.elf: no such file/);
    await expect(readGuestImage(file('empty.bin', Buffer.alloc(0)))).rejects.toThrow(/empty.bin: is empty/);
    await expect(readGuestImage(dir)).rejects.toThrow(/is not a regular file/);
    const x86 = Buffer.alloc(64);
    x86.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    x86.writeUInt16LE(62, 18);
    await expect(readGuestImage(file('x86.elf', x86))).rejects.toThrow(/ELF machine 62 is not RISC-V \(243\)/);
    const elf32 = Buffer.from(x86);
    elf32[4] = 1;
    await expect(readGuestImage(file('e32.elf', elf32))).rejects.toThrow(/not a 64-bit ELF/);
    const trunc = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    await expect(readGuestImage(file('t.elf', trunc))).rejects.toThrow(/truncated ELF header/);
  });
});
