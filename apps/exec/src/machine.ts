// The virt machine of `splitvisor exec`, in one process, built from the same models the lab
// runs (DESIGN.md, "Shape of the code"): the hart (@splitvisor/riscv), the boot ROM, CLINT
// and PLIC the cpu service hosts (@splitvisor/machine), and the ns16550a, sifive_test,
// goldfish RTC and empty virtio-mmio slots io-backend hosts (@splitvisor/devices), each at
// its address of the platform table. The table's unmodelled windows (PCIe, flash...) answer
// as it says, so firmware that probes finds nothing; anything else outside RAM faults.
//
// Boot as QEMU: the hart starts in the boot ROM (a0 = hartid, a1 = the DTB or 0, a2 =
// fw_dynamic_info), which jumps to the entry. Time is 10 MHz ticks of the host's monotonic
// clock, or with `icount` of instructions run (ICOUNT_INSNS_PER_TICK per tick, so a run can
// be replayed exactly); mtime and the `time` CSR read the CLINT. A hart idling in WFI
// sleeps until the next enabled timer deadline (icount: time jumps there).

import { BootRom, bootRom, Clint, cpuLocalBus, hostClock, IcountClock, Plic, plicContextIrq, type LocalBus } from '@splitvisor/machine';
import { EmptyWindow, GoldfishRtc, MmioBus, SifiveTest, Uart16550, VirtioMmioEmptySlot, type SystemEvent } from '@splitvisor/devices';
import {
  BOOT_ROM,
  GOLDFISH_RTC,
  pcieHighMmio,
  DEFAULT_ENGINE,
  SIFIVE_TEST,
  UART0,
  UNMODELLED_WINDOWS,
  VIRTIO_MMIO_SLOTS,
  virtioMmioSlot,
  gpa,
  type UnmodelledWindow,
} from '@splitvisor/platform';
import { Csr, GuestRam, Hart, Irq, type Engine, type PhysBus } from '@splitvisor/riscv';

export type ClockMode = 'host' | 'icount';

/** In icount mode time advances one 10 MHz tick per this many instructions: the clock
 *  of a 100 MIPS machine, about what this interpreter runs at. */
export const ICOUNT_INSNS_PER_TICK = 10;

/** Instructions per run() between looks at the timer and the output. */
const SLICE = 100_000;

export interface ExecMachineOptions {
  /** RAM at DRAM_BASE, the program already in it. */
  ram: GuestRam;
  /** Where the boot ROM jumps. */
  entry: number;
  /** The device tree's address, handed over in a1 (0: none). */
  dtbAddr?: number;
  clock: ClockMode;
  /** Console bytes (UART and HTIF). */
  output: (bytes: Uint8Array) => void;
  /** The hart has the H extension (`--h`). */
  h?: boolean;
  /** How the hart runs guest code (`--engine`); default DEFAULT_ENGINE (the translator). */
  engine?: Engine;
  /** With 'translate': the code cache's bound in blocks (`--max-blocks`). */
  maxBlocks?: number;
}

export type ExecResult =
  /** The guest ended itself: sifive_test, HTIF, or a reset request (code 0). */
  | { readonly kind: 'exit'; readonly code: number; readonly how: 'sifive-test' | 'htif' | 'reset' }
  /** --max-insns reached. */
  | { readonly kind: 'max-insns' }
  /** The hart cannot go on (trap loop, unreachable vector), or waits for an interrupt
   *  nothing can raise. */
  | { readonly kind: 'fatal'; readonly reason: string };

export class ExecMachine {
  readonly ram: GuestRam;
  readonly hart: Hart;
  private result: ExecResult | null = null;
  private readonly icount: IcountClock | null;
  private readonly output: (bytes: Uint8Array) => void;
  private readonly out: number[] = [];
  private readonly clint: Clint;
  private readonly rtc: GoldfishRtc;
  private readonly local: LocalBus;
  private readonly io = new MmioBus();
  private readonly rom: Uint8Array;

  constructor(opts: ExecMachineOptions) {
    this.output = opts.output;
    this.ram = opts.ram;
    this.icount = opts.clock === 'icount' ? new IcountClock(ICOUNT_INSNS_PER_TICK) : null;
    const irq = (bit: number, level: boolean) => this.hart.setPendingInterrupt(bit, level);
    this.clint = new Clint({ harts: 1, clock: this.icount?.now ?? hostClock(), onIrq: (_h, bit, level) => irq(bit, level) });
    const plic = new Plic({ harts: 1, onIrq: (ctx, level) => irq(plicContextIrq(ctx), level) });
    this.rom = bootRom({ entry: opts.entry, dtbAddr: opts.dtbAddr ?? 0 });
    this.local = cpuLocalBus({ bootRom: new BootRom(this.rom), clint: this.clint, plic });

    const io = this.io;
    io.add(SIFIVE_TEST.base, SIFIVE_TEST.size, new SifiveTest({ onEvent: (e) => this.systemEvent(e) }));
    this.rtc = new GoldfishRtc({ onIrq: (level) => plic.setLevel(GOLDFISH_RTC.irq!, level) });
    io.add(GOLDFISH_RTC.base, GOLDFISH_RTC.size, this.rtc);
    io.add(UART0.base, UART0.size, new Uart16550({ onTransmit: (b) => this.emit(b), onIrq: (level) => plic.setLevel(UART0.irq!, level) }));
    for (let i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
      const slot = virtioMmioSlot(i);
      io.add(slot.base, slot.size, new VirtioMmioEmptySlot(`virtio-mmio@${slot.base.toString(16)}`));
    }
    for (const w of [...UNMODELLED_WINDOWS, pcieHighMmio(opts.ram.size)]) addWindow(io, w);

    const bus: PhysBus = {
      load: (pa, size, out) => {
        const r = this.local.load(pa, size, out);
        if (r !== undefined) return r.ok;
        const d = io.read(gpa(pa), size);
        if (!d.ok) return false;
        out[0] = d.lo;
        out[1] = d.hi;
        return true;
      },
      store: (pa, size, lo, hi) => {
        const r = this.local.store(pa, size, lo, hi);
        if (r !== undefined) return r.ok;
        return io.write(gpa(pa), size, lo, hi).ok;
      },
    };
    this.hart = new Hart({
      hartId: 0,
      ram: opts.ram,
      bus,
      resetPc: BOOT_ROM.base,
      roms: [{ base: BOOT_ROM.base, bytes: this.rom }],
      timeSource: () => this.clint.mtime(),
      h: opts.h ?? false,
      engine: opts.engine ?? DEFAULT_ENGINE,
      ...(opts.maxBlocks !== undefined && { maxBlocks: opts.maxBlocks }),
    });
    // Power-on: every line announced; mtimecmp = 0, so MTIP is high until software
    // programs it (as QEMU).
    this.local.reset();
  }

  /** Ends the run with `code` (called by devices and HTIF during a store). */
  finish(code: number, how: 'sifive-test' | 'htif' | 'reset'): void {
    if (this.result === null) this.result = { kind: 'exit', code, how };
    this.hart.stop();
  }

  /** Queues console bytes; flushed between slices and at the end. */
  emit(bytes: Uint8Array | number): void {
    if (typeof bytes === 'number') this.out.push(bytes);
    else for (const b of bytes) this.out.push(b);
    if (this.out.length >= 4096) this.flush();
  }

  flush(): void {
    if (this.out.length === 0) return;
    this.output(Uint8Array.from(this.out));
    this.out.length = 0;
  }

  /** The 32-bit word at `pa` in RAM or the boot ROM (what --trace prints), or null. */
  peekWord(pa: number): number | null {
    const ram = this.ram;
    if (ram.contains(pa, 4)) return new DataView(ram.bytes.buffer, ram.bytes.byteOffset).getUint32(pa - ram.base, true);
    const off = pa - BOOT_ROM.base;
    if (off >= 0 && off + 4 <= this.rom.length) return new DataView(this.rom.buffer).getUint32(off, true);
    return null;
  }

  /**
   * Runs until the guest exits, `maxInsns` instructions (attempted, so a trapping loop
   * ends too) have run, or the hart cannot continue. `onStep`, when given, is called
   * before every instruction (tracing: one instruction per run()).
   */
  run(maxInsns = Number.POSITIVE_INFINITY, onStep?: () => void): ExecResult {
    const hart = this.hart;
    try {
      for (;;) {
        if (this.result !== null) return this.result;
        const left = maxInsns - hart.stats.cycles;
        if (left <= 0) return { kind: 'max-insns' };
        this.tick();
        onStep?.();
        const before = hart.stats.cycles;
        const exit = hart.run(onStep ? 1 : Math.min(SLICE, left));
        this.icount?.advance(hart.stats.cycles - before);
        if (exit.kind === 'fatal') return { kind: 'fatal', reason: exit.reason };
        if (exit.kind === 'wfi' && this.result === null) {
          const why = this.idle();
          if (why !== null) return { kind: 'fatal', reason: why };
        }
        if (onStep === undefined) this.flush();
      }
    } finally {
      this.flush();
    }
  }

  /** Between slices: the timer's level and the RTC's alarm against the clock. */
  private tick(): void {
    this.clint.tick();
    this.rtc.poll();
  }

  private systemEvent(e: SystemEvent): void {
    if (e.kind === 'poweroff') this.finish(e.exitCode, 'sifive-test');
    else this.finish(0, 'reset');
  }

  /** WFI: wait (or, with icount, skip) until the next timer deadline an enabled
   *  interrupt would see. Returns a reason when no interrupt can ever come. */
  private idle(): string | null {
    // A deadline may have passed during the slice: its line rises now, and the hart takes it.
    this.tick();
    const mie = Number(this.hart.readCsr(Csr.mie) ?? 0n);
    if ((this.hart.getPendingInterrupts() & mie) !== 0) return null;
    const now = this.clint.mtime();
    let wait = Number.POSITIVE_INFINITY;
    if ((mie & (1 << Irq.MTI)) !== 0) wait = this.clint.nextDeadline(0);
    if ((mie & (1 << Irq.STI)) !== 0) wait = Math.min(wait, this.hart.timerDeadline() - now);
    if (wait === Number.POSITIVE_INFINITY || now + wait >= 2 ** 53) {
      return `the hart waits (WFI at pc 0x${this.hart.getPc().toString(16)}) for an interrupt nothing will raise`;
    }
    if (wait > 0) {
      if (this.icount !== null) {
        this.icount.skip(Math.ceil(wait));
      } else {
        this.flush();
        sleepMs(wait / 10_000);
      }
    }
    this.tick();
    return null;
  }
}

function addWindow(io: MmioBus, w: UnmodelledWindow): void {
  if (w.answer !== 'fault') io.add(w.base, w.size, new EmptyWindow(w.name, w.answer));
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(SLEEPER, 0, 0, Math.min(ms, 60_000));
}
