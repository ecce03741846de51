import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ElfError, isElf, parseElf } from './index.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const hello = () => new Uint8Array(readFileSync(`${REPO}guests/hello/hello.elf`));

/** A 64-byte header with one program header after it, from the fields given. */
function elf(
  opts: { cls?: number; data?: number; machine?: number; phentsize?: number; type?: number; offset?: number; filesz?: number; memsz?: number } = {},
): Uint8Array {
  const b = new Uint8Array(64 + 56 + 16);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, opts.cls ?? 2, opts.data ?? 1]);
  v.setUint16(18, opts.machine ?? 243, true);
  v.setBigUint64(24, 0x8000_0000n, true); // entry
  v.setBigUint64(32, 64n, true); // phoff
  v.setUint16(54, opts.phentsize ?? 56, true);
  v.setUint16(56, 1, true);
  v.setUint32(64, opts.type ?? 1, true); // PT_LOAD
  v.setBigUint64(64 + 8, BigInt(opts.offset ?? 120), true);
  v.setBigUint64(64 + 24, 0x8000_0000n, true);
  v.setBigUint64(64 + 32, BigInt(opts.filesz ?? 16), true);
  v.setBigUint64(64 + 40, BigInt(opts.memsz ?? 32), true);
  b.fill(0xaa, 120);
  return b;
}

describe('parseElf', () => {
  it('reads the committed hello guest: its segment at DRAM, its entry and its symbols', () => {
    const img = parseElf(hello());
    expect(img.entry).toBe(0x8000_0000);
    expect(img.segments[0]!.paddr).toBe(0x8000_0000);
    expect(img.segments[0]!.data.length).toBeGreaterThan(0);
    expect(img.symbols.get('_start')).toBe(0x8000_0000);
  });

  it('gives filesz bytes as a view of the file and memsz apart (the rest is zero-filled by the loader)', () => {
    const b = elf();
    const img = parseElf(b);
    expect(img.segments).toHaveLength(1);
    const seg = img.segments[0]!;
    expect([seg.paddr, seg.data.length, seg.memsz]).toEqual([0x8000_0000, 16, 32]);
    expect(seg.data.buffer).toBe(b.buffer);
    expect(img.symbols.size).toBe(0); // no section headers: no symbols
  });

  it('names what is wrong', () => {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(64), 'not an ELF file'],
      [Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1), 'truncated ELF header'],
      [elf({ cls: 1 }), 'not a 64-bit ELF (EI_CLASS != ELFCLASS64)'],
      [elf({ data: 2 }), 'not a little-endian ELF'],
      [elf({ machine: 62 }), 'ELF machine 62 is not RISC-V (243)'],
      [elf({ phentsize: 32 }), 'program headers lie outside the file'],
      [elf({ offset: 130 }), 'segment 0 [0x82+0x10) lies outside the file'],
      [elf({ memsz: 8 }), 'segment 0 has memsz 8 < filesz 16'],
      [elf({ type: 2 }), 'ELF has no loadable segments'],
      [elf({ filesz: 0, memsz: 0 }), 'ELF has no loadable segments'],
    ];
    for (const [bytes, problem] of cases) {
      expect(() => parseElf(bytes), problem).toThrow(new ElfError(problem));
    }
  });

  it('tells an ELF by its magic', () => {
    expect(isElf(hello())).toBe(true);
    expect(isElf(Uint8Array.of(0x7f, 0x45, 0x4c))).toBe(false);
  });

  it('refuses section headers or symbols smaller than ELF64 says, with an ElfError, not a RangeError (found by fuzzing)', () => {
    const b = hello();
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    // One section header of 8 bytes, typed SHT_SYMTAB, in the file's last 8 bytes.
    v.setBigUint64(40, BigInt(b.length - 8), true);
    v.setUint16(58, 8, true);
    v.setUint16(60, 1, true);
    v.setUint32(b.length - 4, 2, true);
    expect(() => parseElf(b)).toThrow(ElfError);
    expect(() => parseElf(b)).toThrow(/section header entry size 8 < 64/);

    const c = hello();
    const w = new DataView(c.buffer, c.byteOffset, c.byteLength);
    const shoff = Number(w.getBigUint64(40, true));
    const shnum = w.getUint16(60, true);
    const symtab = Array.from({ length: shnum }, (_, i) => shoff + i * 64).find((sh) => w.getUint32(sh + 4, true) === 2)!;
    // An 8-byte symbol table at the end of the file, with 1-byte entries.
    w.setBigUint64(symtab + 24, BigInt(c.length - 8), true);
    w.setBigUint64(symtab + 32, 8n, true);
    w.setBigUint64(symtab + 56, 1n, true);
    expect(() => parseElf(c)).toThrow(/symbol table \d+ has entry size 1 < 24/);
  });
});
