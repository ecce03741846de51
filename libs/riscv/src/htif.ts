// HTIF, the host-target interface of spike and the riscv-tests (riscv-fesvr): a program
// links two 64-bit words, `tohost` and `fromhost`, and talks to the host by storing a
// command into tohost:
//
//   bits 63:56 device, 55:48 command, 47:0 payload
//   device 0 (syscall), command 0: payload odd  -> exit with code payload >> 1
//                                  payload even -> address of a "magic mem" syscall
//                                  block [n, a0, a1, a2, ...]: write (64) and exit (93)
//   device 1 (console), command 1: putchar(payload & 0xff)
//
// The host answers by writing fromhost and clearing tohost (as spike does, so a program
// that waits for `tohost == 0` before its next command proceeds). Here the helper watches
// stores to the tohost page (Hart.watchStores), so a command is handled during the store
// that issues it, exactly at that instruction.

import type { Hart } from './hart.js';
import type { GuestRam } from './memory.js';

export interface HtifOptions {
  /** Physical address of `tohost` (ELF symbol). */
  tohost: number;
  /** Physical address of `fromhost`, if the program has one. */
  fromhost?: number;
  /** The program asked to exit (0 = pass). The caller usually stops the hart. */
  onExit: (code: number) => void;
  /** Bytes the program wrote to the console (fd 1 or 2, or device 1). */
  onOutput: (bytes: Uint8Array) => void;
}

const SYS_WRITE = 64;
const SYS_EXIT = 93;

export class Htif {
  /** Commands handled, for tests and stats. */
  commands = 0;

  constructor(
    hart: Hart,
    private readonly ram: GuestRam,
    private readonly opts: HtifOptions,
  ) {
    if (!ram.contains(opts.tohost, 8)) throw new RangeError(`tohost 0x${opts.tohost.toString(16)} is not in RAM`);
    if (opts.fromhost !== undefined && !ram.contains(opts.fromhost, 8)) {
      throw new RangeError(`fromhost 0x${opts.fromhost.toString(16)} is not in RAM`);
    }
    hart.watchStores(opts.tohost, (pa, size) => {
      if (pa < opts.tohost + 8 && pa + size > opts.tohost) this.poll();
    });
  }

  /** Handles the command in tohost, if any. */
  poll(): void {
    const t = this.opts.tohost;
    const lo = this.read32(t);
    const hi = this.read32(t + 4);
    if (lo === 0 && hi === 0) return;
    this.commands++;
    const device = hi >>> 24;
    const command = (hi >>> 16) & 0xff;
    const payload = (hi & 0xffff) * 4294967296 + lo;
    // Clear tohost first: a handler may stop the hart, and the program may be waiting on it.
    this.write64(t, 0, 0);
    if (device === 0 && command === 0) {
      if (payload % 2 === 1) {
        this.opts.onExit(Math.floor(payload / 2));
        return;
      }
      this.syscall(payload);
      this.respond(0, 0, 1);
    } else if (device === 1 && command === 1) {
      this.opts.onOutput(Uint8Array.of(lo & 0xff));
      this.respond(1, 1, 0x100 | (lo & 0xff));
    }
    // Anything else (console input, unknown devices) is acknowledged by clearing tohost.
  }

  /** A "magic mem" syscall block at `addr`: [n, a0, a1, a2, ...] as 64-bit words. */
  private syscall(addr: number): void {
    if (!this.ram.contains(addr, 32)) return;
    const n = this.read32(addr);
    if (n === SYS_WRITE) {
      const fd = this.read32(addr + 8);
      const buf = this.read32(addr + 16) + this.read32(addr + 20) * 4294967296;
      const len = this.read32(addr + 24);
      if ((fd === 1 || fd === 2) && this.ram.contains(buf, len)) this.opts.onOutput(this.ram.readBytes(buf, len));
      this.write64(addr, len, 0);
    } else if (n === SYS_EXIT) {
      this.opts.onExit(this.read32(addr + 8));
    } else {
      this.write64(addr, -38 >>> 0, 0xffffffff); // -ENOSYS
    }
  }

  private respond(device: number, command: number, value: number): void {
    const f = this.opts.fromhost;
    if (f !== undefined) this.write64(f, value, ((device << 24) | (command << 16)) >>> 0);
  }

  private read32(pa: number): number {
    const b = this.ram.bytes;
    const o = pa - this.ram.base;
    return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  }

  private write64(pa: number, lo: number, hi: number): void {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, lo >>> 0, true);
    dv.setUint32(4, hi >>> 0, true);
    this.ram.writeBytes(pa, b);
  }
}
