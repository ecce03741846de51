// Differential checks of the unprivileged extensions against QEMU (DESIGN.md: the
// reference), `qemu-system-riscv64 -M virt -bios none -kernel x.elf`: small programs per
// extension (testdata/diff/*.S) and a generated one of random F/D operations in every
// rounding mode, each printing its results in hex on the ns16550a UART and powering off
// through sifive_test. Both machines must print the same text, with each of our three
// ways (the interpreter, and the translator compiling every block the first time it runs,
// to JavaScript and to WebAssembly: diff.test-util.ts OURS).
//
// Needs Debian's gcc-riscv64-unknown-elf and qemu-system-misc; without them the suite
// fails, naming what is missing, unless SPLITVISOR_ALLOW_NO_QEMU=1.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireOrSkip } from '@splitvisor/testing';
import { assemble, expectSame, OURS, runOurs, runQemu, TOOLS } from './diff.test-util.js';

// ---- The random F/D program ----

const SEED = Number(process.env.SPLITVISOR_DIFF_SEED ?? 20261125);
let seed = SEED;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
const hex64 = (v: bigint): string => '0x' + BigInt.asUintN(64, v).toString(16);

const SPECIAL_D = [
  0n,
  0x8000000000000000n,
  0x3ff0000000000000n,
  0xbff0000000000000n,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0x7ff0000000000001n,
  0x7ff4000000000000n,
  1n,
  0x000fffffffffffffn,
  0x0010000000000000n,
  0x7fefffffffffffffn,
  0x3ff0000000000001n,
  0x3cb0000000000000n,
  0x43e0000000000000n,
  0xc3e0000000000000n,
  0x41dfffffffc00000n,
  0x41efffffffe00000n,
  0x3fe0000000000000n,
  0x4004000000000000n,
  0xbfe0000000000000n,
];
const SPECIAL_S = [
  0n,
  0x80000000n,
  0x3f800000n,
  0xbf800000n,
  0x7f800000n,
  0xff800000n,
  0x7fc00000n,
  0x7f800001n,
  0x7fa00000n,
  1n,
  0x007fffffn,
  0x00800000n,
  0x7f7fffffn,
  0x3f800001n,
  0x33800000n,
  0x4f000000n,
  0xcf000000n,
  0x5f000000n,
  0x3f000000n,
  0x40200000n,
  0xbf000000n,
  0x4effffffn,
];

function randomFloat(dbl: boolean): bigint {
  const r = rnd() % 10;
  if (r < 3) {
    const t = dbl ? SPECIAL_D : SPECIAL_S;
    return t[rnd() % t.length]!;
  }
  const bits = dbl ? 64 : 32;
  const p = dbl ? 52 : 23;
  const expBits = bits - 1 - p;
  const maxE = (1 << expBits) - 1;
  const bias = (1 << (expBits - 1)) - 1;
  let e: number;
  const k = rnd() % 6;
  if (k === 0)
    e = rnd() % 4; // subnormal and tiny
  else if (k === 1)
    e = maxE - 1 - (rnd() % 4); // huge
  else e = bias - 30 + (rnd() % 60); // ordinary
  let frac = ((BigInt(rnd()) << 32n) | BigInt(rnd())) & ((1n << BigInt(p)) - 1n);
  if (rnd() % 4 === 0) frac &= ~((1n << BigInt(p - (rnd() % p))) - 1n); // few significant bits
  return (BigInt(rnd() & 1) << BigInt(bits - 1)) | (BigInt(e) << BigInt(p)) | frac;
}

function boxed(v: bigint, dbl: boolean): bigint {
  if (dbl) return v;
  // Now and then an improperly boxed single: it must read as the canonical NaN.
  return rnd() % 40 === 0 ? (BigInt(rnd()) << 32n) | v : (0xffffffffn << 32n) | v;
}

function randomInt(): bigint {
  const specials = [0n, 1n, -1n, 0x7fffffffn, -0x80000000n, 0xffffffffn, 0x7fffffffffffffffn, -0x8000000000000000n, 0x1000001n, 0x20000000000001n];
  if (rnd() % 4 === 0) return specials[rnd() % specials.length]!;
  return BigInt.asIntN(64, ((BigInt(rnd()) << 32n) | BigInt(rnd())) >> BigInt(rnd() % 64));
}

interface FpTest {
  desc: string;
  asm: string[];
  data: bigint[];
}

const RM = ['rne', 'rtz', 'rdn', 'rup', 'rmm', 'dyn'];

function makeTest(): FpTest {
  const dbl = rnd() % 2 === 0;
  const f = dbl ? 'd' : 's';
  const rmi = rnd() % 6;
  const rm = RM[rmi]!;
  const a = boxed(randomFloat(dbl), dbl);
  const b = boxed(randomFloat(dbl), dbl);
  let c = boxed(randomFloat(dbl), dbl);
  const n = randomInt();
  const kind = rnd() % 100;
  let op: string;
  let intDest = false;
  if (kind < 12) op = `fadd.${f} f4, f1, f2, ${rm}`;
  else if (kind < 20) op = `fsub.${f} f4, f1, f2, ${rm}`;
  else if (kind < 30) op = `fmul.${f} f4, f1, f2, ${rm}`;
  else if (kind < 38) op = `fdiv.${f} f4, f1, f2, ${rm}`;
  else if (kind < 43) op = `fsqrt.${f} f4, f1, ${rm}`;
  else if (kind < 58) {
    const which = ['fmadd', 'fmsub', 'fnmsub', 'fnmadd'][rnd() % 4]!;
    op = `${which}.${f} f4, f1, f2, f3, ${rm}`;
    if (rnd() % 3 === 0) {
      // An addend close to the product's negation: cancellation, where fusing matters.
      const av = dbl ? new Float64Array(new BigUint64Array([a]).buffer)[0]! : new Float32Array(new Uint32Array([Number(a & 0xffffffffn)]).buffer)[0]!;
      const bv = dbl ? new Float64Array(new BigUint64Array([b]).buffer)[0]! : new Float32Array(new Uint32Array([Number(b & 0xffffffffn)]).buffer)[0]!;
      const p = -(av * bv) * (which === 'fmsub' || which === 'fnmadd' ? -1 : 1) * (which.startsWith('fn') ? -1 : 1);
      c = dbl
        ? new BigUint64Array(new Float64Array([p]).buffer)[0]! + BigInt((rnd() % 3) - 1)
        : (0xffffffffn << 32n) | BigInt(new Uint32Array(new Float32Array([p]).buffer)[0]!);
      c = BigInt.asUintN(64, c);
    }
  } else if (kind < 64) op = `${['fmin', 'fmax'][rnd() % 2]}.${f} f4, f1, f2`;
  else if (kind < 68) op = `${['fsgnj', 'fsgnjn', 'fsgnjx'][rnd() % 3]}.${f} f4, f1, f2`;
  else if (kind < 74) {
    op = `${['feq', 'flt', 'fle'][rnd() % 3]}.${f} a1, f1, f2`;
    intDest = true;
  } else if (kind < 77) {
    op = `fclass.${f} a1, f1`;
    intDest = true;
  } else if (kind < 86) {
    op = `fcvt.${['w', 'wu', 'l', 'lu'][rnd() % 4]}.${f} a1, f1, ${rm}`;
    intDest = true;
  } else if (kind < 94) {
    // The assembler takes no rm for the exact ones (fcvt.d.w, fcvt.d.wu).
    const src = ['w', 'wu', 'l', 'lu'][rnd() % 4]!;
    op = dbl && (src === 'w' || src === 'wu') ? `fcvt.d.${src} f4, a2` : `fcvt.${f}.${src} f4, a2, ${rm}`;
  } else if (kind < 98) op = dbl ? `fcvt.s.d f4, f1, ${rm}` : 'fcvt.d.s f4, f1';
  else {
    op = `fmv.x.${dbl ? 'd' : 'w'} a1, f1`;
    intDest = true;
  }
  const frm = rmi === 5 ? rnd() % 5 : 0;
  const desc = `${op}  a=${hex64(a)} b=${hex64(b)} c=${hex64(c)} int=${hex64(n)}${rmi === 5 ? ` frm=${frm}` : ''}`;
  const asm = [
    `  fsrmi ${frm}`,
    '  fld f1, 0(t5)',
    '  fld f2, 8(t5)',
    '  fld f3, 16(t5)',
    '  ld a2, 24(t5)',
    '  fsflags zero',
    `  ${op}`,
    intDest ? '  mv a0, a1' : '  fmv.x.d a0, f4',
    '  call print_hex',
    '  frflags a0',
    '  call print_hex',
    '  addi t5, t5, 32',
  ];
  return { desc, asm, data: [a, b, c, n] };
}

function fpProgram(count: number): { source: string; tests: FpTest[] } {
  const tests = Array.from({ length: count }, makeTest);
  const lines = ['#include "prelude.h"', 'main:', '  la t5, operands'];
  for (const t of tests) lines.push(...t.asm);
  lines.push('  j poweroff', '  .data', '  .balign 8', 'operands:');
  for (const t of tests) lines.push(`  .dword ${t.data.map(hex64).join(', ')}`);
  return { source: lines.join('\n') + '\n', tests };
}

// ---- Random integer sequences: RV64I, M, A and (through the assembler's choice of the
//      short forms) C, with loads and stores into a data page, all registers printed ----

/** Registers the sequences use; s11 holds the data page, sp/gp/tp/ra/t5 stay out. */
const SEQ_REGS = [
  'a0',
  'a1',
  'a2',
  'a3',
  'a4',
  'a5',
  'a6',
  'a7',
  's0',
  's1',
  's2',
  's3',
  's4',
  's5',
  's6',
  's7',
  's8',
  's9',
  's10',
  't0',
  't1',
  't2',
  't3',
  't4',
  't6',
];
const pick = <T>(xs: readonly T[]): T => xs[rnd() % xs.length]!;
const imm = (bits: number): number => (rnd() % (1 << bits)) - (1 << (bits - 1));

function randomValue(): bigint {
  const specials = [0n, 1n, -1n, 2n, 0x7fffffffn, -0x80000000n, 0xffffffffn, 0x7fffffffffffffffn, -0x8000000000000000n, 3n, -3n, 64n, 63n, 31n];
  if (rnd() % 3 === 0) return pick(specials);
  return BigInt.asIntN(64, ((BigInt(rnd()) << 32n) | BigInt(rnd())) >> BigInt(rnd() % 64));
}

function randomInstruction(label: () => string): string[] {
  const rd = pick(SEQ_REGS);
  const rs1 = pick(SEQ_REGS);
  const rs2 = pick(SEQ_REGS);
  // Operands repeat often, so the compressed two-address forms come up.
  const r1 = rnd() % 3 === 0 ? rd : rs1;
  const k = rnd() % 100;
  if (k < 25) {
    const op = pick(['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw', 'srlw', 'sraw']);
    return [`  ${op} ${rd}, ${r1}, ${rs2}`];
  }
  if (k < 45) {
    const op = pick(['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'addiw', 'slli', 'srli', 'srai', 'slliw', 'srliw', 'sraiw']);
    const v =
      op.endsWith('iw') && op !== 'addiw'
        ? rnd() % 32
        : op.startsWith('s') && op.endsWith('i') && op !== 'slti' && op !== 'sltiu'
          ? rnd() % 64
          : rnd() % 2 === 0
            ? imm(6)
            : imm(12);
    return [`  ${op} ${rd}, ${r1}, ${v}`];
  }
  if (k < 48) return [rnd() % 2 === 0 ? `  lui ${rd}, ${rnd() % 0x100000}` : `  li ${rd}, ${imm(6)}`];
  if (k < 62) {
    const op = pick(['mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu', 'mulw', 'divw', 'divuw', 'remw', 'remuw']);
    return [`  ${op} ${rd}, ${r1}, ${rs2}`];
  }
  if (k < 74) {
    // Loads and stores into the data page (s11), some misaligned (RAM: no trap on either).
    const [op, size] = pick([
      ['ld', 8],
      ['lw', 4],
      ['lwu', 4],
      ['lh', 2],
      ['lhu', 2],
      ['lb', 1],
      ['lbu', 1],
      ['sd', 8],
      ['sw', 4],
      ['sh', 2],
      ['sb', 1],
    ] as const);
    const off = rnd() % 8 === 0 ? rnd() % 250 : (rnd() % Math.floor(248 / size)) * size;
    return op.startsWith('s') ? [`  ${op} ${rs2}, ${off}(s11)`] : [`  ${op} ${rd}, ${off}(s11)`];
  }
  if (k < 84) {
    // AMOs and LR/SC on aligned words of the data page, address built in t5.
    const wide = rnd() % 2 === 0;
    const off = (rnd() % (wide ? 31 : 62)) * (wide ? 8 : 4);
    const w = wide ? 'd' : 'w';
    if (rnd() % 4 === 0) {
      return [
        `  addi t5, s11, ${off}`,
        `  lr.${w} ${rd}, (t5)`,
        rnd() % 2 === 0 ? `  addi ${rs2}, ${rs2}, 1` : '  nop',
        `  sc.${w} ${rs1 === rd ? 'a0' : rs1}, ${rs2}, (t5)`,
      ];
    }
    const op = pick(['amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor', 'amomin', 'amomax', 'amominu', 'amomaxu']);
    return [`  addi t5, s11, ${off}`, `  ${op}.${w} ${rd}, ${rs2}, (t5)`];
  }
  // A forward branch over one or two instructions.
  const l = label();
  const br = pick(['beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu', 'beqz', 'bnez']);
  const head = br.endsWith('z') ? `  ${br} ${rs1}, ${l}` : `  ${br} ${rs1}, ${rs2}, ${l}`;
  return [head, `  addi ${rd}, ${rd}, ${imm(6)}`, ...(rnd() % 2 === 0 ? [`  xor ${rs2}, ${rs2}, ${rd}`] : []), `${l}:`];
}

function sequenceProgram(count: number, length: number): { source: string; values: number } {
  let labels = 0;
  const label = (): string => `L${labels++}`;
  const lines = ['#include "prelude.h"', 'main:', '  la s11, page', '  la t5, inits', '  sd t5, 0(sp)'];
  const data: bigint[] = [];
  for (let q = 0; q < count; q++) {
    lines.push('  ld t5, 0(sp)');
    SEQ_REGS.forEach((r, i) => lines.push(`  ld ${r}, ${8 * i}(t5)`));
    lines.push(`  addi t5, t5, ${8 * SEQ_REGS.length}`, '  sd t5, 0(sp)');
    for (let i = 0; i < SEQ_REGS.length; i++) data.push(randomValue());
    for (let i = 0; i < length; i++) lines.push(...randomInstruction(label));
    for (const r of SEQ_REGS) lines.push(`  P ${r}`);
    // A fold of the data page: what the stores and AMOs left there.
    lines.push(
      '  li a1, 0',
      '  mv a2, s11',
      '  addi a3, s11, 256',
      `${label()}:`,
      '  ld a4, 0(a2)',
      '  slli a5, a1, 7',
      '  srli a1, a1, 57',
      '  or a1, a1, a5',
      '  xor a1, a1, a4',
      '  addi a2, a2, 8',
      `  bltu a2, a3, L${labels - 1}`,
      '  P a1',
    );
  }
  lines.push('  j poweroff', '  .data', '  .balign 8', 'page:', '  .fill 40, 8, 0x0123456789abcdef', 'inits:');
  for (let i = 0; i < data.length; i += 4)
    lines.push(
      `  .dword ${data
        .slice(i, i + 4)
        .map(hex64)
        .join(', ')}`,
    );
  return { source: lines.join('\n') + '\n', values: count * (SEQ_REGS.length + 1) };
}

describe('differential checks against qemu-system-riscv64 -M virt', () => {
  if (TOOLS.some((t) => !t.present)) {
    it('has its tools', ({ skip }) => requireOrSkip(skip, TOOLS, 'SPLITVISOR_ALLOW_NO_QEMU', 'These checks compare the hart with QEMU'));
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'sv-diff-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each([
    ['m', 'M: all 13 instructions on 22 x 22 edge values'],
    ['a', 'A: LR/SC success and failure, every AMO in W and D'],
    ['c', 'C: compressed code, calls, a jump into a word, a straddling instruction'],
  ])(
    '%s.S (%s) prints the same on both',
    (name) => {
      const elf = assemble(work, name);
      const qemu = runQemu(elf);
      for (const { name: way, opts } of OURS) expectSame(runOurs(elf, opts), qemu, (l) => `${way}: line ${l + 1}`);
    },
    60_000,
  );

  it('smc.S (self-modifying code: with and without FENCE.I, a loop patching itself, data on a code page): as QEMU where the spec decides', () => {
    const elf = assemble(work, 'smc');
    const qemu = runQemu(elf).split('\n');
    // Cases A and D (lines 0 and 2) as QEMU. Cases C and B (lines 1 and 3) store over
    // code without FENCE.I, where the spec allows the old or the new instruction and
    // QEMU 7.2 runs a mix: all three of ours run the new code on every pass (C: 40 + 39
    // + ... + 1; B: 3 x 0x200 + 3 x 2).
    const noFence = new Map([
      [1, '0000000000000334'],
      [3, '0000000000000606'],
    ]);
    for (const { name: engine, opts } of OURS) {
      const ours = runOurs(elf, opts).split('\n');
      const fenced = (lines: string[]): string => lines.filter((_l, i) => !noFence.has(i)).join('\n');
      expectSame(fenced(ours), fenced(qemu), (l) => `${engine}: fenced line ${l + 1}`);
      for (const [line, want] of noFence) expect(ours[line], `${engine}: line ${line + 1}`).toBe(want);
    }
  });

  it(`random integer, M, A and C sequences (seed ${SEED}): same registers and memory`, () => {
    seed = SEED;
    const count = Number(process.env.SPLITVISOR_DIFF_SEQ_COUNT ?? 300);
    const { source, values } = sequenceProgram(count, 24);
    const elf = assemble(work, 'seq-random', source);
    const qemu = runQemu(elf);
    expect(qemu.split('\n').length).toBe(values + 1);
    const per = SEQ_REGS.length + 1;
    for (const { name: engine, opts } of OURS) {
      expectSame(
        runOurs(elf, opts),
        qemu,
        (l) => `${engine}: sequence ${Math.floor(l / per)}, ${l % per < SEQ_REGS.length ? SEQ_REGS[l % per] : 'data page fold'}`,
      );
    }
  }, 120_000);

  it(`the same random sequences in VS-mode under Sv39x4 (H, seed ${SEED}): same registers and memory`, () => {
    // prelude.h's VS_GUEST entry: the program runs as a guest of two-stage translation,
    // every fetch, load, store, LR/SC and AMO through the G-stage (and its TLB sets).
    seed = SEED;
    const count = Number(process.env.SPLITVISOR_DIFF_SEQ_COUNT ?? 300);
    const { source, values } = sequenceProgram(count, 24);
    const elf = assemble(work, 'seq-random-vs', `#define VS_GUEST 1\n${source}`, { h: true });
    const qemu = runQemu(elf, { h: true });
    expect(qemu.split('\n').length).toBe(values + 1);
    const per = SEQ_REGS.length + 1;
    for (const { name: engine, opts } of OURS) {
      expectSame(
        runOurs(elf, { h: true, ...opts }),
        qemu,
        (l) => `${engine}: sequence ${Math.floor(l / per)}, ${l % per < SEQ_REGS.length ? SEQ_REGS[l % per] : 'data page fold'}`,
      );
    }
  }, 120_000);

  it(`random F/D operations in every rounding mode (seed ${SEED}): same results and fflags`, () => {
    seed = SEED;
    const { source, tests } = fpProgram(Number(process.env.SPLITVISOR_DIFF_FP_COUNT ?? 3000));
    const elf = assemble(work, 'fp-random', source);
    const qemu = runQemu(elf);
    expect(qemu.split('\n').length).toBe(2 * tests.length + 1);
    for (const { name: engine, opts } of OURS) {
      expectSame(runOurs(elf, opts), qemu, (l) => `${engine}: ${l % 2 === 0 ? 'result' : 'fflags'} of test ${l >> 1}: ${tests[l >> 1]?.desc}`);
    }
  }, 120_000);
});
