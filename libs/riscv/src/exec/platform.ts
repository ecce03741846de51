// The smallest machine `splitvisor exec` needs, in one process: the hart, RAM at the
// virt machine's DRAM base, and tiny local models of the devices test programs and
// benchmarks touch, at their virt addresses (the full CLINT/PLIC live in libs/machine;
// these only do what a bare-metal program uses):
//
//   UART0 ns16550a  THR to the output, LSR always "transmitter empty", divisor latch
//   sifive_test     0x5555 pass (exit 0), (code << 16) | 0x3333 fail (exit code), 0x7777 reset
//   CLINT           msip -> MSI, mtimecmp/mtime -> MTI (level: mtime >= mtimecmp)
//   HTIF            tohost/fromhost, when the ELF has them (htif.ts)
//   everything else of the virt map (PLIC, RTC, virtio-mmio, flash, PCIe) reads as zero
//   (PCIe config space: all ones) and ignores writes, so firmware that probes finds nothing;
//   addresses outside the map are access faults as on QEMU
//
// Time is 10 MHz ticks from the host's monotonic clock, or with `icount` from retired
// instructions (ICOUNT_INSNS_PER_TICK per tick, so a run can be replayed exactly); the
// `time` CSR and mtime read the same clock. A hart idling in WFI sleeps until the next
// enabled timer deadline (icount: time jumps there).

import {
  CLINT,
  CLINT_MSIP,
  CLINT_MTIME,
  CLINT_MTIMECMP,
  DRAM_BASE,
  regionAt,
  SIFIVE_TEST,
  SIFIVE_TEST_FAIL,
  SIFIVE_TEST_PASS,
  SIFIVE_TEST_RESET,
  UART0,
} from '@splitvisor/platform';
import { Csr } from '../csr.js';
import { Hart } from '../hart.js';
import { GuestRam, type PhysBus } from '../memory.js';
import { Irq } from '../trap.js';

export type ClockMode = 'host' | 'icount';

/** In icount mode time advances one 10 MHz tick per this many instructions: the clock
 *  of a 100 MIPS machine, about what this interpreter runs at. */
export const ICOUNT_INSNS_PER_TICK = 10;

/** Windows of QEMU virt that the platform table does not list yet, where firmware (U-Boot)
 *  probes for devices: here it finds none. Reads return `fill`, writes are ignored. */
const EMPTY_WINDOWS: readonly { base: number; size: number; fill: number }[] = [
  { base: 0x3000000, size: 0x10000, fill: 0 }, // PCIe PIO
  { base: 0x20000000, size: 0x4000000, fill: 0 }, // two CFI flash banks: no CFI answer
  { base: 0x30000000, size: 0x10000000, fill: -1 }, // PCIe ECAM: all ones = no function
  { base: 0x40000000, size: 0x40000000, fill: 0 }, // PCIe MMIO
];

/** Instructions per run() between looks at the timer and the output. */
const SLICE = 100_000;

export interface ExecPlatformOptions {
  /** RAM size in bytes (a multiple of 4 KiB). */
  memoryBytes: number;
  clock: ClockMode;
  /** Console bytes (UART and HTIF). */
  output: (bytes: Uint8Array) => void;
}

export type ExecResult =
  /** The guest ended itself: sifive_test, HTIF, or a reset request (code 0). */
  | { readonly kind: 'exit'; readonly code: number; readonly how: 'sifive-test' | 'htif' | 'reset' }
  /** --max-insns reached. */
  | { readonly kind: 'max-insns' }
  /** The hart cannot go on (trap loop, unreachable vector), or waits for an interrupt
   *  nothing can raise. */
  | { readonly kind: 'fatal'; readonly reason: string };

export class ExecPlatform {
  readonly ram: GuestRam;
  readonly hart: Hart;
  private result: ExecResult | null = null;
  private readonly clock: ClockMode;
  private readonly output: (bytes: Uint8Array) => void;
  private readonly t0 = performance.now();
  /** icount: ticks skipped while idle in WFI. */
  private skipped = 0;
  private msip = 0;
  private mtimecmpLo = 0;
  private mtimecmpHi = 0;
  private mtip = false;
  private readonly out: number[] = [];
  private readonly uart = new Uart16550((b) => this.emit(b));

  constructor(opts: ExecPlatformOptions) {
    this.clock = opts.clock;
    this.output = opts.output;
    this.ram = new GuestRam(DRAM_BASE, opts.memoryBytes);
    const bus: PhysBus = {
      load: (pa, size, out) => this.load(pa, size, out),
      store: (pa, size, lo, hi) => this.store(pa, size, lo, hi),
    };
    this.hart = new Hart({ hartId: 0, ram: this.ram, bus, resetPc: DRAM_BASE, timeSource: () => this.now() });
    // Power-on: mtimecmp = 0, so MTIP is high until software programs it (as QEMU).
    this.updateTimer();
  }

  /** Current time in 10 MHz ticks. */
  now(): number {
    if (this.clock === 'icount') return Math.floor(this.hart.stats.cycles / ICOUNT_INSNS_PER_TICK) + this.skipped;
    return Math.floor((performance.now() - this.t0) * 10_000);
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

  /**
   * Runs until the guest exits, `maxInsns` instructions (attempted, so a trapping loop
   * ends too) have run, or the hart cannot continue. `onStep`, when given, is called
   * before every instruction (tracing: one instruction per run()).
   */
  run(maxInsns = Number.POSITIVE_INFINITY, onStep?: () => void): ExecResult {
    try {
      for (;;) {
        if (this.result !== null) return this.result;
        const left = maxInsns - this.hart.stats.cycles;
        if (left <= 0) return { kind: 'max-insns' };
        this.updateTimer();
        onStep?.();
        const exit = this.hart.run(onStep ? 1 : Math.min(SLICE, left));
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

  /** WFI: wait (or, with icount, skip) until the next timer deadline an enabled
   *  interrupt would see. Returns a reason when no interrupt can ever come. */
  private idle(): string | null {
    const mie = Number(this.hart.readCsr(Csr.mie) ?? 0n);
    let deadline = Number.POSITIVE_INFINITY;
    if ((mie & (1 << Irq.MTI)) !== 0) deadline = this.mtimecmp();
    if ((mie & (1 << Irq.STI)) !== 0) deadline = Math.min(deadline, this.hart.timerDeadline());
    if (deadline === Number.POSITIVE_INFINITY || deadline >= 2 ** 53) {
      return `the hart waits (WFI at pc 0x${this.hart.getPc().toString(16)}) for an interrupt nothing will raise`;
    }
    const now = this.now();
    if (deadline > now) {
      if (this.clock === 'icount') {
        this.skipped += deadline - now;
      } else {
        this.flush();
        sleepMs((deadline - now) / 10_000);
      }
    }
    this.updateTimer();
    return null;
  }

  private mtimecmp(): number {
    return this.mtimecmpHi * 4294967296 + this.mtimecmpLo;
  }

  private updateTimer(): void {
    const level = this.now() >= this.mtimecmp();
    if (level !== this.mtip) {
      this.mtip = level;
      this.hart.setPendingInterrupt(Irq.MTI, level);
    }
  }

  // ---- the bus ----

  private load(pa: number, size: number, out: Int32Array): boolean {
    if (pa >= UART0.base && pa < UART0.base + UART0.size) {
      out[0] = this.uart.read(pa - UART0.base);
      return true;
    }
    if (pa >= CLINT.base && pa < CLINT.base + CLINT.size) return this.clintLoad(pa - CLINT.base, size, out);
    if (regionAt(pa) !== undefined) {
      out[0] = 0; // sifive_test and every unmodelled device: read as zero
      out[1] = 0;
      return true;
    }
    const w = emptyWindow(pa);
    if (w === null) return false;
    out[0] = w.fill;
    out[1] = w.fill;
    return true;
  }

  private store(pa: number, size: number, lo: number, hi: number): boolean {
    if (pa >= UART0.base && pa < UART0.base + UART0.size) {
      this.uart.write(pa - UART0.base, lo & 0xff);
      return true;
    }
    if (pa >= CLINT.base && pa < CLINT.base + CLINT.size) return this.clintStore(pa - CLINT.base, size, lo, hi);
    if (pa === SIFIVE_TEST.base && size >= 4) {
      const kind = lo & 0xffff;
      if (kind === SIFIVE_TEST_PASS) this.finish(0, 'sifive-test');
      else if (kind === SIFIVE_TEST_FAIL) this.finish(lo >>> 16, 'sifive-test');
      else if (kind === SIFIVE_TEST_RESET) this.finish(0, 'reset');
      return true;
    }
    return regionAt(pa) !== undefined || emptyWindow(pa) !== null; // unmodelled: writes ignored
  }

  private clintLoad(off: number, size: number, out: Int32Array): boolean {
    let lo = 0;
    let hi = 0;
    if (off === CLINT_MSIP && size === 4) {
      lo = this.msip;
    } else if ((off === CLINT_MTIMECMP || off === CLINT_MTIMECMP + 4) && (size === 4 || (size === 8 && off === CLINT_MTIMECMP))) {
      lo = off === CLINT_MTIMECMP ? this.mtimecmpLo : this.mtimecmpHi;
      hi = size === 8 ? this.mtimecmpHi : 0;
    } else if ((off === CLINT_MTIME || off === CLINT_MTIME + 4) && (size === 4 || (size === 8 && off === CLINT_MTIME))) {
      const t = this.now();
      const tLo = t % 4294967296;
      const tHi = Math.floor(t / 4294967296);
      lo = off === CLINT_MTIME ? tLo : tHi;
      hi = size === 8 ? tHi : 0;
    } else if (off >= 0x4 && off < CLINT_MTIMECMP) {
      lo = 0; // msip of harts that do not exist
    } else {
      return false;
    }
    out[0] = lo | 0;
    out[1] = hi | 0;
    return true;
  }

  private clintStore(off: number, size: number, lo: number, hi: number): boolean {
    if (off === CLINT_MSIP && size === 4) {
      this.msip = lo & 1;
      this.hart.setPendingInterrupt(Irq.MSI, this.msip !== 0);
      return true;
    }
    if (off === CLINT_MTIMECMP && (size === 4 || size === 8)) {
      this.mtimecmpLo = lo >>> 0;
      if (size === 8) this.mtimecmpHi = hi >>> 0;
    } else if (off === CLINT_MTIMECMP + 4 && size === 4) {
      this.mtimecmpHi = lo >>> 0;
    } else if (off >= CLINT_MTIME && off < CLINT_MTIME + 8) {
      return true; // mtime writes are ignored: it is the platform's clock
    } else {
      return off >= 0x4 && off < CLINT_MTIMECMP; // other harts' msip: nothing there
    }
    this.updateTimer();
    return true;
  }
}

/** A ns16550a as far as a polled-output program sees it. */
class Uart16550 {
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private fcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;

  constructor(private readonly tx: (byte: number) => void) {}

  read(off: number): number {
    const dlab = (this.lcr & 0x80) !== 0;
    switch (off) {
      case 0:
        return dlab ? this.dll : 0; // RBR: no input
      case 1:
        return dlab ? this.dlm : this.ier;
      case 2:
        return (this.fcr & 1) !== 0 ? 0xc1 : 0x01; // IIR: no interrupt pending
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5:
        return 0x60; // LSR: THR empty, transmitter empty, no data ready
      case 6:
        return 0xb0; // MSR: DCD, DSR, CTS
      case 7:
        return this.scr;
      default:
        return 0;
    }
  }

  write(off: number, v: number): void {
    const dlab = (this.lcr & 0x80) !== 0;
    switch (off) {
      case 0:
        if (dlab) this.dll = v;
        else this.tx(v);
        break;
      case 1:
        if (dlab) this.dlm = v;
        else this.ier = v & 0x0f;
        break;
      case 2:
        this.fcr = v;
        break;
      case 3:
        this.lcr = v;
        break;
      case 4:
        this.mcr = v & 0x1f;
        break;
      case 7:
        this.scr = v;
        break;
      default:
        break;
    }
  }
}

function emptyWindow(pa: number): { fill: number } | null {
  for (const w of EMPTY_WINDOWS) if (pa >= w.base && pa < w.base + w.size) return w;
  return null;
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(SLEEPER, 0, 0, Math.min(ms, 60_000));
}
