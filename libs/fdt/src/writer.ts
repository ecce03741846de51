// The flattened device tree (DTB) format, devicetree spec v0.4 chapter 5: a 40-byte header,
// the memory reservation block, the structure block, the strings block; big-endian
// throughout. Laid out in that order, as libfdt and dtc do.
import { FdtError, type FdtNode } from './tree.js';

export const FDT_MAGIC = 0xd00dfeed;
/** §5.2: the version we write, and the oldest version a reader must know to read it. */
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
export const FDT_HEADER_SIZE = 40;

/** §5.4.1 structure block tokens. */
export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;

export interface MemReserve {
  readonly address: bigint;
  readonly size: bigint;
}

export interface WriteOptions {
  /** §5.2 boot_cpuid_phys: the `reg` of the CPU that boots. */
  bootCpuidPhys?: number;
  /** §5.3 memory reservation entries (QEMU virt has none). */
  memReserve?: readonly MemReserve[];
}

// §2.2.1: node names 1-31 characters, starting with a letter; §2.2.4.1: property names.
const NODE_NAME = /^[A-Za-z][0-9A-Za-z,._+-]{0,30}(@[0-9A-Za-z,._+-]+)?$/;
const PROP_NAME = /^[0-9A-Za-z,._+?#-]{1,31}$/;

const align4 = (n: number) => (n + 3) & ~3;

/** A growable big-endian byte sink. */
class Sink {
  private buf = new Uint8Array(4096);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  u32(v: number): void {
    this.room(4);
    new DataView(this.buf.buffer).setUint32(this.length, v >>> 0);
    this.length += 4;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  /** Zero bytes up to the next multiple of 4 (§5.4: tokens are 32-bit aligned). */
  pad4(): void {
    const n = align4(this.length) - this.length;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  take(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** The strings block (§5.5): each property name once; a repeat points at the first copy. */
class Strings {
  private readonly offsets = new Map<string, number>();
  readonly sink = new Sink();
  offsetOf(name: string): number {
    let off = this.offsets.get(name);
    if (off === undefined) {
      off = this.sink.length;
      this.offsets.set(name, off);
      this.sink.bytes(new TextEncoder().encode(name + '\0'));
    }
    return off;
  }
}

function emitNode(n: FdtNode, path: string, isRoot: boolean, out: Sink, strings: Strings): void {
  if (isRoot) {
    if (n.name !== '') throw new FdtError(`the root node's name must be "", not "${n.name}"`);
  } else if (!NODE_NAME.test(n.name)) {
    throw new FdtError(`${path}: "${n.name}" is not a valid node name (devicetree spec §2.2.1)`);
  }
  out.u32(FDT_BEGIN_NODE);
  out.bytes(new TextEncoder().encode(n.name + '\0'));
  out.pad4();
  const seen = new Set<string>();
  for (const p of n.props) {
    if (!PROP_NAME.test(p.name)) throw new FdtError(`${path}: "${p.name}" is not a valid property name (devicetree spec §2.2.4.1)`);
    if (seen.has(p.name)) throw new FdtError(`${path}: property "${p.name}" appears twice`);
    seen.add(p.name);
    out.u32(FDT_PROP);
    out.u32(p.value.length);
    out.u32(strings.offsetOf(p.name));
    out.bytes(p.value);
    out.pad4();
  }
  const names = new Set<string>();
  for (const c of n.children) {
    const childPath = `${path === '/' ? '' : path}/${c.name}`;
    if (names.has(c.name)) throw new FdtError(`${childPath}: two nodes have this path`);
    names.add(c.name);
    emitNode(c, childPath, false, out, strings);
  }
  out.u32(FDT_END_NODE);
}

/** Serialises a tree to a DTB (devicetree spec v0.4 chapter 5). */
export function writeFdt(root: FdtNode, opts: WriteOptions = {}): Uint8Array {
  const struct = new Sink();
  const strings = new Strings();
  emitNode(root, '/', true, struct, strings);
  struct.u32(FDT_END);
  const structBytes = struct.take();
  const stringBytes = strings.sink.take();

  // §5.3: the reservation block is 8-byte aligned and ends with an all-zero entry.
  const rsv = [...(opts.memReserve ?? []), { address: 0n, size: 0n }];
  const offMemRsvmap = FDT_HEADER_SIZE; // 40: already a multiple of 8
  const offStruct = offMemRsvmap + rsv.length * 16;
  const offStrings = offStruct + structBytes.length;
  const totalSize = offStrings + stringBytes.length;

  const out = new Uint8Array(totalSize);
  const dv = new DataView(out.buffer);
  const header = [
    FDT_MAGIC,
    totalSize,
    offStruct,
    offStrings,
    offMemRsvmap,
    FDT_VERSION,
    FDT_LAST_COMP_VERSION,
    opts.bootCpuidPhys ?? 0,
    stringBytes.length,
    structBytes.length,
  ];
  header.forEach((v, i) => dv.setUint32(i * 4, v));
  rsv.forEach((r, i) => {
    dv.setBigUint64(offMemRsvmap + i * 16, r.address);
    dv.setBigUint64(offMemRsvmap + i * 16 + 8, r.size);
  });
  out.set(structBytes, offStruct);
  out.set(stringBytes, offStrings);
  return out;
}
