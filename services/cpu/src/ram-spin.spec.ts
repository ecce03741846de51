import { describe, expect, it } from 'vitest';
import { EMPTY_BUS, GuestRam, Hart, REGISTER_SNAPSHOT_WORDS, encode as e } from '@splitvisor/riscv';
import { DRAM_BASE } from '@splitvisor/platform';
import { MAX_STEPS, PROBES_PER_DOORBELL, RamSpinProbe } from './ram-spin.js';

const R = e.Reg;
const TIME = 0xc01;

/** A hart at DRAM_BASE with a0 = DRAM_BASE (auipc) and `loop` after it, run `warm` steps
 *  (by default into the loop's third pass). The word at DRAM_BASE + 0x400 is 0: a loop
 *  reading it never ends. */
function hartIn(loop: number[], warm = 1 + loop.length * 3) {
  const ram = new GuestRam(DRAM_BASE, 0x10000);
  ram.writeWords(DRAM_BASE, [e.auipc(R.a0, 0), ...loop]);
  const hart = new Hart({ hartId: 0, ram, bus: EMPTY_BUS, resetPc: DRAM_BASE });
  let now = 0;
  hart.setTimeSource(() => (now += 10));
  expect(hart.run(warm).kind).toBe('budget');
  const probe = new RamSpinProbe(REGISTER_SNAPSHOT_WORDS);
  probe.doorbell();
  const look = (sideEffects: () => number = () => 0) => probe.probe(hart, sideEffects, () => hart.timeReads);
  return { hart, probe, look };
}

/** lw t1, 0x400(a0); beq t1, zero, back to the lw: U-Boot's wait on a used ring, reduced. */
const pollRam = [e.lw(R.t1, R.a0, 0x400), e.beq(R.t1, R.zero, -4)];

describe('RamSpinProbe', () => {
  it('finds a loop that reads RAM and leaves every register as it was', () => {
    const { hart, probe, look } = hartIn(pollRam);
    const pc = hart.getPc();
    expect(look().kind).toBe('spin');
    expect(hart.getPc()).toBe(pc); // back where it was: one pass of the loop
    expect(probe.counts).toEqual({ probes: 1, spins: 1 });
    expect(probe.due()).toBe(true); // still waiting: the next batch is probed too
  });

  it('does not take a loop that counts in a register for one', () => {
    const { look } = hartIn([e.addi(R.t2, R.t2, 1), ...pollRam.slice(0, 1), e.beq(R.t1, R.zero, -8)]);
    expect(look().kind).toBe('no');
  });

  it('does not take a loop that reads the clock for one, even when no register keeps it', () => {
    const { look } = hartIn([e.csrr(R.t2, TIME), e.addi(R.t2, R.zero, 0), ...pollRam.slice(0, 1), e.beq(R.t1, R.zero, -12)]);
    expect(look().kind).toBe('no');
  });

  it('does not take a loop that leaves the vCPU (an exit or a posted write) for one', () => {
    const { look } = hartIn(pollRam);
    let calls = 0;
    expect(look(() => (calls++ > 1 ? 1 : 0)).kind).toBe('no');
  });

  it('does not take a loop that traps for one', () => {
    // An ecall in the loop, whose handler returns past it: registers the same each pass.
    const MEPC = 0x341;
    const MTVEC = 0x305;
    const { look } = hartIn([
      e.auipc(R.t0, 0),
      e.addi(R.t0, R.t0, 24), // the handler, 6 words on
      e.csrw(MTVEC, R.t0),
      e.ecall(),
      ...pollRam.slice(0, 1),
      e.beq(R.t1, R.zero, -8),
      e.csrr(R.t3, MEPC),
      e.addi(R.t3, R.t3, 4),
      e.csrw(MEPC, R.t3),
      e.mret(),
    ]);
    expect(look().kind).toBe('no');
  });

  it('gives up after MAX_STEPS instructions that never come back to where it started', () => {
    // A straight run of nops longer than a probe looks.
    const { hart, look } = hartIn(
      Array.from({ length: MAX_STEPS + 64 }, () => e.nop()),
      1,
    );
    const pc = hart.getPc();
    expect(look().kind).toBe('no');
    expect(hart.getPc() - pc).toBe(MAX_STEPS * 4);
  });

  it('hands back a step that ended otherwise than on its budget (WFI) for the loop to handle', () => {
    const { look, probe } = hartIn([e.nop(), e.wfi(), e.jal(R.zero, -8)], 1);
    const r = look();
    expect(r).toEqual({ kind: 'exit', exit: { kind: 'wfi' } });
    expect(probe.due()).toBe(false);
  });

  it('is due only after a doorbell, for as many probes that find nothing as a doorbell allows', () => {
    const { probe, look } = hartIn([e.addi(R.t2, R.t2, 1), e.jal(R.zero, -4)]);
    for (let i = 0; i < PROBES_PER_DOORBELL; i++) {
      expect(probe.due()).toBe(true);
      expect(look().kind).toBe('no');
    }
    expect(probe.due()).toBe(false);
    probe.doorbell();
    expect(probe.due()).toBe(true);
    expect(new RamSpinProbe(REGISTER_SNAPSHOT_WORDS).due()).toBe(false);
  });
});
