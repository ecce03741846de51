// A minimal ELF64 reader for `splitvisor exec`: the PT_LOAD segments (placed at their
// physical addresses, as QEMU's -kernel loader does) and the symbol table, from which
// HTIF's `tohost`/`fromhost` are found. Little-endian RISC-V only.

export interface ElfSegment {
  /** Physical address (p_paddr). */
  paddr: number;
  /** Bytes from the file (p_filesz); the rest up to memsz is zero. */
  data: Uint8Array;
  memsz: number;
}

export interface ElfImage {
  entry: number;
  segments: ElfSegment[];
  /** Symbol values by name (functions, objects, notypes). */
  symbols: Map<string, number>;
}

const EM_RISCV = 243;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

export function parseElf(bytes: Uint8Array): ElfImage {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isElf(bytes)) throw new Error('not an ELF file');
  if (bytes[4] !== 2) throw new Error('not a 64-bit ELF (ELFCLASS64 expected)');
  if (bytes[5] !== 1) throw new Error('not a little-endian ELF');
  const machine = dv.getUint16(18, true);
  if (machine !== EM_RISCV) throw new Error(`ELF machine ${machine} is not RISC-V (${EM_RISCV})`);
  const u64 = (o: number): number => {
    const v = dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`ELF value 0x${v.toString(16)} beyond 2^53`);
    return Number(v);
  };
  const entry = u64(24);
  const phoff = u64(32);
  const shoff = u64(40);
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (dv.getUint32(p, true) !== PT_LOAD) continue;
    const offset = u64(p + 8);
    const paddr = u64(p + 24);
    const filesz = u64(p + 32);
    const memsz = u64(p + 40);
    if (offset + filesz > bytes.length) throw new Error(`PT_LOAD ${i} lies beyond the end of the file`);
    if (memsz === 0) continue;
    segments.push({ paddr, data: bytes.subarray(offset, offset + filesz), memsz });
  }

  const symbols = new Map<string, number>();
  for (let i = 0; i < shnum && shoff !== 0; i++) {
    const sh = shoff + i * shentsize;
    if (dv.getUint32(sh + 4, true) !== SHT_SYMTAB) continue;
    const symOff = u64(sh + 24);
    const symSize = u64(sh + 32);
    const link = dv.getUint32(sh + 40, true);
    const entsize = u64(sh + 56) || 24;
    const strSh = shoff + link * shentsize;
    const strOff = u64(strSh + 24);
    for (let s = symOff; s + entsize <= symOff + symSize; s += entsize) {
      const name = cString(bytes, strOff + dv.getUint32(s, true));
      if (name !== '' && !symbols.has(name)) symbols.set(name, u64(s + 8));
    }
  }
  return { entry, segments, symbols };
}

function cString(bytes: Uint8Array, at: number): string {
  let end = at;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder('latin1').decode(bytes.subarray(at, end));
}
