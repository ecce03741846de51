// Micro-benchmark of the interpreter's hot path: a counted loop of loads, stores, adds,
// a xor and a branch (7 instructions per iteration), ~100M instructions, in budgets of
// 10M as the cpu service would run them. Prints MIPS. With --sv39 the same loop runs in
// S-mode under Sv39 (one identity gigapage): every load and store goes through the TLB.
//
//   npx tsx libs/riscv/bench/loop.ts [millions-of-instructions] [--sv39] [--translate]

import { DRAM_BASE } from '@splitvisor/platform';
import { Csr, encode as e, GuestRam, Hart } from '../src/index.js';

const R = e.Reg;
const args = process.argv.slice(2);
const sv39 = args.includes('--sv39');
const engine = args.includes('--translate') ? 'translate' : 'interp';
const millions = Number(args.find((a) => !a.startsWith('--')) ?? 100);
const iterations = Math.round((millions * 1e6) / 7);

const program = [
  ...e.li(R.t0, iterations),
  e.auipc(R.t1, 1), // data one page after the code, so stores never touch a code page
  e.li(R.t3, 0)[0]!,
  e.li(R.t4, 0)[0]!,
  // loop:
  e.ld(R.t2, R.t1, 0),
  e.addi(R.t2, R.t2, 1),
  e.sd(R.t2, R.t1, 0),
  e.add(R.t3, R.t3, R.t2),
  e.xor(R.t4, R.t4, R.t3),
  e.addi(R.t0, R.t0, -1),
  e.bne(R.t0, R.zero, -24),
  e.wfi(),
];

function once(): { mips: number; cpuMips: number; instret: number; seconds: number } {
  const ram = new GuestRam(DRAM_BASE, 16 * 4096);
  ram.writeWords(DRAM_BASE, program);
  const hart = new Hart({ hartId: 0, ram, bus: { load: () => false, store: () => false }, resetPc: DRAM_BASE, engine });
  if (sv39) {
    // Root table at page 8: entry 2 maps 0x80000000.. 1 GiB identity, RWX, A and D set.
    const root = DRAM_BASE + 8 * 4096;
    ram.writeWords(root + 2 * 8, [((DRAM_BASE / 4096) << 10) | 0xcf, 0]);
    hart.writeCsr(Csr.satp, (8n << 60n) | BigInt(root / 4096));
    hart.writeCsr(Csr.pmpaddr0, (1n << 54n) - 1n);
    hart.writeCsr(Csr.pmpcfg0, 0x1fn);
    hart.writeCsr(Csr.mstatus, 1n << 11n); // MPP = S
    hart.writeCsr(Csr.mepc, BigInt(DRAM_BASE));
    ram.writeWords(DRAM_BASE + 3 * 4096, [e.mret()]);
    hart.setPc(DRAM_BASE + 3 * 4096);
  }
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (;;) {
    const exit = hart.run(10_000_000);
    if (exit.kind === 'wfi') break;
    if (exit.kind !== 'budget') throw new Error(`unexpected exit ${JSON.stringify(exit)}`);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  // CPU time too: on a shared machine the wall clock also counts other processes' turns.
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const counter = hart.getReg(R.t2);
  if (counter !== BigInt(iterations)) throw new Error(`loop computed ${counter}, expected ${iterations}`);
  return { mips: hart.stats.instret / seconds / 1e6, cpuMips: hart.stats.instret / cpuSeconds / 1e6, instret: hart.stats.instret, seconds };
}

// The first run includes V8's warm-up; report it and the best of the next ones.
const runs = [once(), once(), once()];
for (const [i, r] of runs.entries()) {
  console.log(`run ${i + 1}: ${r.instret} instructions in ${r.seconds.toFixed(3)} s = ${r.mips.toFixed(1)} MIPS (${r.cpuMips.toFixed(1)} per CPU second)`);
}
const best = (k: 'mips' | 'cpuMips') => Math.max(...runs.map((r) => r[k])).toFixed(1);
console.log(`best: ${best('mips')} MIPS, ${best('cpuMips')} per CPU second${sv39 ? ' (S-mode, Sv39)' : ''} (node ${process.version})`);
