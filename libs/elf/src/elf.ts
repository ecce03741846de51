// The one ELF64 reader of the repo (dom0's image loader and `splitvisor exec`): the PT_LOAD
// segments, placed at their physical addresses as QEMU's -kernel loader does, the entry,
// and the symbol table, from which HTIF's `tohost`/`fromhost` are found. Little-endian
// RISC-V executables only (ELF-64 Object File Format 1.5; psABI: EM_RISCV = 243).

export interface ElfSegment {
  /** Physical address (p_paddr). */
  readonly paddr: number;
  /** Bytes from the file (p_filesz), a view into the file; the rest up to memsz is zero. */
  readonly data: Uint8Array;
  readonly memsz: number;
}

export interface ElfImage {
  readonly entry: number;
  /** The PT_LOAD segments with memsz > 0, in program-header order; never empty. */
  readonly segments: readonly ElfSegment[];
  /** Symbol values by name (the first of a name wins). */
  readonly symbols: ReadonlyMap<string, number>;
}

/** What is wrong with the file, in words a message can carry after the file's name. */
export class ElfError extends Error {
  override readonly name = 'ElfError';
}

export const EM_RISCV = 243;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

const hex = (n: number) => '0x' + n.toString(16);

/** Reads an ELF64 RISC-V executable; throws ElfError naming the first problem. */
export function parseElf(bytes: Uint8Array): ElfImage {
  if (!isElf(bytes)) throw new ElfError('not an ELF file');
  if (bytes.length < EHDR_SIZE) throw new ElfError('truncated ELF header');
  if (bytes[4] !== 2) throw new ElfError('not a 64-bit ELF (EI_CLASS != ELFCLASS64)');
  if (bytes[5] !== 1) throw new ElfError('not a little-endian ELF');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_RISCV) throw new ElfError(`ELF machine ${machine} is not RISC-V (${EM_RISCV})`);
  // Addresses are numbers: exact below 2^53, which holds every address of the machine.
  const u64 = (o: number): number => {
    const v = dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`ELF value 0x${v.toString(16)} beyond 2^53`);
    return Number(v);
  };
  const entry = u64(24);
  const phoff = u64(32);
  const shoff = u64(40);
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  if (phentsize < PHDR_SIZE || phoff + phnum * phentsize > bytes.length) throw new ElfError('program headers lie outside the file');

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (dv.getUint32(p, true) !== PT_LOAD) continue;
    const offset = u64(p + 8);
    const paddr = u64(p + 24);
    const filesz = u64(p + 32);
    const memsz = u64(p + 40);
    if (offset + filesz > bytes.length) throw new ElfError(`segment ${i} [${hex(offset)}+${hex(filesz)}) lies outside the file`);
    if (memsz < filesz) throw new ElfError(`segment ${i} has memsz ${memsz} < filesz ${filesz}`);
    if (memsz > 0) segments.push({ paddr, data: bytes.subarray(offset, offset + filesz), memsz });
  }
  if (segments.length === 0) throw new ElfError('ELF has no loadable segments');

  const symbols = new Map<string, number>();
  if (shoff !== 0 && shnum > 0 && shentsize < SHDR_SIZE) throw new ElfError(`section header entry size ${shentsize} < ${SHDR_SIZE}`);
  if (shoff !== 0 && shoff + shnum * shentsize <= bytes.length) {
    for (let i = 0; i < shnum; i++) {
      const sh = shoff + i * shentsize;
      if (dv.getUint32(sh + 4, true) !== SHT_SYMTAB) continue;
      const symOff = u64(sh + 24);
      const symSize = u64(sh + 32);
      const link = dv.getUint32(sh + 40, true);
      const entsize = u64(sh + 56) || SYM_SIZE;
      if (entsize < SYM_SIZE) throw new ElfError(`symbol table ${i} has entry size ${entsize} < ${SYM_SIZE}`);
      if (symOff + symSize > bytes.length || link >= shnum) throw new ElfError(`symbol table ${i} lies outside the file`);
      const strOff = u64(shoff + link * shentsize + 24);
      for (let s = symOff; s + entsize <= symOff + symSize; s += entsize) {
        const name = cString(bytes, strOff + dv.getUint32(s, true));
        if (name !== '' && !symbols.has(name)) symbols.set(name, u64(s + 8));
      }
    }
  }
  return { entry, segments, symbols };
}

const LATIN1 = new TextDecoder('latin1');

function cString(bytes: Uint8Array, at: number): string {
  let end = at;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return LATIN1.decode(bytes.subarray(at, end));
}
