// The UART's read shadow (issue 17, speed 1): which registers a vCPU may read from a copy
// io-backend granted it, without an exit, because reading them has no side effect in the
// state the UART is in now. A shadowed read never reaches the device, so a register whose
// read changes anything (clears a bit, pops a byte, acknowledges an interrupt) must stay
// out. The grant holds for the current state only: io-backend revokes it before it applies
// a change a granted register would show (input arriving, a restore), and the vCPU drops
// it before any exit to the UART (the reply grants again).
//
// Why each register is safe, or not (TI PC16550D datasheet; QEMU 7.2 hw/char/serial.c
// serial_ioport_read, what software for -M virt was tested on):
// - RBR (offset 0, DLAB clear): only while the receive FIFO is empty. A read pops a byte
//   (and lowers DR and the data interrupt); of an empty FIFO it returns 0 and changes
//   nothing (QEMU: fifo empty -> 0, then serial_update_irq with nothing pending). Not in
//   loopback: there a THR write, which the vCPU posts without an exit, fills the FIFO.
// - DLL (offset 0, DLAB set): never. The divisor is a plain latch, but offset 0 is the
//   coalesced zone (cpu posted-ring.ts): a DLL write is posted, applied later without an
//   exit, so a DLL copy would go stale with no exit to drop it. Nothing polls DLL anyway.
// - IER (offset 1, DLAB clear) and DLM (offset 1, DLAB set): always. Plain latches, and
//   every write to offset 1 exits.
// - IIR (offset 2): never. A read that reports THR-empty acknowledges it (datasheet
//   table 4; QEMU clears thr_ipending), and it changes with every THR write, posted ones too.
// - LCR, MCR, SCR (offsets 3, 4, 7): always. Plain latches, written only by exits.
// - LSR (offset 5): only with no error bit (OE, PE, FE, BI are cleared by the read, and so
//   is the line-status interrupt) and not in loopback (a posted THR write would set DR).
//   DR may be set: reading LSR leaves the FIFO alone, and what clears DR is an RBR read, an
//   exit (which drops the grant; its reply grants the new state), or an FCR write, an exit
//   too; input, which sets DR or OE, is revoked for. A driver reading a typed line polls LSR
//   then reads RBR for each byte: only the RBR read exits (before, all of them did, ~4 exits
//   a byte for U-Boot). THRE and TEMT are always set here: transmit is instant, as in QEMU,
//   so posted THR writes leave LSR as it was.
// - MSR (offset 6): only with no delta bit (DCTS, DDSR, TERI, DDCD are cleared by the read)
//   and not in loopback (there it follows MCR; kept out as the other loopback cases).
// DLAB (LCR bit 7) changes what offsets 0 and 1 are: the mask is for the DLAB of now, and
// an LCR write is an exit, which drops the grant.
import { REG, REGISTER_COUNT } from './registers.js';
import type { Uart16550, UartReadState } from './uart16550.js';

/** Bit `i` set: the register at offset `i` may be read from the shadow. */
export type ShadowMask = number;

const bit = (offset: number): number => 1 << offset;

/** The registers whose byte reads have no side effect in state `s`. */
export function shadowableRegisters(s: UartReadState): ShadowMask {
  let mask = bit(REG.LCR) | bit(REG.MCR) | bit(REG.SCR) | bit(REG.IER_DLM);
  if (!s.dlab && s.rxEmpty && !s.loopback) mask |= bit(REG.RBR_THR_DLL);
  if (!s.lsrErrors && !s.loopback) mask |= bit(REG.LSR);
  if (!s.msrDeltas && !s.loopback) mask |= bit(REG.MSR);
  return mask;
}

/** A grant's content: which registers, and what each reads as now. */
export interface UartReadShadow {
  mask: ShadowMask;
  /** One byte per offset 0..7; meaningful where `mask` has the bit. */
  values: Uint8Array;
}

/** The UART's shadow now: the safe registers and their values (read without effects). */
export function uartReadShadow(uart: Uart16550): UartReadShadow {
  const mask = shadowableRegisters(uart.readState);
  const values = new Uint8Array(REGISTER_COUNT);
  for (let i = 0; i < REGISTER_COUNT; i++) if (mask & bit(i)) values[i] = uart.peek(i);
  return { mask, values };
}
