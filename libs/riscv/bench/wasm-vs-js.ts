// Issue 18 asks which host code the translator should emit: JavaScript or WebAssembly
// (native i64 for RV64). This prototype, which decided it (translate/wasm/ is the
// back end that came of it), measures one hot loop both
// ways, steady state, with the same work per guest instruction: the loop's registers in
// locals, each load checked as the translator's fast path checks it (RAM window,
// alignment, the page's coherence state) and the loop's exit when a check fails.
//
// The loop (12 instructions, the shape of guests/bench's matrix multiply: a row and a
// column of a table, a multiply-add):
//   loop: add a0,t1,s2; lw t2,0(a0); add a1,t1,s3; lw t3,0(a1); addi s2,s2,4;
//         andi s2,s2,1020; addi s3,s3,256; andi s3,s3,1020; mulw t2,t2,t3;
//         addw t4,t4,t2; addi t0,t0,-1; bne t0,zero,loop
// JavaScript: the real engine (Hart, engine 'translate', RAM a plain buffer: the
// JavaScript back end) on that program.
// WebAssembly: a module built here byte by byte, guest RAM and page states in its memory.
//
//   npx tsx libs/riscv/bench/wasm-vs-js.ts [millions-of-iterations]

import { loadavg } from 'node:os';
import { DRAM_BASE } from '@splitvisor/platform';
import { encode as e, GuestRam, Hart } from '../src/index.js';

// Node has WebAssembly; the TypeScript lib this package compiles with does not describe it.
interface WasmApi {
  Memory: new (d: { initial: number }) => { buffer: ArrayBuffer };
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const R = e.Reg;
const ITERS = Math.round(Number(process.argv[2] ?? 20) * 1e6);
const INSNS_PER_ITER = 12;
const RUNS = 5;
const DATA = DRAM_BASE + 0x1000;
/** The 256 words the loop reads, (i * 7 + 3) & 0xffff. */
const TABLE = Array.from({ length: 256 }, (_v, i) => (i * 7 + 3) & 0xffff);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---- JavaScript: the translate engine ----
function jsRun(): { mips: number; t4: bigint } {
  const program = [
    ...e.li(R.t0, ITERS),
    ...e.li(R.t1, DATA),
    e.add(R.a0, R.t1, R.s2), // loop:
    e.lw(R.t2, R.a0, 0),
    e.add(R.a1, R.t1, R.s3),
    e.lw(R.t3, R.a1, 0),
    e.addi(R.s2, R.s2, 4),
    e.andi(R.s2, R.s2, 1020),
    e.addi(R.s3, R.s3, 256),
    e.andi(R.s3, R.s3, 1020),
    e.mulw(R.t2, R.t2, R.t3),
    e.addw(R.t4, R.t4, R.t2),
    e.addi(R.t0, R.t0, -1),
    e.bne(R.t0, R.zero, -44),
    e.wfi(),
  ];
  const ram = new GuestRam(DRAM_BASE, 16 * 4096);
  ram.writeWords(DRAM_BASE, program);
  ram.writeWords(DATA, TABLE); // the words the loop reads
  const hart = new Hart({ hartId: 0, ram, bus: { load: () => false, store: () => false }, resetPc: DRAM_BASE, engine: 'translate' });
  const t0 = process.hrtime.bigint();
  for (;;) if (hart.run(10_000_000).kind === 'wfi') break;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { mips: hart.stats.instret / s / 1e6, t4: hart.getReg(R.t4) };
}

// ---- WebAssembly ----
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const sleb = (v: bigint): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const str = (s: string) => [...uleb(s.length), ...Buffer.from(s)];

const RAM_BYTES = 64 * 1024;
const PAGE_STATE_AT = RAM_BYTES; // one byte per 4 KiB page, after RAM
const REGS_AT = PAGE_STATE_AT + 64; // where the exit stores the registers
// Locals: 0 iters (i32 param); then i64 registers t0 t1 t2 t3 s2 s3 t4 a0 a1, and o.
const [ITERS_P, T0, T1, T2, T3, S2, S3, T4, A0, A1, O] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const get = (l: number) => [0x20, l];
const set = (l: number) => [0x21, l];
const tee = (l: number) => [0x22, l];
const i64c = (v: bigint) => [0x42, ...sleb(v)];

/** rd = sign-extended 32-bit load at rs1 + imm, after the fast path's checks; on a
 *  failed check the function returns -1 (the block's slow-path exit). */
function lw(rd: number, rs1: number, imm: number): number[] {
  return [
    ...get(rs1),
    ...i64c(BigInt(imm) - BigInt(DRAM_BASE)),
    0x7c,
    ...tee(O), // o = rs1 + imm - ramBase
    ...i64c(BigInt(RAM_BYTES)),
    0x54, // o <u RAM_BYTES
    ...get(O),
    ...i64c(3n),
    0x83,
    0x50,
    0x71, // && (o & 3) == 0
    0x04,
    0x7f,
    ...get(O),
    ...i64c(12n),
    0x88,
    0xa7,
    0x2d,
    0x00,
    ...uleb(PAGE_STATE_AT),
    0x05,
    0x41,
    0x00,
    0x0b, // ? pageState[o >> 12] : 0
    0x45,
    0x04,
    0x40,
    ...i64c(-1n),
    0x0f,
    0x0b, // if (!ok) return -1
    ...get(O),
    0xa7,
    0x34,
    0x02,
    0x00,
    ...set(rd), // rd = i64.load32_s(o)
  ];
}
const addi = (rd: number, rs: number, imm: number) => [...get(rs), ...i64c(BigInt(imm)), 0x7c, ...set(rd)];
const w32 = (l: number) => [...get(l), 0xa7];
const add = (rd: number, a: number, b: number) => [...get(a), ...get(b), 0x7c, ...set(rd)];
const andi = (rd: number, rs: number, imm: number) => [...get(rs), ...i64c(BigInt(imm)), 0x83, ...set(rd)];
const body = [
  ...i64c(BigInt(DATA)),
  ...set(T1),
  ...get(ITERS_P),
  0xac,
  ...set(T0), // t0 = iters (i64.extend_i32_s)
  0x03,
  0x40, // loop
  ...add(A0, T1, S2),
  ...lw(T2, A0, 0),
  ...add(A1, T1, S3),
  ...lw(T3, A1, 0),
  ...addi(S2, S2, 4),
  ...andi(S2, S2, 1020),
  ...addi(S3, S3, 256),
  ...andi(S3, S3, 1020),
  ...w32(T2),
  ...w32(T3),
  0x6c,
  0xac,
  ...set(T2), // mulw
  ...w32(T4),
  ...w32(T2),
  0x6a,
  0xac,
  ...set(T4), // addw
  ...addi(T0, T0, -1),
  ...get(T0),
  0x50,
  0x45,
  0x0d,
  0x00, // bne t0, zero, loop
  0x0b, // end loop
  // The registers leave the function as a block's leave the hart (every one is live):
  // the result is t4, and the others are stored where the hart keeps registers.
  ...[T2, T3, S2, S3, A0, A1].flatMap((r, k) => [0x41, ...sleb(BigInt(REGS_AT + 8 * k)), ...get(r), 0x37, 0x03, 0x00]),
  ...get(T4), // result: t4
  0x0b, // end function
];
const locals = vec([[...uleb(10), 0x7e]]); // ten i64 locals
const code = [...locals, ...body];
const module = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  ...section(1, vec([[0x60, ...vec([[0x7f]]), ...vec([[0x7e]])]])), // type: (i32) -> i64
  ...section(2, vec([[...str('env'), ...str('mem'), 0x02, 0x00, ...uleb(2)]])), // import memory, 2 pages
  ...section(3, vec([[0x00]])), // one function of type 0
  ...section(7, vec([[...str('run'), 0x00, 0x00]])), // export it
  ...section(10, vec([[...uleb(code.length), ...code]])),
]);

async function wasmRun(): Promise<{ mips: number; t4: bigint }> {
  const mem = new WebAssembly.Memory({ initial: 2 });
  const bytes = new Uint8Array(mem.buffer);
  TABLE.forEach((v, i) => new DataView(mem.buffer).setInt32(DATA - DRAM_BASE + 4 * i, v, true));
  bytes.fill(2, PAGE_STATE_AT, PAGE_STATE_AT + RAM_BYTES / 4096); // every page Modified
  const { instance } = await WebAssembly.instantiate(module, { env: { mem } });
  const run = instance.exports['run'] as (iters: number) => bigint;
  const t0 = process.hrtime.bigint();
  const t4 = run(ITERS);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { mips: (ITERS * INSNS_PER_ITER) / s / 1e6, t4 };
}

const js: number[] = [];
const wasm: number[] = [];
let results = '';
for (let i = 0; i < RUNS; i++) {
  const a = jsRun();
  const b = await wasmRun();
  if (BigInt.asIntN(32, a.t4) !== BigInt.asIntN(32, b.t4)) throw new Error(`different results: JS t4 ${a.t4}, wasm t4 ${b.t4}`);
  results = String(BigInt.asIntN(32, a.t4));
  js.push(a.mips);
  wasm.push(b.mips);
}
console.log(
  `loop of ${INSNS_PER_ITER} instructions x ${ITERS / 1e6} M (t4 = ${results} both ways); median of ${RUNS}; load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(`JavaScript (translate engine, whole hart): ${median(js).toFixed(0)} MIPS`);
console.log(`WebAssembly (i64 locals, same checks):     ${median(wasm).toFixed(0)} MIPS`);
console.log(`WebAssembly / JavaScript: x${(median(wasm) / median(js)).toFixed(2)}`);
