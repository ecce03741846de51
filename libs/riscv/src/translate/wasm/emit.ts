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

export function uleb(out: number[], n: number): void {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

/** Signed LEB128 of an int32 (number arithmetic, the common case). */
function sleb32(out: number[], v: number): void {
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

export function sleb(out: number[], v: bigint): void {
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
  readonly bytes: number[] = [];
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
    this.bytes.push(m[0], m[1]);
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
    this.bytes.push(opcode, result ?? VOID);
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

function append(out: number[], xs: readonly number[]): void {
  for (let i = 0; i < xs.length; i++) out.push(xs[i]!);
}

function vec(out: number[], items: readonly number[][]): void {
  uleb(out, items.length);
  for (const i of items) append(out, i);
}
function name(s: string): number[] {
  const out: number[] = [];
  uleb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
  return out;
}
function section(out: number[], id: number, body: number[]): void {
  out.push(id);
  uleb(out, body.length);
  append(out, body);
}

/** A function type: parameters and one result. */
export interface FuncType {
  readonly params: readonly number[];
  readonly result: number;
}

/**
 * A module importing `env.mem`, a shared memory of exactly `memPages` 64 KiB pages (and,
 * with `table`, `env.table`, a table of functions), and exporting the functions that name
 * an export. Functions call each other by index; `callTypes` are the module's first types,
 * in order, so `call_indirect` names them by their index there.
 */
export function moduleBytes(funcs: readonly FuncDef[], memPages: number, opts: { table?: boolean; callTypes?: readonly FuncType[] } = {}): Uint8Array {
  const types: number[][] = [];
  const typeIndex = (f: FuncType): number => {
    const t = [0x60];
    vec(
      t,
      f.params.map((p) => [p]),
    );
    vec(t, [[f.result]]);
    let k = types.findIndex((x) => x.length === t.length && x.every((b, i) => b === t[i]));
    if (k < 0) k = types.push(t) - 1;
    return k;
  };
  for (const t of opts.callTypes ?? []) typeIndex(t);
  const typeOf = funcs.map(typeIndex);
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const typeSec: number[] = [];
  vec(typeSec, types);
  section(out, 1, typeSec);
  const imp: number[] = [];
  const limits = [0x03]; // min and max, shared (threads proposal, in every engine Node has)
  uleb(limits, memPages);
  uleb(limits, memPages);
  const imports = [[...name('env'), ...name('mem'), 0x02, ...limits]];
  if (opts.table) imports.push([...name('env'), ...name('table'), 0x01, 0x70, 0x00, 0x00]); // funcref, min 0
  vec(imp, imports);
  section(out, 2, imp);
  const fnSec: number[] = [];
  vec(
    fnSec,
    typeOf.map((k) => {
      const b: number[] = [];
      uleb(b, k);
      return b;
    }),
  );
  section(out, 3, fnSec);
  const exp: number[] = [];
  const exported: number[][] = [];
  funcs.forEach((f, k) => {
    if (f.exportAs === undefined) return;
    const e = name(f.exportAs);
    e.push(0x00);
    uleb(e, k);
    exported.push(e);
  });
  vec(exp, exported);
  section(out, 7, exp);
  const codeSec: number[] = [];
  vec(
    codeSec,
    funcs.map((f) => {
      if (f.body.openCount !== 0) throw new Error('wasm emit: a function body left a construct open');
      const groups: number[][] = [];
      for (const t of f.locals) {
        const last = groups[groups.length - 1];
        if (last && last[1] === t) last[0]!++;
        else groups.push([1, t]);
      }
      const body: number[] = [];
      vec(
        body,
        groups.map(([n, t]) => {
          const g: number[] = [];
          uleb(g, n!);
          g.push(t!);
          return g;
        }),
      );
      append(body, f.body.bytes);
      body.push(0x0b);
      const sized: number[] = [];
      uleb(sized, body.length);
      append(sized, body);
      return sized;
    }),
  );
  section(out, 10, codeSec);
  return Uint8Array.from(out);
}
