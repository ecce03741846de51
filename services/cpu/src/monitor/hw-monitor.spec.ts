// The hw monitor with a real hart (H extension, monitorTraps) running guest code in VS-mode:
// each kind of trap that reaches HS (an SBI call, a guest-page fault on RAM and on a
// device, WFI as a virtual instruction, a forbidden instruction) is served as the spec
// and KVM say. The vCPU around the monitor is this file's: RAM that demand-fills on fetch,
// a UART register file, a clock, and a record of every exit.
import { describe, expect, it } from 'vitest';
import { encode as e, GuestRam, Hart, HCsr, PageState } from '@splitvisor/riscv';
import { Reason } from '../exit-channel/index.js';
import { HwMonitor, type MonitorHost } from './hw-monitor.js';
import { GStageMap, TABLE_BASE } from './gstage-map.js';

const RAM = 0x80000000;
const RAM_SIZE = 4 * 1024 * 1024;
const ENTRY = RAM + 0x200000;
const DATA = RAM + 0x300000;
const UART = 0x10000000;
const { a0, a1, a6, a7, t0, t1 } = { a0: 10, a1: 11, a6: 16, a7: 17, t0: 5, t1: 6 };

/** li of a 32-bit unsigned value: lui+addi, zero-extended when bit 31 is set (RV64's lui
 *  sign-extends). */
function li(rd: number, v: number): number[] {
  const lo = ((v & 0xfff) << 20) >> 20;
  const hi = ((v - lo) >>> 12) & 0xfffff;
  const base = hi === 0 ? [e.addi(rd, 0, lo)] : [e.lui(rd, hi), e.addi(rd, rd, lo)];
  return v >= 0x80000000 ? [...base, e.slli(rd, rd, 32), e.srli(rd, rd, 32)] : base;
}

interface Rig {
  hart: Hart;
  monitor: HwMonitor;
  ram: GuestRam;
  exits: { reason: number }[];
  fetches: { page: number; write: boolean }[];
  uartWrites: number[];
  ended: string[];
  /** Runs the hart, serving hs-traps, until it stops or `max` traps. */
  run(max?: number): void;
}

function rig(program: number[]): Rig {
  const ram = new GuestRam(RAM, RAM_SIZE);
  // The guest's image is in RAM, but nothing is "held" until the monitor fetches it.
  ram.writeWords(ENTRY, program);
  const exits: { reason: number }[] = [];
  const fetches: { page: number; write: boolean }[] = [];
  const uartWrites: number[] = [];
  const ended: string[] = [];
  let now = 1000;
  const hart: Hart = new Hart({
    hartId: 0,
    ram,
    bus: { load: () => false, store: () => false },
    resetPc: ENTRY,
    h: true,
    monitorTraps: true,
    timeSource: () => now,
  });
  ram.onMiss = () => {
    throw new Error('the hart touched a page the G-stage did not map');
  };
  const host: MonitorHost = {
    load: (pa, _size, out) => {
      if (pa === UART + 5)
        out[0] = 0x60; // LSR: THR empty, no data
      else if (pa === UART) out[0] = 0;
      else return false;
      out[1] = 0;
      return true;
    },
    store: (pa, _size, lo) => {
      if (pa !== UART) return false;
      uartWrites.push(lo & 0xff);
      return true;
    },
    fetch: (page, write) => {
      fetches.push({ page, write });
      ram.pageState[page] = write ? PageState.Modified : PageState.Shared;
      return 1;
    },
    idle: () => {
      now += 10_000;
    },
    now: () => now,
    recordLocalExit: (reason) => exits.push({ reason }),
    poweroff: (code) => {
      ended.push(`poweroff ${code}`);
      hart.stop();
    },
    reset: () => {
      ended.push('reset');
      hart.stop();
    },
    fail: (why) => {
      ended.push(`fail ${why}`);
      hart.stop();
    },
    log: () => undefined,
  };
  const monitor = new HwMonitor(hart, ram, host, { hartId: 0, ramBase: RAM, ramSize: RAM_SIZE, entry: ENTRY, dtbAddr: RAM + 0x3f0000 });
  monitor.start();
  return {
    hart,
    monitor,
    ram,
    exits,
    fetches,
    uartWrites,
    ended,
    run(max = 100) {
      for (let i = 0; i < max; i++) {
        const x = hart.run(10_000);
        if (x.kind === 'monitor-trap') monitor.handleTrap();
        else if (x.kind !== 'budget') return;
      }
      throw new Error('the guest never stopped');
    },
  };
}

/** SBI SRST shutdown with reason `reason`: the end of every test program. */
const shutdown = (reason = 0) => [...li(a7, 0x53525354), e.addi(a6, 0, 0), e.addi(a0, 0, 0), e.addi(a1, 0, reason), e.ecall()];

describe('the hw monitor', () => {
  it('enters the kernel in VS-mode with a0 = hartid and a1 = the device tree, the G-stage empty', () => {
    const r = rig(shutdown());
    expect(r.hart.getVirt()).toBe(1);
    expect(r.hart.getPrivilege()).toBe(1);
    expect(r.hart.getPc()).toBe(ENTRY);
    expect(r.hart.getReg(a1)).toBe(BigInt(RAM + 0x3f0000));
    expect(r.monitor.gstage.mapped).toBe(0);
    expect(BigInt.asUintN(64, r.hart.readCsr(HCsr.hgatp)!)).toBe((8n << 60n) | BigInt(TABLE_BASE / 4096));
  });

  it('maps RAM on the guest-page fault of its first touch: a fetch for the code, a write fetch for a store', () => {
    const r = rig([...li(t0, DATA), e.addi(t1, 0, 42), e.sd(t1, t0, 0), e.ld(a0, t0, 0), ...shutdown()]);
    r.run();
    expect(r.ended).toEqual(['poweroff 0']);
    const page = (a: number) => (a - RAM) >>> 12;
    // The code page first (instruction guest-page fault), then the data page for the store.
    expect(r.fetches).toEqual([
      { page: page(ENTRY), write: false },
      { page: page(DATA), write: true },
    ]);
    expect(r.monitor.gstage.state(page(DATA))).toBe('write');
    expect(r.monitor.gstage.state(page(ENTRY))).toBe('read');
    expect(r.ram.readBytes(DATA, 1)[0]).toBe(42);
    expect(r.exits.filter((x) => x.reason === Reason.GuestPageFault)).toHaveLength(2);
  });

  it('answers the SBI base extension and the legacy console, and counts them by extension', () => {
    const r = rig([
      ...li(a7, 0x10),
      e.addi(a6, 0, 0), // get_spec_version
      e.ecall(),
      e.addi(t0, a1, 0),
      ...li(a7, 0x10),
      e.addi(a6, 0, 3), // probe_extension(DBCN)
      ...li(a0, 0x4442434e),
      e.ecall(),
      e.addi(t1, a1, 0),
      e.addi(a7, 0, 1), // legacy putchar
      e.addi(a0, 0, 0x41),
      e.ecall(),
      ...li(a7, 0x12345), // no such extension
      e.ecall(),
      e.addi(7, a0, 0), // t2 = its error
      ...shutdown(),
    ]);
    r.run();
    expect(r.hart.getReg(t0)).toBe(2n << 24n); // SBI 2.0
    expect(r.hart.getReg(t1)).toBe(1n);
    expect(r.hart.getReg(7)).toBe(-2n); // SBI_ERR_NOT_SUPPORTED
    expect(r.uartWrites).toEqual([0x41]);
    expect(r.monitor.sbiCalls).toMatchObject({ base: 2, legacy: 1, unknown: 1, srst: 1 });
    expect(r.ended).toEqual(['poweroff 0']);
  });

  it('does a device load or store from the faulting instruction: the value in rd, the pc past it', () => {
    const r = rig([...li(t0, UART), e.lbu(a0, t0, 5), e.addi(t1, 0, 0x5a), e.sb(t1, t0, 0), e.addi(t1, a0, 0), ...shutdown()]);
    r.run();
    expect(r.hart.getReg(t1)).toBe(0x60n);
    expect(r.uartWrites).toEqual([0x5a]);
    expect(r.monitor.mmioFaults).toBe(2);
  });

  it('gives the guest an access fault for an address that is neither RAM nor a device, at its vstvec', () => {
    const handler = ENTRY + 0x100;
    const prog = [...li(t0, handler), e.csrw(0x105, t0), ...li(t0, 0x40000000), e.lw(a0, t0, 0), ...shutdown(1)];
    const padded = [...prog, ...new Array(0x40 - prog.length).fill(e.addi(0, 0, 0)), e.csrr(7, 0x142), e.csrr(t1, 0x143), ...shutdown()];
    const r = rig(padded);
    r.run();
    expect(r.ended).toEqual(['poweroff 0']); // the handler's shutdown, not the one after the load
    expect(r.hart.getReg(7)).toBe(5n); // scause as VS sees it: load access fault
    expect(r.hart.getReg(t1)).toBe(0x40000000n);
  });

  it('idles on WFI (a virtual instruction with VTW) and gives back illegal instruction for what VS may not do', () => {
    const handler = ENTRY + 0x100;
    const prog = [...li(t0, handler), e.csrw(0x105, t0), e.wfi(), e.csrr(a0, HCsr.hstatus)];
    const padded = [...prog, ...new Array(0x40 - prog.length).fill(e.addi(0, 0, 0)), e.csrr(t1, 0x142), ...shutdown()];
    const r = rig(padded);
    r.run();
    expect(r.exits.filter((x) => x.reason === Reason.Wfi)).toHaveLength(1);
    expect(r.hart.getReg(t1)).toBe(2n); // illegal instruction, in the guest's own scause
    expect(r.ended).toEqual(['poweroff 0']);
  });

  it.each([
    ['an M-mode CSR (mstatus)', e.csrr(10, 0x300)],
    ['an HS CSR (hgatp)', e.csrr(10, 0x680)],
    ['HLV.D', 0x6c054573 /* hlv.d a0, (a0) */],
    ['HFENCE.GVMA', 0x62000073],
    ['MRET', 0x30200073],
  ])('keeps the hypervisor out of reach: %s in VS-mode is an illegal instruction to the guest', (_what, inst) => {
    const handler = ENTRY + 0x100;
    const prog = [...li(t0, handler), e.csrw(0x105, t0), inst];
    const r = rig([...prog, ...new Array(0x40 - prog.length).fill(e.addi(0, 0, 0)), e.csrr(t1, 0x142), ...shutdown()]);
    r.run();
    expect(r.hart.getReg(t1)).toBe(2n);
    expect(r.ended).toEqual(['poweroff 0']);
  });

  it('raises VSTIP at the SBI timer deadline and clears it on the next set_timer', () => {
    const r = rig([...li(a7, 0x54494d45), e.addi(a6, 0, 0), ...li(a0, 5000), e.ecall(), e.wfi(), ...shutdown()]);
    r.run();
    // The wfi idled past 5000 ticks (the test clock moves 10,000 per idle): VSTIP is up.
    expect(Number(r.hart.readCsr(HCsr.hvip)! & (1n << 6n))).not.toBe(0);
    expect(r.monitor.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('unmaps recalled pages and downgrades ones that became Shared', () => {
    const r = rig([...li(t0, DATA), e.sd(0, t0, 0), ...shutdown()]);
    r.run();
    const data = (DATA - RAM) >>> 12;
    const code = (ENTRY - RAM) >>> 12;
    r.ram.pageState[data] = PageState.Shared;
    r.ram.pageState[code] = PageState.Invalid;
    r.monitor.pagesLowered([data, code]);
    expect(r.monitor.gstage.state(data)).toBe('read');
    expect(r.monitor.gstage.state(code)).toBe('absent');
  });
});

describe('GStageMap', () => {
  it('builds the directory for RAM that crosses a 1 GiB boundary and maps pages on both sides', () => {
    const g = new GStageMap(0xbfe00000, 4 * 1024 * 1024);
    g.map(0, true);
    g.map(1023, false);
    expect(g.state(0)).toBe('write');
    expect(g.state(1023)).toBe('read');
    expect(g.state(1)).toBe('absent');
    expect(g.mapped).toBe(2);
    g.unmap(0);
    expect(g.mapped).toBe(1);
  });
});

describe('Hart monitorTraps', () => {
  it('gives a VS guest its own sepc: a write to sepc in VS is vsepc (priv H 8.2.1)', () => {
    const r = rig([...li(t0, 0x1234), e.csrw(0x141, t0), ...shutdown()]);
    r.run();
    expect(r.hart.readCsr(HCsr.vsepc)).toBe(0x1234n);
  });
});
