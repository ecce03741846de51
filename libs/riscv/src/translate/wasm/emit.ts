// A WebAssembly binary writer, just what the block compiler needs: one code body built
// instruction by instruction, structured control with named labels (so a `br` names the
// construct it leaves, not a depth), and the module around it. Opcode values are from the
// WebAssembly core specification 2.0, section 5.4 (Instructions).

/** Value types (spec 5.3.1). */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;
const VOID = 0x40;

/** Opcodes without immediates, by their text-format names. */
export const Op = {
  unreachable: 0x00,
  return: 0x0f,
  select: 0x1b,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32Ltu: 0x49,
  i32Gts: 0x4a,
  i64Eqz: 0x50,
  i64Eq: 0x51,
  f64Eq: 0x61,
  i64Ne: 0x52,
  i64Lts: 0x53,
  i64Ltu: 0x54,
  i64Ges: 0x59,
  i64Geu: 0x5a,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32Divs: 0x6d,
  i32Divu: 0x6e,
  i32Rems: 0x6f,
  i32Remu: 0x70,
  i32And: 0x71,
  i32Or: 0x72,
  i32Shl: 0x74,
  i32Shrs: 0x75,
  i32Shru: 0x76,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64Divs: 0x7f,
  i64Divu: 0x80,
  i64Rems: 0x81,
  i64Remu: 0x82,
  i64And: 0x83,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64Shrs: 0x87,
  i64Shru: 0x88,
  f64Add: 0xa0,
  i32WrapI64: 0xa7,
  i64TruncF64s: 0xb0,
  i64ExtendI32s: 0xac,
  i64ExtendI32u: 0xad,
  f64ConvertI64s: 0xb9,
} as const;

/** Memory instructions (spec 5.4.6) with their natural alignment (log2 bytes). */
export const Mem = {
  i32Load: [0x28, 2],
  i32Load8u: [0x2d, 0],
  i64Load8s: [0x30, 0],
  i64Load8u: [0x31, 0],
  i64Load16s: [0x32, 1],
  i64Load16u: [0x33, 1],
  i64Load32s: [0x34, 2],
  i64Load32u: [0x35, 2],
  i64Load: [0x29, 3],
  f64Load: [0x2b, 3],
  i32Store: [0x36, 2],
  i64Store: [0x37, 3],
  f64Store: [0x39, 3],
  i64Store8: [0x3c, 0],
  i64Store16: [0x3d, 1],
  i64Store32: [0x3e, 2],
} as const satisfies Record<string, readonly [number, number]>;
export type MemOp = (typeof Mem)[keyof typeof Mem];

/** A growable byte buffer: what a function body and a module are written into. Bytes are
 *  stored in place (no array of numbers to copy again), and a finished body goes into its
 *  module with one `set`: the block compiler runs cold, so fewer steps per byte is what
 *  makes it fast. */
export class ByteBuf {
  private buf: Uint8Array;
  length = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }
  push(b: number): void {
    if (this.length === this.buf.length) this.grow(1);
    this.buf[this.length++] = b;
  }
  append(xs: Uint8Array): void {
    if (this.length + xs.length > this.buf.length) this.grow(xs.length);
    this.buf.set(xs, this.length);
    this.length += xs.length;
  }
  /** The bytes written so far (a view: valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
  private grow(need: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + need));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}

export function uleb(out: ByteBuf, n: number): void {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

/** Bytes in the unsigned LEB128 of `n`. */
function ulebLength(n: number): number {
  let k = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    k++;
  }
  return k;
}

/** Signed LEB128 of an int32 (number arithmetic, the common case). */
function sleb32(out: ByteBuf, v: number): void {
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** Signed LEB128 of a safe integer, without BigInt: floor division keeps the sign's
 *  infinite extension, as an arithmetic shift would. */
function slebSafe(out: ByteBuf, v: number): void {
  for (;;) {
    const b = ((v % 128) + 128) % 128;
    v = Math.floor(v / 128);
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

export function sleb(out: ByteBuf, v: bigint): void {
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** A structured-control label: what `br` leaves (a block) or restarts (a loop). */
export type Label = number;

/** One function body under construction. */
export class Code {
  readonly bytes = new ByteBuf();
  /** Open constructs, innermost last, as label ids. */
  private readonly open: Label[] = [];
  private nextLabel = 0;

  op(...ops: number[]): this {
    for (const o of ops) this.bytes.push(o);
    return this;
  }
  /** local.get, local.set, local.tee of local `l`. */
  get(l: number): this {
    return this.indexed(0x20, l);
  }
  set(l: number): this {
    return this.indexed(0x21, l);
  }
  tee(l: number): this {
    return this.indexed(0x22, l);
  }
  private indexed(opcode: number, index: number): this {
    this.bytes.push(opcode);
    uleb(this.bytes, index);
    return this;
  }
  i32(v: number): this {
    this.bytes.push(0x41);
    sleb32(this.bytes, v | 0);
    return this;
  }
  i64(v: bigint | number): this {
    this.bytes.push(0x42);
    if (typeof v === 'number' && (v | 0) === v) sleb32(this.bytes, v);
    else if (typeof v === 'number' && Number.isSafeInteger(v)) slebSafe(this.bytes, v);
    else sleb(this.bytes, BigInt.asIntN(64, BigInt(v)));
    return this;
  }
  f64(v: number): this {
    this.bytes.push(0x44);
    const b = new Uint8Array(new Float64Array([v]).buffer);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  /** A load or store with a constant offset added to the address on the stack. */
  mem(m: MemOp, offset = 0): this {
    this.bytes.push(m[0]);
    this.bytes.push(m[1]);
    uleb(this.bytes, offset);
    return this;
  }

  /** Opens a block (`br` to it goes past its end), a loop (`br` restarts it) or an if;
   *  returns its label. `result`: the type the construct leaves on the stack. */
  block(result?: number): Label {
    return this.enter(0x02, result);
  }
  loop(): Label {
    return this.enter(0x03);
  }
  if(result?: number): Label {
    return this.enter(0x04, result);
  }
  else(): this {
    this.bytes.push(0x05);
    return this;
  }
  end(): this {
    if (this.open.pop() === undefined) throw new Error('wasm emit: end without an open construct');
    this.bytes.push(0x0b);
    return this;
  }
  /** call_indirect through table 0 with the module's type `type`. */
  callIndirect(type: number): this {
    this.bytes.push(0x11);
    uleb(this.bytes, type);
    this.bytes.push(0x00);
    return this;
  }
  br(l: Label): this {
    this.bytes.push(0x0c);
    uleb(this.bytes, this.depth(l));
    return this;
  }
  brIf(l: Label): this {
    this.bytes.push(0x0d);
    uleb(this.bytes, this.depth(l));
    return this;
  }

  private enter(opcode: number, result?: number): Label {
    const l = this.nextLabel++;
    this.open.push(l);
    this.bytes.push(opcode);
    this.bytes.push(result ?? VOID);
    return l;
  }
  private depth(l: Label): number {
    const at = this.open.lastIndexOf(l);
    if (at < 0) throw new Error(`wasm emit: br to label ${l}, which is not open`);
    return this.open.length - 1 - at;
  }
  get openCount(): number {
    return this.open.length;
  }
}

/** A function of the module: its type (params, one result), its extra locals (grouped by
 *  type, as the binary format wants them), its body (without the final `end`), and the
 *  name it is exported as, if it is. */
export interface FuncDef {
  readonly params: readonly number[];
  readonly result: number;
  readonly locals: readonly number[];
  readonly body: Code;
  readonly exportAs?: string;
}

/** A vector (spec 5.1.3): its length, then its items. */
function vec(out: ByteBuf, items: readonly Uint8Array[]): void {
  uleb(out, items.length);
  for (const i of items) out.append(i);
}
function bytesOf(write: (b: ByteBuf) => void): Uint8Array {
  const b = new ByteBuf(16);
  write(b);
  return b.view();
}
function name(out: ByteBuf, s: string): void {
  uleb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}
function section(out: ByteBuf, id: number, body: Uint8Array): void {
  out.push(id);
  uleb(out, body.length);
  out.append(body);
}

/** A function type: parameters and one result. */
export interface FuncType {
  readonly params: readonly number[];
  readonly result: number;
}

/** A function a module imports, as `module.name`. */
export interface FuncImport {
  readonly module: string;
  readonly name: string;
  readonly type: FuncType;
}

/**
 * A module importing `env.mem`, a shared memory of exactly `memPages` 64 KiB pages (and,
 * with `table`, `env.table`, a table of functions; with `funcImports`, those functions,
 * which take the first function indices in their order), and exporting the functions that
 * name an export. Functions call each other by index; `callTypes` are the module's first
 * types, in order, so `call_indirect` names them by their index there.
 */
export function moduleBytes(
  funcs: readonly FuncDef[],
  memPages: number,
  opts: { table?: boolean; callTypes?: readonly FuncType[]; funcImports?: readonly FuncImport[] } = {},
): Uint8Array {
  const types: Uint8Array[] = [];
  const typeIndex = (f: FuncType): number => {
    const t = bytesOf((b) => {
      b.push(0x60);
      uleb(b, f.params.length);
      for (const p of f.params) b.push(p);
      b.push(1);
      b.push(f.result);
    });
    let k = types.findIndex((x) => x.length === t.length && x.every((v, i) => v === t[i]));
    if (k < 0) k = types.push(t) - 1;
    return k;
  };
  for (const t of opts.callTypes ?? []) typeIndex(t);
  const funcImports = opts.funcImports ?? [];
  const importTypes = funcImports.map((f) => typeIndex(f.type));
  const typeOf = funcs.map(typeIndex);
  // The code section first: its size is most of the module's.
  let codeSize = ulebLength(funcs.length);
  const heads = funcs.map((f) => {
    if (f.body.openCount !== 0) throw new Error('wasm emit: a function body left a construct open');
    const groups: [number, number][] = [];
    for (const t of f.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const locals = bytesOf((b) => {
      uleb(b, groups.length);
      for (const [n, t] of groups) {
        uleb(b, n);
        b.push(t);
      }
    });
    const size = locals.length + f.body.bytes.length + 1; // the body's final `end`
    codeSize += ulebLength(size) + size;
    return { locals, size };
  });
  const out = new ByteBuf(codeSize + 256);
  for (const b of [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) out.push(b);
  section(
    out,
    1,
    bytesOf((b) => vec(b, types)),
  );
  const imports = [
    bytesOf((b) => {
      name(b, 'env');
      name(b, 'mem');
      b.push(0x02);
      b.push(0x03); // min and max, shared (threads proposal, in every engine Node has)
      uleb(b, memPages);
      uleb(b, memPages);
    }),
  ];
  funcImports.forEach((f, k) =>
    imports.push(
      bytesOf((b) => {
        name(b, f.module);
        name(b, f.name);
        b.push(0x00);
        uleb(b, importTypes[k]!);
      }),
    ),
  );
  if (opts.table)
    imports.push(
      bytesOf((b) => {
        name(b, 'env');
        name(b, 'table');
        for (const x of [0x01, 0x70, 0x00, 0x00]) b.push(x); // funcref, min 0
      }),
    );
  section(
    out,
    2,
    bytesOf((b) => vec(b, imports)),
  );
  section(
    out,
    3,
    bytesOf((b) => {
      uleb(b, typeOf.length);
      for (const k of typeOf) uleb(b, k);
    }),
  );
  const exported: Uint8Array[] = [];
  funcs.forEach((f, k) => {
    if (f.exportAs === undefined) return;
    const e = f.exportAs;
    exported.push(
      bytesOf((b) => {
        name(b, e);
        b.push(0x00);
        uleb(b, funcImports.length + k);
      }),
    );
  });
  section(
    out,
    7,
    bytesOf((b) => vec(b, exported)),
  );
  out.push(10);
  uleb(out, codeSize);
  uleb(out, funcs.length);
  funcs.forEach((f, k) => {
    const h = heads[k]!;
    uleb(out, h.size);
    out.append(h.locals);
    out.append(f.body.bytes.view());
    out.push(0x0b);
  });
  return out.view();
}
