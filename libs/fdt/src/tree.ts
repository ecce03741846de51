// A device tree as plain values: a node has a name, properties in order, and children in
// order. The helpers encode property values the way the devicetree spec v0.4 §2.2.4 says
// (big-endian 32-bit cells, NUL-terminated strings), so a tree reads like the .dts it is.

export interface FdtProp {
  readonly name: string;
  readonly value: Uint8Array;
}

export interface FdtNode {
  /** "node-name@unit-address"; the root node's name is "". */
  readonly name: string;
  readonly props: readonly FdtProp[];
  readonly children: readonly FdtNode[];
}

/** A phandle value (spec §2.3.3): a u32 that other nodes use to point at this one. */
export type Phandle = number & { readonly __phandle: true };

export class FdtError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FdtError';
  }
}

export function node(name: string, props: readonly FdtProp[] = [], children: readonly FdtNode[] = []): FdtNode {
  return { name, props, children };
}

function u32Checked(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new FdtError(`${what}: ${n} is not a u32`);
  return n;
}

/** Big-endian u32 cells. */
export function cellsOf(values: readonly number[], what = 'cell'): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, u32Checked(v, what)));
  return out;
}

/** Each value as two cells, high word first (spec §2.2.4, <u64>). */
export function u64CellsOf(values: readonly (number | bigint)[], what = 'u64'): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => {
    const b = BigInt(v);
    if (b < 0n || b > 0xffff_ffff_ffff_ffffn) throw new FdtError(`${what}: ${v} is not a u64`);
    dv.setBigUint64(i * 8, b);
  });
  return out;
}

const encoder = new TextEncoder();

function cString(s: string, what: string): Uint8Array {
  if (s.includes('\0')) throw new FdtError(`${what}: a string may not contain NUL`);
  const b = encoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Property helpers, one per value type of spec §2.2.4. */
export const prop = {
  /** A property with no value (a flag such as `interrupt-controller;`). */
  empty: (name: string): FdtProp => ({ name, value: new Uint8Array(0) }),
  /** `name = <a b c>;` */
  u32: (name: string, ...cells: number[]): FdtProp => ({ name, value: cellsOf(cells, name) }),
  /** `name = /bits/ 64 <a b>;` i.e. each value as two u32 cells. */
  u64: (name: string, ...values: (number | bigint)[]): FdtProp => ({ name, value: u64CellsOf(values, name) }),
  /** `name = "s";` */
  string: (name: string, s: string): FdtProp => ({ name, value: cString(s, name) }),
  /** `name = "a", "b";` (a <stringlist>). */
  strings: (name: string, list: readonly string[]): FdtProp => {
    if (list.length === 0) throw new FdtError(`${name}: a string list needs at least one string`);
    return { name, value: concat(list.map((s) => cString(s, name))) };
  },
  /** `phandle = <n>;`: names this node for references. */
  phandle: (p: Phandle): FdtProp => ({ name: 'phandle', value: cellsOf([p], 'phandle') }),
  /** A reference to another node (e.g. `interrupt-parent = <&plic>;`). */
  ref: (name: string, p: Phandle): FdtProp => ({ name, value: cellsOf([p], name) }),
  /** Raw bytes (`name = [..];`). */
  bytes: (name: string, data: Uint8Array): FdtProp => ({ name, value: Uint8Array.from(data) }),
};

/** Hands out phandles 1, 2, 3... in the order asked for (0 and 0xffffffff are reserved). */
export class Phandles {
  private last = 0;
  next(): Phandle {
    this.last += 1;
    return this.last as Phandle;
  }
}
