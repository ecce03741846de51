// The SBI console of the monitors (DBCN and the legacy putchar/getchar): the machine's UART,
// as OpenSBI's console is, reached through the vCPU's device path (posted THR stores, LSR
// and RBR reads), with guest buffers read and written in guest RAM.
import { PageState, type GuestRam } from '@splitvisor/riscv';
import { UART0 } from '@splitvisor/platform';
import { SBI_ERR_INVALID_PARAM, SBI_SUCCESS, type SbiHost } from './sbi.js';

const PAGE = 4096;
const LSR = 5;
const LSR_DR = 1;

export interface ConsoleDevicePath {
  load(pa: number, size: 1, out: Int32Array): boolean;
  store(pa: number, size: 1, lo: number, hi: number): boolean;
  /** Fetches a RAM page (and maybe a run after it); how many were installed. */
  fetch(page: number, write: boolean): number;
}

export class SbiConsole {
  private readonly out = new Int32Array(2);

  constructor(
    private readonly dev: ConsoleDevicePath,
    private readonly ram: GuestRam,
  ) {}

  /** Writes up to a page of guest bytes at guest-physical `gpa` (DBCN console_write). */
  write(gpa: bigint, length: bigint): { error: bigint; count: bigint } {
    const n = length > BigInt(PAGE) ? BigInt(PAGE) : length;
    if (!this.inRam(gpa, n)) return { error: SBI_ERR_INVALID_PARAM, count: 0n };
    let count = 0n;
    for (let i = 0n; i < n; i++) {
      const off = Number(gpa + i) - this.ram.base;
      if (!this.present(Math.floor(off / PAGE), false)) break;
      if (!this.putByte(this.ram.bytes[off]!)) break;
      count++;
    }
    return { error: SBI_SUCCESS, count };
  }

  /** Reads waiting console bytes into guest RAM at `gpa` (DBCN console_read). */
  read(gpa: bigint, length: bigint): { error: bigint; count: bigint } {
    const n = length > BigInt(PAGE) ? BigInt(PAGE) : length;
    if (!this.inRam(gpa, n)) return { error: SBI_ERR_INVALID_PARAM, count: 0n };
    let count = 0n;
    for (let i = 0n; i < n; i++) {
      const off = Number(gpa + i) - this.ram.base;
      if (!this.present(Math.floor(off / PAGE), true)) break;
      const b = this.getByte();
      if (b < 0) break;
      this.ram.bytes[off] = b;
      this.ram.invalidateCode(Math.floor(off / PAGE));
      count++;
    }
    return { error: SBI_SUCCESS, count };
  }

  /** A byte to THR. */
  putByte(b: number): boolean {
    return this.dev.store(UART0.base, 1, b & 0xff, 0);
  }

  /** A byte from RBR when LSR.DR says one waits, else -1. */
  getByte(): number {
    const out = this.out;
    if (!this.dev.load(UART0.base + LSR, 1, out) || (out[0]! & LSR_DR) === 0) return -1;
    if (!this.dev.load(UART0.base, 1, out)) return -1;
    return out[0]! & 0xff;
  }

  private inRam(gpa: bigint, len: bigint): boolean {
    return gpa >= BigInt(this.ram.base) && gpa + len <= BigInt(this.ram.base + this.ram.size);
  }

  private present(page: number, write: boolean): boolean {
    return this.ram.pageState[page]! >= (write ? PageState.Modified : PageState.Shared) || this.dev.fetch(page, write) > 0;
  }
}

/**
 * The SbiHost of a monitor: the console, FENCE.I and the system reset are the same in every
 * mode; the timer, IPIs and TLB flushes are the mode's own (`own`).
 */
export function monitorSbiHost(
  hartId: number,
  dev: ConsoleDevicePath & { poweroff(exitCode: number): void; reset(): void },
  ram: GuestRam,
  own: Pick<SbiHost, 'setTimer' | 'sendIpi' | 'flushTlb'>,
): SbiHost {
  const con = new SbiConsole(dev, ram);
  return {
    hartId,
    ...own,
    fenceI: () => undefined, // decoded code follows every store to RAM (decode-cache.ts)
    systemReset: (type, failure) => (type === 'shutdown' ? dev.poweroff(failure ? 1 : 0) : dev.reset()),
    consoleWrite: (gpa, length) => con.write(gpa, length),
    consoleWriteByte: (byte) => void con.putByte(byte),
    consoleRead: (gpa, length) => con.read(gpa, length),
    consoleGetByte: () => con.getByte(),
  };
}
