// The trap monitor with a real hart (no H, monitorTraps) running guest code in real U-mode
// as virtual S: the privileged instructions it emulates, the traps it delivers to the guest,
// the shadow it fills from the guest's page tables, and the interrupts it injects.
import { describe, expect, it } from 'vitest';
import { encode as e, GuestRam, Hart } from '@splitvisor/riscv';
import { Reason } from '../exit-channel/index.js';
import type { MonitorHost } from './hw-monitor.js';
import { TrapMonitor } from './trap-monitor.js';
import { SHADOW_BASE } from './shadow-mmu.js';

const RAM = 0x80000000;
const RAM_SIZE = 4 * 1024 * 1024;
const ENTRY = RAM + 0x200000;
const HANDLER = ENTRY + 0x400;
const USER = ENTRY + 0x800;
const DATA = RAM + 0x300000;
const PT = RAM + 0x380000; // the guest's Sv39 root
const UART = 0x10000000;
const [ra, t0, t1, t2, a0, a1, a6, a7] = [1, 5, 6, 7, 10, 11, 16, 17];
const CSR = { sstatus: 0x100, sie: 0x104, stvec: 0x105, sscratch: 0x140, sepc: 0x141, scause: 0x142, stval: 0x143, satp: 0x180 };

function li(rd: number, v: number): number[] {
  const lo = ((v & 0xfff) << 20) >> 20;
  const hi = ((v - lo) >>> 12) & 0xfffff;
  const base = hi === 0 ? [e.addi(rd, 0, lo)] : [e.lui(rd, hi), e.addi(rd, rd, lo)];
  return v >= 0x80000000 ? [...base, e.slli(rd, rd, 32), e.srli(rd, rd, 32)] : base;
}
const shutdown = () => [...li(a7, 0x53525354), e.addi(a6, 0, 0), e.addi(a0, 0, 0), e.addi(a1, 0, 0), e.ecall()];
/** stvec = HANDLER, whose code records scause, stval and sepc in t0, t1, t2 and shuts down. */
const withHandler = () => [...li(t0, HANDLER), e.csrw(CSR.stvec, t0)];
const handler = [e.csrr(t0, CSR.scause), e.csrr(t1, CSR.stval), e.csrr(t2, CSR.sepc), ...shutdown()];

interface Rig {
  hart: Hart;
  monitor: TrapMonitor;
  ram: GuestRam;
  exits: number[];
  ended: string[];
  uart: number[];
  run(): void;
}

function rig(program: number[], extra: { at: number; code: number[] }[] = []): Rig {
  const ram = new GuestRam(RAM, RAM_SIZE);
  ram.writeWords(ENTRY, program);
  ram.writeWords(HANDLER, handler);
  for (const x of extra) ram.writeWords(x.at, x.code);
  const exits: number[] = [];
  const ended: string[] = [];
  const uart: number[] = [];
  let now = 1000;
  const hart: Hart = new Hart({ hartId: 0, ram, bus: { load: () => false, store: () => false }, resetPc: ENTRY, monitorTraps: true, timeSource: () => now });
  const host: MonitorHost = {
    load: (pa, _s, out) => {
      if (pa !== UART + 5) return false;
      out[0] = 0x60;
      out[1] = 0;
      return true;
    },
    store: (pa, _s, lo) => (pa === UART ? (uart.push(lo & 0xff), true) : false),
    fetch: () => 1,
    idle: () => void (now += 100_000),
    now: () => now,
    recordLocalExit: (r) => exits.push(r),
    poweroff: (code) => (ended.push(`poweroff ${code}`), hart.stop()),
    reset: () => (ended.push('reset'), hart.stop()),
    fail: (why) => (ended.push(`fail ${why}`), hart.stop()),
    log: () => undefined,
  };
  const monitor = new TrapMonitor(hart, ram, host, { hartId: 0, ramBase: RAM, ramSize: RAM_SIZE, entry: ENTRY, dtbAddr: RAM + 0x3f0000 });
  monitor.start();
  return {
    hart,
    monitor,
    ram,
    exits,
    ended,
    uart,
    run() {
      for (let i = 0; i < 10_000; i++) {
        const x = hart.run(1000);
        if (x.kind === 'monitor-trap') monitor.handleTrap();
        else if (x.kind === 'budget') monitor.tick();
        else return;
      }
      throw new Error(`the guest never stopped (pc 0x${hart.getPc().toString(16)})`);
    },
  };
}

const count = (r: Rig, reason: number) => r.exits.filter((x) => x === reason).length;

describe('the trap monitor', () => {
  it('runs the kernel in real U-mode as virtual S, with a0 = hartid, a1 = the device tree and its shadow in monitor memory', () => {
    const r = rig(shutdown());
    expect(r.hart.getPrivilege()).toBe(0);
    expect(r.monitor.v.priv).toBe(1);
    expect(r.hart.getReg(a1)).toBe(BigInt(RAM + 0x3f0000));
    const satp = BigInt.asUintN(64, r.hart.readCsr(0x180)!);
    expect(Number(satp & ((1n << 44n) - 1n)) * 4096).toBeGreaterThanOrEqual(SHADOW_BASE);
    r.run();
    expect(r.ended).toEqual(['poweroff 0']);
  });

  it('emulates the S CSRs: sstatus shows UXL and SIE, sscratch and stvec keep what was written, each access one exit', () => {
    const r = rig([
      e.csrrsi(0, CSR.sstatus, 2), // SIE
      e.csrr(t0, CSR.sstatus),
      ...li(t1, 0x1234),
      e.csrw(CSR.sscratch, t1),
      e.csrrw(t2, CSR.sscratch, 0), // swap: t2 = 0x1234, sscratch = 0
      e.csrr(ra, CSR.sscratch),
      ...shutdown(),
    ]);
    r.run();
    expect(r.hart.getReg(t0)).toBe((2n << 32n) | 2n);
    expect(r.hart.getReg(t2)).toBe(0x1234n);
    expect(r.hart.getReg(ra)).toBe(0n);
    expect(count(r, Reason.PrivInsn)).toBe(5);
    expect(r.ended).toEqual(['poweroff 0']);
  });

  it('SRETs into virtual U, and delivers the ECALL from there to the guest handler with scause 8', () => {
    const r = rig(
      [...withHandler(), ...li(t0, USER), e.csrw(CSR.sepc, t0), ...li(t1, 1 << 8), e.csrrc(0, CSR.sstatus, t1) /* SPP = U */, 0x10200073 /* sret */],
      [{ at: USER, code: [e.addi(a0, 0, 7), e.ecall()] }],
    );
    r.run();
    expect(r.hart.getReg(t0)).toBe(8n);
    expect(r.hart.getReg(t2)).toBe(BigInt(USER + 4));
    expect(count(r, Reason.VirtualTrap)).toBe(1);
  });

  it('refuses privileged instructions in virtual U: an SRET there is an illegal instruction to the guest', () => {
    const r = rig(
      [...withHandler(), ...li(t0, USER), e.csrw(CSR.sepc, t0), ...li(t1, 1 << 8), e.csrrc(0, CSR.sstatus, t1), 0x10200073],
      [{ at: USER, code: [0x10200073, e.csrr(a0, CSR.sstatus)] }],
    );
    r.run();
    expect(r.hart.getReg(t0)).toBe(2n);
    expect(r.hart.getReg(t1)).toBe(0x10200073n);
    expect(r.monitor.v.priv).toBe(1);
  });

  it('contains an SRET to an address no pc can hold (sepc = 2^63): the guest takes the fetch fault, the monitor does not throw', () => {
    const r = rig([...withHandler(), e.addi(t1, 0, 1), e.slli(t1, t1, 63), e.csrw(CSR.sepc, t1), 0x10200073 /* sret */]);
    r.run();
    expect(r.ended).toEqual(['poweroff 0']);
    expect(r.hart.getReg(t0)).toBe(1n); // instruction access fault, at its handler
  });

  it('delivers MRET and M-mode CSRs from virtual S as illegal instructions', () => {
    const r = rig([...withHandler(), e.csrr(a0, 0x300)]);
    r.run();
    expect(r.hart.getReg(t0)).toBe(2n);
  });

  it('fills the shadow from the guest page tables, setting A and D in the guest PTE as hardware would', () => {
    // Sv39 root: gigapage 2 (0x80000000) -> itself, R W X, kernel page (U = 0), A and D clear.
    const pte = ((RAM / 4096) << 10) | 0xf; // V R W X
    const r = rig(
      [
        ...li(t0, (8 << 28) >>> 0),
        e.slli(t0, t0, 32),
        ...li(t1, PT / 4096),
        e.or(t0, t0, t1),
        e.csrw(CSR.satp, t0),
        0x12000073 /* sfence.vma */,
        ...li(t1, DATA),
        e.addi(t2, 0, 9),
        e.sd(t2, t1, 0),
        e.ld(ra, t1, 0),
        ...shutdown(),
      ],
      [{ at: PT + 2 * 8, code: [pte, 0] }],
    );
    r.run();
    expect(r.ended).toEqual(['poweroff 0']);
    expect(r.hart.getReg(ra)).toBe(9n);
    const flags = r.ram.readBytes(PT + 16, 1)[0]!;
    expect(flags & 0xc0).toBe(0xc0); // A and D
    expect(count(r, Reason.ShadowFault)).toBeGreaterThanOrEqual(2); // the code page, the data page
    expect(r.monitor.shadow.flushes).toBeGreaterThanOrEqual(1); // the sfence (a satp write selects, it does not flush)
  });

  it("keeps each address space's shadow (satp root and ASID): switching back refills nothing, an ASID fence drops that one", () => {
    const pte = ((RAM / 4096) << 10) | 0xcf; // V R W X A D
    const PT2 = PT + 0x1000;
    const satp = (asid: number, root: number) => [
      ...li(t0, (8 << 28) >>> 0),
      ...li(t1, asid << 12),
      e.or(t0, t0, t1),
      e.slli(t0, t0, 32),
      ...li(t1, root / 4096),
      e.or(t0, t0, t1),
      e.csrw(CSR.satp, t0),
    ];
    const touch = [...li(t1, DATA), e.ld(ra, t1, 0)];
    const r = rig(
      [
        ...satp(1, PT),
        ...touch,
        ...satp(2, PT2),
        ...touch,
        ...satp(1, PT),
        ...touch,
        e.addi(t2, 0, 1),
        0x12000073 | (t2 << 20), // sfence.vma zero, t2: ASID 1 only
        ...shutdown(),
      ],
      [
        { at: PT + 2 * 8, code: [pte, 0] },
        { at: PT2 + 2 * 8, code: [pte, 0] },
      ],
    );
    r.run();
    expect(r.ended).toEqual(['poweroff 0']);
    expect(r.monitor.shadow.reused).toBeGreaterThanOrEqual(1); // back to ASID 1: its shadow was there
    expect(r.monitor.shadow.flushes).toBe(0); // no satp write or ASID fence dropped everything
    expect(r.monitor.shadow.spaceFlushes).toBe(1); // the fence for ASID 1
    // The code page with paging off, code and data in each space, nothing on the way back to
    // ASID 1 (dropping shadows on satp writes made this 8), and the code page again after
    // ASID 1's fence.
    expect(count(r, Reason.ShadowFault)).toBe(6);
  });

  it('gives the guest the page fault its own tables give, with stval = the address', () => {
    const pte = ((RAM / 4096) << 10) | 0xcf; // V R W X A D: the kernel's gigapage; nothing else mapped
    const r = rig(
      [
        ...withHandler(),
        ...li(t0, (8 << 28) >>> 0),
        e.slli(t0, t0, 32),
        ...li(t1, PT / 4096),
        e.or(t0, t0, t1),
        e.csrw(CSR.satp, t0),
        ...li(t1, 0x40000000),
        e.lw(a0, t1, 0),
      ],
      [{ at: PT + 2 * 8, code: [pte, 0] }],
    );
    r.run();
    expect(r.hart.getReg(t0)).toBe(13n);
    expect(r.hart.getReg(t1)).toBe(0x40000000n);
  });

  it('contains a hostile guest that maps the shadow tables: its store is an access fault to itself, the shadows untouched', () => {
    // Root entry 3 (VA 0xc0000000): a gigapage onto SHADOW_BASE, the monitor's own memory, R W.
    const shadowPpn = SHADOW_BASE / 4096;
    const hostile = [((shadowPpn % 2 ** 22) << 10) | 0xc7, Math.floor(shadowPpn / 2 ** 22)]; // V R W A D
    const kernel = ((RAM / 4096) << 10) | 0xcf;
    const r = rig(
      [
        ...withHandler(),
        ...li(t0, (8 << 28) >>> 0),
        e.slli(t0, t0, 32),
        ...li(t1, PT / 4096),
        e.or(t0, t0, t1),
        e.csrw(CSR.satp, t0),
        ...li(t1, 0xc0000000),
        ...li(t2, 0x5a5a1234),
        e.sd(t2, t1, 0),
      ],
      [{ at: PT + 2 * 8, code: [kernel, 0, ...hostile] }],
    );
    r.run();
    expect(r.ended).toEqual(['poweroff 0']); // the handler's shutdown: the monitor did not fail
    expect(r.hart.getReg(t0)).toBe(7n); // store access fault
    expect(r.hart.getReg(t1)).toBe(0xc0000000n);
    const words = new BigUint64Array(r.monitor.shadow.tables.bytes.buffer, r.monitor.shadow.tables.bytes.byteOffset, r.monitor.shadow.used * 512);
    expect(words.includes(0x5a5a1234n)).toBe(false);
  });

  it('does MMIO for the guest on a device address (its paging off): the loaded value in rd', () => {
    const r = rig([...li(t0, UART), e.lbu(a0, t0, 5), e.addi(t1, 0, 0x41), e.sb(t1, t0, 0), e.addi(t2, a0, 0), ...shutdown()]);
    r.run();
    expect(r.hart.getReg(t2)).toBe(0x60n);
    expect(r.uart).toEqual([0x41]);
  });

  it('injects the SBI timer as STI once the guest enables it, at its stvec with the interrupt bit', () => {
    const r = rig([
      ...withHandler(),
      ...li(t0, 1 << 5),
      e.csrw(CSR.sie, t0),
      ...li(a7, 0x54494d45),
      e.addi(a6, 0, 0),
      e.addi(a0, 0, 0), // a deadline already past
      e.ecall(),
      e.csrrsi(0, CSR.sstatus, 2), // SIE: it is taken now
      e.jal(0, 0), // spin
    ]);
    r.run();
    expect(BigInt.asUintN(64, r.hart.getReg(t0))).toBe((1n << 63n) | 5n);
    expect(count(r, Reason.VirqInject)).toBe(1);
  });

  it('idles on WFI until the timer it armed is due', () => {
    const r = rig([...li(a7, 0x54494d45), e.addi(a6, 0, 0), ...li(a0, 50_000), e.ecall(), ...li(t0, 1 << 5), e.csrw(CSR.sie, t0), e.wfi(), ...shutdown()]);
    r.run();
    expect(count(r, Reason.Wfi)).toBe(1);
    expect(r.ended).toEqual(['poweroff 0']);
  });
});
