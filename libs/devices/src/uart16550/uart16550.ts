// ns16550a UART, the console of the virt machine (TI PC16550D datasheet; behaviour checked
// against QEMU hw/char/serial.c, which is what software for `-M virt` was tested on).
//
// Time does not exist here: a byte written to THR is on the wire at once, so LSR.THRE and
// LSR.TEMT are always set and the transmit FIFO is always empty. The receive side is a
// queue fed by the host (`receive`), bounded at 4096 bytes. It stands for the 16-byte
// FIFO plus the host chardev's buffer that QEMU throttles with serial_can_receive: the
// guest never loses typed bytes unless 4096 are waiting, and then OE says so.
import type { MmioOffset } from '@splitvisor/platform';
import { describeAccess, done, refused, type DeviceAccessSize, type DeviceResult, type MmioDevice } from '../device.js';
import { SavedStateError, parseRecord, savedUint } from '../saved-state.js';
import {
  DIVISOR_RESET,
  FCR_FE,
  FCR_RFR,
  FCR_STICKY,
  FCR_TRIGGER,
  FCR_XFR,
  IER_MASK,
  IER_MSI,
  IER_RDI,
  IER_RLSI,
  IER_THRI,
  IIR_CTI,
  IIR_FIFO_ENABLED,
  IIR_MSI,
  IIR_NO_INT,
  IIR_RDI,
  IIR_RLSI,
  IIR_THRI,
  LCR_DLAB,
  LSR_BI,
  LSR_DR,
  LSR_INT_ANY,
  LSR_OE,
  LSR_TEMT,
  LSR_THRE,
  MCR_LOOP,
  MCR_MASK,
  MCR_OUT2,
  MSR_ANY_DELTA,
  MSR_CTS,
  MSR_DCD,
  MSR_DSR,
  REG,
  REGISTER_COUNT,
} from './registers.js';

export const UART_RX_CAPACITY = 4096;

/** The state behind the side effects of the UART's reads (read-shadow.ts). */
export interface UartReadState {
  /** LCR.DLAB: offsets 0 and 1 are the divisor latch. */
  dlab: boolean;
  rxEmpty: boolean;
  /** LSR holds an error bit (cleared by reading LSR). */
  lsrErrors: boolean;
  /** MSR holds a delta bit (cleared by reading MSR). */
  msrDeltas: boolean;
  /** MCR.LOOP: transmitted bytes come back as received ones. */
  loopback: boolean;
}

export interface Uart16550Options {
  /** Device name on the bus (default "uart0"). */
  name?: string;
  /** Where transmitted bytes go (not called in loopback mode). */
  onTransmit?: (byte: number) => void;
  /** The interrupt line, reported only when its level changes. */
  onIrq?: (level: boolean) => void;
  /** Bytes the receive queue holds before overrunning (default 4096). */
  rxCapacity?: number;
  /** A register saveState() holds changed value (IER, LCR, MCR, SCR, FCR, the divisor
   *  latch): what a driver sets up, never a byte sent or received. */
  onSetupChange?: () => void;
}

/** What the guest set up in the UART, as a backend that takes it over needs it. */
export interface UartSavedState {
  v: 1;
  kind: 'ns16550a';
  ier: number;
  lcr: number;
  mcr: number;
  dll: number;
  dlm: number;
  scr: number;
  fcr: number;
}

/** Parses a saved UART state, or throws a SavedStateError naming the field and value. */
export function decodeUartState(text: string): UartSavedState {
  const o = parseRecord(text);
  if (o['v'] !== 1) throw new SavedStateError('v', o['v'], 'must be 1');
  if (o['kind'] !== 'ns16550a') throw new SavedStateError('kind', o['kind'], 'must be "ns16550a"');
  const bits = (key: string, mask: number): number => {
    const v = savedUint(o, key, 0xff);
    if (v & ~mask) throw new SavedStateError(key, v, `has bits outside 0x${mask.toString(16)}, which the register never holds`);
    return v;
  };
  return {
    v: 1,
    kind: 'ns16550a',
    ier: bits('ier', IER_MASK),
    lcr: bits('lcr', 0xff),
    mcr: bits('mcr', MCR_MASK),
    dll: bits('dll', 0xff),
    dlm: bits('dlm', 0xff),
    scr: bits('scr', 0xff),
    fcr: bits('fcr', FCR_STICKY),
  };
}

export interface UartStats {
  /** Bytes the guest transmitted to the host (loopback excluded). */
  txBytes: number;
  /** Bytes accepted into the receive queue (host input and loopback). */
  rxBytes: number;
  /** Bytes lost to overrun (queue full). */
  rxDropped: number;
}

export class Uart16550 implements MmioDevice {
  readonly name: string;
  readonly stats: UartStats = { txBytes: 0, rxBytes: 0, rxDropped: 0 };

  private readonly onTransmit: (byte: number) => void;
  private readonly onIrq: (level: boolean) => void;
  private readonly onSetupChange: () => void;
  private readonly rx: Uint8Array;
  private rxHead = 0;
  private rxCount = 0;

  private ier = 0;
  private fcr = 0;
  private lcr = 0;
  private mcr = MCR_OUT2;
  private scr = 0;
  private divisor = DIVISOR_RESET;
  /** LSR error bits (OE, BI...), cleared by reading LSR. DR/THRE/TEMT are derived. */
  private lsrErrors = 0;
  private msr = MSR_DCD | MSR_DSR | MSR_CTS;
  /** THR-empty interrupt pending: set when THR empties, IER.THRI turns on or FCR clears the
   *  transmit FIFO; cleared by an IIR read that reports it or IER.THRI turning off (QEMU
   *  thr_ipending). */
  private thrPending = false;
  private irqLevel = false;

  constructor(opts: Uart16550Options = {}) {
    this.name = opts.name ?? 'uart0';
    this.onTransmit = opts.onTransmit ?? (() => undefined);
    this.onIrq = opts.onIrq ?? (() => undefined);
    this.onSetupChange = opts.onSetupChange ?? (() => undefined);
    this.rx = new Uint8Array(opts.rxCapacity ?? UART_RX_CAPACITY);
  }

  /** The level of the interrupt line now. */
  get irq(): boolean {
    return this.irqLevel;
  }

  /** Bytes waiting in the receive queue. */
  get rxPending(): number {
    return this.rxCount;
  }

  /** Host input for the guest. Returns how many bytes were queued; the rest overran. */
  receive(bytes: Uint8Array): number {
    let queued = 0;
    for (const b of bytes) if (this.pushRx(b)) queued++;
    this.updateIrq();
    return queued;
  }

  read(offset: MmioOffset, size: DeviceAccessSize): DeviceResult {
    const bad = this.check(offset, size, 'read');
    if (bad) return bad;
    const value = this.peek(offset as number);
    // The read's side effects, after its value was taken (read-shadow.ts lists which
    // registers have none, in which states).
    switch (offset as number) {
      case REG.RBR_THR_DLL:
        if (!(this.lcr & LCR_DLAB)) {
          this.popRx();
          this.updateIrq();
        }
        break;
      case REG.IIR_FCR:
        // Reading IIR while it reports THR empty acknowledges that interrupt (datasheet table 4).
        if ((value & 0x0f) === IIR_THRI) {
          this.thrPending = false;
          this.updateIrq();
        }
        break;
      case REG.LSR:
        // Reading LSR clears the error bits and with them a line-status interrupt.
        if (this.lsrErrors & (LSR_OE | LSR_BI)) {
          this.lsrErrors &= ~(LSR_OE | LSR_BI);
          this.updateIrq();
        }
        break;
      case REG.MSR:
        // Reading MSR clears its delta bits (not in loopback, where it is the MCR's wiring).
        if (!(this.mcr & MCR_LOOP) && this.msr & MSR_ANY_DELTA) {
          this.msr &= 0xf0;
          this.updateIrq();
        }
        break;
    }
    return done(value);
  }

  /** What a byte read of register `offset` (0..7) returns now, without its side effects. */
  peek(offset: number): number {
    switch (offset) {
      case REG.RBR_THR_DLL:
        if (this.lcr & LCR_DLAB) return this.divisor & 0xff;
        return this.rxCount === 0 ? 0 : this.rx[this.rxHead]!;
      case REG.IER_DLM:
        return this.lcr & LCR_DLAB ? this.divisor >> 8 : this.ier;
      case REG.IIR_FCR:
        return this.interruptId() | (this.fcr & FCR_FE ? IIR_FIFO_ENABLED : 0);
      case REG.LCR:
        return this.lcr;
      case REG.MCR:
        return this.mcr;
      case REG.LSR:
        return this.lsr();
      case REG.MSR:
        // Loopback wires the modem outputs to the inputs: OUT2->DCD, OUT1->RI, DTR->DSR, RTS->CTS.
        if (this.mcr & MCR_LOOP) return ((this.mcr & 0x0c) << 4) | ((this.mcr & 0x02) << 3) | ((this.mcr & 0x01) << 5);
        return this.msr;
      default:
        return this.scr;
    }
  }

  /** What decides which reads have side effects now (read-shadow.ts). */
  get readState(): UartReadState {
    return {
      dlab: (this.lcr & LCR_DLAB) !== 0,
      rxEmpty: this.rxCount === 0,
      lsrErrors: this.lsrErrors !== 0,
      msrDeltas: (this.msr & MSR_ANY_DELTA) !== 0,
      loopback: (this.mcr & MCR_LOOP) !== 0,
    };
  }

  write(offset: MmioOffset, size: DeviceAccessSize, value: number): DeviceResult {
    const bad = this.check(offset, size, 'write', value);
    if (bad) return bad;
    const v = value & 0xff;
    // A byte sent (THR with DLAB clear) is the I/O path: it saves nothing.
    const setup = offset !== REG.RBR_THR_DLL || (this.lcr & LCR_DLAB) !== 0;
    const before = setup ? this.setupWord() : '';
    switch (offset as number) {
      case REG.RBR_THR_DLL:
        if (this.lcr & LCR_DLAB) this.divisor = (this.divisor & 0xff00) | v;
        else this.transmit(v);
        break;
      case REG.IER_DLM:
        if (this.lcr & LCR_DLAB) {
          this.divisor = (this.divisor & 0x00ff) | (v << 8);
        } else {
          const changed = (this.ier ^ v) & IER_MASK;
          this.ier = v & IER_MASK;
          // Only a change of IER.THRI re-samples THR-empty (QEMU serial_ioport_write): THR
          // is always empty here, so turning THRI on arms it and turning it off drops it.
          // Writing the same IER again re-arms nothing: a handler that rewrites IER after
          // acknowledging THR-empty would otherwise be interrupted again at once, for ever.
          if (changed & IER_THRI) this.thrPending = (this.ier & IER_THRI) !== 0;
        }
        break;
      case REG.IIR_FCR:
        this.writeFcr(v);
        break;
      case REG.LCR:
        this.lcr = v;
        break;
      case REG.MCR:
        this.mcr = v & MCR_MASK;
        break;
      case REG.LSR:
      case REG.MSR:
        break; // read-only: writes are ignored, as in QEMU
      default:
        this.scr = v;
    }
    this.updateIrq();
    if (setup && this.setupWord() !== before) this.onSetupChange();
    return done();
  }

  /** The registers a driver set up (the receive queue and pending interrupts are not: see restoreState). */
  saveState(): UartSavedState {
    return {
      v: 1,
      kind: 'ns16550a',
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      dll: this.divisor & 0xff,
      dlm: this.divisor >> 8,
      scr: this.scr,
      fcr: this.fcr,
    };
  }

  /**
   * Takes over a UART another backend ran (io-backend restarted). The receive queue is
   * empty (input typed into the old backend and not read is gone) and the FIFOs start
   * clear. THR-empty is armed when IER.THRI is on: THR is always empty here, so the
   * interrupt is true, and a driver waiting for it to send more would otherwise wait for
   * ever; at worst it finds nothing to send.
   */
  restoreState(s: UartSavedState): void {
    this.ier = s.ier & IER_MASK;
    this.lcr = s.lcr & 0xff;
    this.mcr = s.mcr & MCR_MASK;
    this.divisor = ((s.dlm & 0xff) << 8) | (s.dll & 0xff);
    this.scr = s.scr & 0xff;
    this.fcr = s.fcr & FCR_STICKY;
    this.rxHead = 0;
    this.rxCount = 0;
    this.lsrErrors = 0;
    this.thrPending = (this.ier & IER_THRI) !== 0;
    this.updateIrq();
  }

  private setupWord(): string {
    return `${this.ier},${this.lcr},${this.mcr},${this.divisor},${this.scr},${this.fcr}`;
  }

  reset(): void {
    this.rxHead = 0;
    this.rxCount = 0;
    this.ier = 0;
    this.fcr = 0;
    this.lcr = 0;
    this.mcr = MCR_OUT2;
    this.scr = 0;
    this.divisor = DIVISOR_RESET;
    this.lsrErrors = 0;
    this.msr = MSR_DCD | MSR_DSR | MSR_CTS;
    this.thrPending = false;
    this.updateIrq();
    this.onSetupChange();
  }

  /**
   * Only byte accesses, and only the 8 registers. QEMU's serial_mm is more lenient: it
   * declares valid.max_access_size = 8 and turns a wider access into a byte access of
   * that register (hw/char/serial-mm.c, serial_mm_read/serial_mm_write), and it maps
   * only 8 bytes of the 0x100 window, so offsets 8..0xff are unassigned there (an access
   * fault on riscv). We refuse wider accesses: the virt device tree gives no reg-io-width,
   * so Linux 8250, OpenSBI and U-Boot all use byte accesses, and our bus would split an
   * 8-byte store into two registers. A refusal becomes an access fault the guest sees.
   */
  private check(offset: MmioOffset, size: DeviceAccessSize, kind: 'read' | 'write', value?: number): DeviceResult | undefined {
    if (size !== 1) return refused(`${describeAccess(kind, offset, size, value)} refused: ns16550a registers are 1 byte wide`);
    if (offset >= REGISTER_COUNT) {
      return refused(`${describeAccess(kind, offset, size, value)} refused: ns16550a has registers at offsets 0x0..0x7 only`);
    }
    return undefined;
  }

  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOP) this.pushRx(byte);
    else {
      this.stats.txBytes++;
      this.onTransmit(byte);
    }
    // The byte left at once: THR is empty again and says so (QEMU serial_xmit).
    this.thrPending = true;
  }

  private writeFcr(v: number): void {
    if (v === this.fcr) return;
    // Turning the FIFOs on or off clears them (datasheet, FCR bit 0).
    if ((v ^ this.fcr) & FCR_FE) v |= FCR_RFR | FCR_XFR;
    if (v & FCR_RFR) {
      this.rxHead = 0;
      this.rxCount = 0;
    }
    // The transmit FIFO is always empty, but clearing it arms THR-empty (QEMU sets
    // thr_ipending on FCR.XFR, whatever IER holds).
    if (v & FCR_XFR) this.thrPending = true;
    this.fcr = v & FCR_STICKY;
  }

  private lsr(): number {
    return (this.rxCount > 0 ? LSR_DR : 0) | this.lsrErrors | LSR_THRE | LSR_TEMT;
  }

  /** IIR bits 3:0 by the datasheet's priorities (table 4), as QEMU serial_update_irq. */
  private interruptId(): number {
    if (this.ier & IER_RLSI && this.lsrErrors & LSR_INT_ANY) return IIR_RLSI;
    if (this.ier & IER_RDI && this.rxCount > 0) {
      // With the FIFO on and fewer bytes than the trigger level, hardware raises a
      // character timeout after 4 character times. Characters take no time here, so the
      // timeout has always expired: CTI at once, RDI from the trigger level up.
      if (this.fcr & FCR_FE && this.rxCount < FCR_TRIGGER[this.fcr >> 6]!) return IIR_CTI;
      return IIR_RDI;
    }
    if (this.ier & IER_THRI && this.thrPending) return IIR_THRI;
    if (this.ier & IER_MSI && this.msr & MSR_ANY_DELTA) return IIR_MSI;
    return IIR_NO_INT;
  }

  private updateIrq(): void {
    const level = this.interruptId() !== IIR_NO_INT;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.onIrq(level);
    }
  }

  private pushRx(byte: number): boolean {
    if (this.rxCount === this.rx.length) {
      // Overrun keeps what is queued and loses the new byte (QEMU recv_fifo_put).
      this.lsrErrors |= LSR_OE;
      this.stats.rxDropped++;
      return false;
    }
    this.rx[(this.rxHead + this.rxCount) % this.rx.length] = byte;
    this.rxCount++;
    this.stats.rxBytes++;
    return true;
  }

  private popRx(): number {
    if (this.rxCount === 0) return 0;
    const byte = this.rx[this.rxHead]!;
    this.rxHead = (this.rxHead + 1) % this.rx.length;
    this.rxCount--;
    return byte;
  }
}
