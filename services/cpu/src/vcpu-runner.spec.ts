// The vCPU loop without a thread or a process: the runner and the host's end of its exit
// channel share one thread, and the link answers each exit as it is posted (before the
// runner blocks), as the host thread would once it had served it.
import { describe, expect, it } from 'vitest';
import { encode } from '@splitvisor/riscv';
import { CLINT, CLINT_MTIMECMP, DRAM_BASE, SIFIVE_TEST, UART0 } from '@splitvisor/platform';
import { ExitChannelHost, ExitStatus, type ExitStatusValue, type WorkerRequest } from './exit-channel/index.js';
import { VcpuRunner } from './vcpu-runner.js';

const { Reg } = encode;
const RAM_SIZE = 64 * 4096;
const PLIC_PENDING = 0x0c001000;
const MTIMECMP = CLINT.base + CLINT_MTIMECMP;
const FINISHER_PASS = 0x5555;

type Mmio = Extract<WorkerRequest, { kind: 'mmio' }>;
interface Answer {
  status: ExitStatusValue;
  lo?: number;
}

/** A runner over `program` (at DRAM_BASE) whose page fetches the "mmu" serves from the
 *  program image, and whose MMIO exits `device` answers. Returns what the host saw. */
function setup(
  program: number[],
  device: (req: Mmio, host: ExitChannelHost) => Answer,
  opts: { clock?: 'host' | 'icount'; fetch?: ExitStatusValue; h?: boolean } = {},
) {
  const host = new ExitChannelHost();
  const ram = new SharedArrayBuffer(RAM_SIZE);
  const image = new Uint8Array(RAM_SIZE);
  program.forEach((insn, i) => new DataView(image.buffer).setUint32(i * 4, insn >>> 0, true));
  /** What reached the "host", in order: exits, with the posted writes each carried. */
  const seen: string[] = [];
  const fetched: number[] = [];
  const takePosted = () => {
    for (const e of host.posted.take()) seen.push(`posted ${e.kind === 0 ? 'write' : 'doorbell'} 0x${e.addr.toString(16)}=${e.lo}`);
  };
  const runner = new VcpuRunner(
    {
      vmId: 'vm',
      hartId: 0,
      ramBase: DRAM_BASE,
      ramSize: RAM_SIZE,
      entry: DRAM_BASE,
      dtbAddr: 0,
      ram,
      channel: host.buffers,
      mode: 'emulate',
      clock: opts.clock ?? 'icount',
      ...(opts.h !== undefined && { h: opts.h }),
      batch: 10_000,
    },
    {
      postMessage(req) {
        switch (req.kind) {
          case 'fetch': {
            fetched.push(req.pageIndex);
            const at = req.pageIndex * 4096;
            new Uint8Array(ram).set(image.subarray(at, at + req.count * 4096), at);
            host.reply(opts.fetch ?? ExitStatus.Ok);
            break;
          }
          case 'mmio': {
            takePosted(); // the exit carries the ring (posted-delivery.ts beforeExit)
            seen.push(`${req.write ? 'write' : 'read'} 0x${req.addr.toString(16)}${req.write ? `=${req.lo}` : ''}`);
            const a = device(req, host);
            host.reply(a.status, a.lo ?? 0);
            break;
          }
          case 'posted':
            takePosted();
            break;
          case 'log':
            seen.push(`log ${req.msg}`);
            break;
          case 'exited':
            seen.push(`exited ${req.cause}`);
        }
      },
    },
  );
  const exits = () => Object.fromEntries(host.stats().exits.map((e) => [e.reason, e.count]));
  return { host, runner, seen, fetched, exits };
}

const uart = [encode.lui(Reg.t0, UART0.base >>> 12)];
const poweroff = [
  encode.lui(Reg.t3, SIFIVE_TEST.base >>> 12),
  encode.lui(Reg.t4, FINISHER_PASS >>> 12),
  encode.addi(Reg.t4, Reg.t4, FINISHER_PASS & 0xfff),
  encode.sw(Reg.t4, Reg.t3, 0),
];
const spin = [encode.jal(Reg.zero, 0)];
const devices = (req: Mmio): Answer => {
  if (req.addr === SIFIVE_TEST.base) return { status: ExitStatus.Poweroff, lo: 7 };
  return { status: ExitStatus.Ok, lo: 0x60 }; // LSR: THR empty
};

describe('VcpuRunner', () => {
  it('runs a guest to poweroff: a page fetch, posted stores carried by the next exit, the exit table', () => {
    const { runner, seen, fetched, exits } = setup(
      [
        ...uart,
        encode.addi(Reg.t1, Reg.zero, 72),
        encode.sb(Reg.t1, Reg.t0, 0),
        encode.lbu(Reg.t2, Reg.t0, 5),
        encode.sb(Reg.t2, Reg.t0, 0),
        ...poweroff,
        ...spin,
      ],
      devices,
    );
    const exited = runner.run();
    expect(exited).toEqual({ kind: 'exited', cause: 'poweroff', exitCode: 7, reason: 'guest powered off with code 7' });
    expect(fetched).toEqual([0]);
    expect(seen).toEqual([
      'posted write 0x10000000=72',
      'read 0x10000005',
      'posted write 0x10000000=96', // the value the read exit returned
      'write 0x100000=21845',
      'exited poweroff',
    ]);
    expect(exits()).toMatchObject({ 'page-fetch': 1, 'mmio-read': 1, 'mmio-write': 1, 'mmio-coalesced': 2, doorbell: 0, wfi: 0 });
    expect(runner.hart.stats.instret).toBeGreaterThan(8);
  });

  it('builds the hart with the H extension only when WorkerInit asks (a VM with cpu.h): misa.H and hstatus', () => {
    // With H: misa bit 7 to the UART, hstatus read (it exists), poweroff. Without: the hart
    // as built has neither (looked at without running).
    const program = [
      ...uart,
      encode.csrrs(Reg.t1, 0x301, Reg.zero), // misa
      encode.srli(Reg.t1, Reg.t1, 7),
      encode.andi(Reg.t1, Reg.t1, 1),
      encode.sb(Reg.t1, Reg.t0, 0),
      encode.csrrs(Reg.t2, 0x600, Reg.zero), // hstatus
      ...poweroff,
      ...spin,
    ];
    const withH = setup(program, devices, { h: true });
    expect(withH.runner.run()).toMatchObject({ cause: 'poweroff' });
    expect(withH.seen[0]).toBe('posted write 0x10000000=1');
    const without = setup(program, devices);
    without.host.requestStop();
    without.runner.run();
    expect(without.runner.hart.readCsr(0x301)! & (1n << 7n)).toBe(0n);
    expect(without.runner.hart.readCsr(0x600)).toBeUndefined();
  });

  it('stops at an exit when the host asked meanwhile, without finishing the batch', () => {
    const { runner, exits } = setup([...uart, encode.lbu(Reg.t2, Reg.t0, 5), encode.jal(Reg.zero, -4)], (_req, host) => {
      host.requestStop();
      return { status: ExitStatus.Ok, lo: 0 };
    });
    expect(runner.run()).toEqual({ kind: 'exited', cause: 'stopped', exitCode: 0, reason: 'stopped by the host' });
    expect(exits()['mmio-read']).toBe(1);
  });

  it('does not start a stopped vCPU', () => {
    const { host, runner, fetched } = setup([...spin], devices);
    host.requestStop();
    expect(runner.run()).toMatchObject({ cause: 'stopped' });
    expect(runner.hart.stats.instret).toBe(0);
    expect(fetched).toEqual([]);
  });

  it('counts WFI as a local exit: the guest idles in the worker, nothing leaves it', () => {
    // A timer deadline per WFI: in icount mode the idle jumps to it instead of sleeping.
    const idleUntil = (ticks: number) => [encode.addi(Reg.t6, Reg.zero, ticks), encode.sd(Reg.t6, Reg.t5, 0), encode.wfi()];
    const { runner, seen, exits } = setup([encode.lui(Reg.t5, MTIMECMP >>> 12), ...idleUntil(1000), ...idleUntil(2000), ...poweroff, ...spin], devices);
    expect(runner.run()).toMatchObject({ cause: 'poweroff' });
    expect(exits()).toMatchObject({ wfi: 2, 'mmio-read': 0, 'mmio-write': 1 });
    expect(seen).toEqual(['write 0x100000=21845', 'exited poweroff']);
  });

  it('wakes from WFI at the Sstc deadline (stimecmp) too, not only at mtimecmp', () => {
    // What a kernel that sees Sstc does, and OpenSBI's set_timer on a hart with it: arm
    // stimecmp, leave mtimecmp off, idle. In icount mode the idle jumps to the deadline; a
    // vCPU that looked only at the CLINT found none and never woke.
    const { runner, seen, exits } = setup(
      [
        ...[encode.addi(Reg.t6, Reg.zero, 1), encode.slli(Reg.t6, Reg.t6, 63), encode.csrrs(Reg.zero, 0x30a, Reg.t6)], // menvcfg.STCE
        ...[encode.lui(Reg.t6, 0x100), encode.csrw(0x14d, Reg.t6)], // stimecmp: 2^20 ticks, 0.1 s
        ...[encode.addi(Reg.t6, Reg.zero, 1 << 5), encode.csrw(0x304, Reg.t6)], // mie.STIE
        encode.wfi(),
        // time >> 20 to THR: 1 once the deadline has come, 0 for a wake-up before it.
        ...[encode.csrr(Reg.t6, 0xc01), encode.srli(Reg.t6, Reg.t6, 20), ...uart, encode.sb(Reg.t6, Reg.t0, 0)],
        ...poweroff,
        ...spin,
      ],
      devices,
    );
    expect(runner.run()).toMatchObject({ cause: 'poweroff' });
    expect(exits()).toMatchObject({ wfi: 1 });
    expect(seen.filter((l) => l.includes('0x10000000='))).toEqual(['posted write 0x10000000=1']);
  });

  it('sleeps through a spin on RAM after a doorbell (ram-spin.ts) until what ends it comes: here its timer', () => {
    // Ring a virtio doorbell, then wait for a word of RAM that nothing will write, as
    // U-Boot waits for a used ring; a timer interrupt 30 ms on powers off. Found spinning,
    // the vCPU sleeps to the deadline instead of running the loop for 30 ms. Without the
    // doorbell nothing is probed, and it spins.
    const run = (doorbell: boolean) => {
      const { runner, seen, exits } = setup(
        [
          ...[encode.auipc(Reg.a0, 0), encode.addi(Reg.a0, Reg.a0, 0x400)], // the word: 0
          ...[encode.auipc(Reg.t0, 0), encode.addi(Reg.t0, Reg.t0, 4 * 19 - 8), encode.csrw(0x305, Reg.t0)], // mtvec: word 19
          ...[encode.lui(Reg.t1, 0x200c), encode.addi(Reg.t1, Reg.t1, -8), encode.ld(Reg.t2, Reg.t1, 0)], // mtime
          ...[encode.lui(Reg.t3, 0x49), encode.add(Reg.t2, Reg.t2, Reg.t3)], // + 299008 ticks, ~30 ms
          ...[encode.lui(Reg.t1, MTIMECMP >>> 12), encode.sd(Reg.t2, Reg.t1, 0)],
          ...[encode.addi(Reg.t1, Reg.zero, 0x80), encode.csrw(0x304, Reg.t1), encode.csrrsi(Reg.zero, 0x300, 8)], // MTIE, MIE
          encode.lui(Reg.t0, 0x10001),
          doorbell ? encode.sw(Reg.zero, Reg.t0, 0x50) : encode.nop(), // QueueNotify of slot 0
          ...[encode.lw(Reg.t1, Reg.a0, 0), encode.beq(Reg.t1, Reg.zero, -4)],
          ...poweroff, // word 19: the timer's handler
          ...spin,
        ],
        devices,
        { clock: 'host' },
      );
      expect(runner.run()).toMatchObject({ cause: 'poweroff' });
      return { seen, exits: exits(), instret: runner.hart.stats.instret };
    };
    const slept = run(true);
    expect(slept.seen).toContain('posted doorbell 0x10001050=0');
    expect(slept.exits['poll-idle']).toBeGreaterThanOrEqual(1);
    // A batch (10,000 instructions at most here) before the probe, the probe's pass of the
    // loop, and after each wake (the cap, the deadline) one more of each: not 30 ms of loop.
    expect(slept.instret).toBeLessThan(100_000);
    const spun = run(false);
    expect(spun.exits['poll-idle']).toBe(0);
    expect(spun.instret).toBeGreaterThan(slept.instret);
  });

  it('feeds IRQ line levels set by the host into its PLIC', () => {
    const { host, runner, seen } = setup(
      [
        ...uart,
        encode.lui(Reg.t1, PLIC_PENDING >>> 12),
        encode.lw(Reg.t2, Reg.t1, 0),
        encode.srli(Reg.t2, Reg.t2, 8),
        encode.sb(Reg.t2, Reg.t0, 0), // pending bits 8..15 to the console
        ...poweroff,
        ...spin,
      ],
      devices,
    );
    host.setIrqLevel(10, true);
    runner.run();
    expect(seen[0]).toBe('posted write 0x10000000=4'); // source 10 pending
  });

  it('fails the vCPU when an exit cannot be served, naming it', () => {
    const mmio = setup([...uart, encode.lbu(Reg.t2, Reg.t0, 5), ...spin], () => ({ status: ExitStatus.Failed }));
    expect(mmio.runner.run()).toMatchObject({ cause: 'exit-failed', reason: 'MMIO exit failed' });
    const fetch = setup([...spin], devices, { fetch: ExitStatus.Failed });
    expect(fetch.runner.run()).toMatchObject({ cause: 'exit-failed', reason: 'page fetch of gpa 0x80000000 failed' });
  });

  it('reports a guest reset', () => {
    const { runner } = setup([...poweroff, ...spin], () => ({ status: ExitStatus.Reset }));
    expect(runner.run()).toMatchObject({ cause: 'reset', reason: 'guest requested a reset' });
  });
});
