// Reads a DTB back into a tree (devicetree spec v0.4 chapter 5), for tests and for checking
// what was loaded into a guest. Strict: a malformed blob is an FdtError naming the offset.
import { FdtError, type FdtNode, type FdtProp } from './tree.js';
import { FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_HEADER_SIZE, FDT_MAGIC, FDT_NOP, FDT_PROP, type MemReserve } from './writer.js';

export interface FdtHeader {
  magic: number;
  totalSize: number;
  offDtStruct: number;
  offDtStrings: number;
  offMemRsvmap: number;
  version: number;
  lastCompVersion: number;
  bootCpuidPhys: number;
  sizeDtStrings: number;
  sizeDtStruct: number;
}

export interface ParsedFdt {
  header: FdtHeader;
  memReserve: MemReserve[];
  root: FdtNode;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Names and strings are UTF-8 (spec §2.2.1 allows less); bytes that are not are the blob's fault. */
function utf8(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new FdtError(`${what} is not valid UTF-8`);
  }
}

export function readFdtHeader(blob: Uint8Array): FdtHeader {
  if (blob.length < FDT_HEADER_SIZE) throw new FdtError(`blob of ${blob.length} bytes is shorter than the 40-byte header`);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const f = (i: number) => dv.getUint32(i * 4);
  const h: FdtHeader = {
    magic: f(0),
    totalSize: f(1),
    offDtStruct: f(2),
    offDtStrings: f(3),
    offMemRsvmap: f(4),
    version: f(5),
    lastCompVersion: f(6),
    bootCpuidPhys: f(7),
    sizeDtStrings: f(8),
    sizeDtStruct: f(9),
  };
  if (h.magic !== FDT_MAGIC) throw new FdtError(`bad magic 0x${h.magic.toString(16)} (expected 0xd00dfeed)`);
  if (h.lastCompVersion > 17) throw new FdtError(`last_comp_version ${h.lastCompVersion} is newer than 17`);
  if (h.totalSize > blob.length) throw new FdtError(`totalsize ${h.totalSize} exceeds the ${blob.length}-byte blob`);
  if (h.offDtStruct + h.sizeDtStruct > h.totalSize) throw new FdtError('structure block lies outside totalsize');
  if (h.offDtStrings + h.sizeDtStrings > h.totalSize) throw new FdtError('strings block lies outside totalsize');
  return h;
}

export function readFdt(blob: Uint8Array): ParsedFdt {
  const header = readFdtHeader(blob);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);

  const memReserve: MemReserve[] = [];
  for (let off = header.offMemRsvmap; ; off += 16) {
    if (off + 16 > header.totalSize) throw new FdtError('memory reservation block has no terminating entry');
    const address = dv.getBigUint64(off);
    const size = dv.getBigUint64(off + 8);
    if (address === 0n && size === 0n) break;
    memReserve.push({ address, size });
  }

  const stringAt = (nameoff: number): string => {
    const start = header.offDtStrings + nameoff;
    const end = blob.indexOf(0, start);
    if (nameoff >= header.sizeDtStrings || end < 0 || end >= header.offDtStrings + header.sizeDtStrings) {
      throw new FdtError(`property name offset ${nameoff} lies outside the strings block`);
    }
    return utf8(blob.subarray(start, end), `property name at strings offset ${nameoff}`);
  };

  const structEnd = header.offDtStruct + header.sizeDtStruct;
  let off = header.offDtStruct;
  const token = (): number => {
    if (off + 4 > structEnd) throw new FdtError(`structure block ends without FDT_END (at ${off})`);
    const t = dv.getUint32(off);
    off += 4;
    return t;
  };
  const align = () => {
    off = (off + 3) & ~3;
  };

  interface Building {
    name: string;
    props: FdtProp[];
    children: FdtNode[];
  }
  const stack: Building[] = [];
  let root: FdtNode | undefined;
  for (;;) {
    const at = off;
    const t = token();
    if (t === FDT_NOP) continue;
    if (t === FDT_BEGIN_NODE) {
      const end = blob.indexOf(0, off);
      if (end < 0 || end >= structEnd) throw new FdtError(`unterminated node name at ${off}`);
      const name = utf8(blob.subarray(off, end), `node name at ${off}`);
      off = end + 1;
      align();
      if (root) throw new FdtError(`a second root node at ${at}`);
      stack.push({ name, props: [], children: [] });
    } else if (t === FDT_PROP) {
      const top = stack[stack.length - 1];
      if (!top) throw new FdtError(`FDT_PROP outside any node at ${at}`);
      if (top.children.length) throw new FdtError(`FDT_PROP after a subnode at ${at} (§5.4.2: properties come first)`);
      const len = token();
      const nameoff = token();
      if (off + len > structEnd) throw new FdtError(`property at ${at} runs past the structure block`);
      top.props.push({ name: stringAt(nameoff), value: blob.slice(off, off + len) });
      off += len;
      align();
    } else if (t === FDT_END_NODE) {
      const done = stack.pop();
      if (!done) throw new FdtError(`FDT_END_NODE without a node at ${at}`);
      const n: FdtNode = { name: done.name, props: done.props, children: done.children };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(n);
      else root = n;
    } else if (t === FDT_END) {
      if (stack.length) throw new FdtError(`FDT_END inside node "${stack[stack.length - 1]!.name}" at ${at}`);
      if (!root) throw new FdtError('no root node');
      return { header, memReserve, root };
    } else {
      throw new FdtError(`unknown token 0x${t.toString(16)} at ${at}`);
    }
  }
}

/** The node at a path such as "/soc/serial@10000000", or undefined. */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  if (path === '/') return root;
  let n: FdtNode | undefined = root;
  for (const part of path.split('/').filter(Boolean)) {
    n = n.children.find((c) => c.name === part);
    if (!n) return undefined;
  }
  return n;
}

export function getProp(n: FdtNode, name: string): Uint8Array | undefined {
  return n.props.find((p) => p.name === name)?.value;
}

/** A property's value as u32 cells. */
export function propCells(value: Uint8Array): number[] {
  if (value.length % 4) throw new FdtError(`a ${value.length}-byte value is not whole cells`);
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return Array.from({ length: value.length / 4 }, (_, i) => dv.getUint32(i * 4));
}

/** A property's value as a string list (one string for a plain string). */
export function propStrings(value: Uint8Array): string[] {
  if (value.length === 0 || value[value.length - 1] !== 0) throw new FdtError('not a NUL-terminated string');
  return utf8(value.subarray(0, value.length - 1), 'string value').split('\0');
}
