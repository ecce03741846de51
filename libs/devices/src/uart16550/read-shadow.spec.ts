import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MmioOffset } from '@splitvisor/platform';
import { Uart16550 } from './uart16550.js';
import { shadowableRegisters, uartReadShadow } from './read-shadow.js';
import * as R from './registers.js';

const off = (n: number) => n as MmioOffset;
const RBR = 1 << R.REG.RBR_THR_DLL;
const IER = 1 << R.REG.IER_DLM;
const IIR = 1 << R.REG.IIR_FCR;
const LCR = 1 << R.REG.LCR;
const MCR = 1 << R.REG.MCR;
const LSR = 1 << R.REG.LSR;
const MSR = 1 << R.REG.MSR;
const SCR = 1 << R.REG.SCR;
const LATCHES = IER | LCR | MCR | SCR;

const idle = { dlab: false, rxEmpty: true, lsrErrors: false, msrDeltas: false, loopback: false };

describe('UART read shadow rules', () => {
  it('grants every side-effect-free register of an idle UART, never IIR', () => {
    expect(shadowableRegisters(idle)).toBe(LATCHES | RBR | LSR | MSR);
  });

  it('keeps RBR out while the receive FIFO holds bytes (a read pops one, DR would fall); LSR, which shows DR, stays', () => {
    expect(shadowableRegisters({ ...idle, rxEmpty: false })).toBe(LATCHES | LSR | MSR);
  });

  it('a typed line: LSR shows DR from each grant while bytes wait, each RBR read (an exit) pops one', () => {
    const u = new Uart16550();
    u.receive(Uint8Array.from([0x61, 0x62]));
    for (const byte of [0x61, 0x62]) {
      const s = uartReadShadow(u);
      expect(s.mask & (RBR | LSR)).toBe(LSR);
      expect(s.values[R.REG.LSR]! & R.LSR_DR).toBe(R.LSR_DR);
      const r = u.read(off(R.REG.RBR_THR_DLL), 1);
      expect(r.ok && r.value).toBe(byte);
    }
    const s = uartReadShadow(u);
    expect(s.mask & (RBR | LSR)).toBe(RBR | LSR);
    expect(s.values[R.REG.LSR]! & R.LSR_DR).toBe(0);
  });

  it('keeps LSR out while it holds an error bit (cleared by the read)', () => {
    expect(shadowableRegisters({ ...idle, lsrErrors: true })).toBe(LATCHES | RBR | MSR);
  });

  it('keeps MSR out while it holds a delta bit (cleared by the read)', () => {
    expect(shadowableRegisters({ ...idle, msrDeltas: true })).toBe(LATCHES | RBR | LSR);
  });

  it('keeps RBR, LSR and MSR out in loopback (a posted THR write fills the FIFO)', () => {
    expect(shadowableRegisters({ ...idle, loopback: true })).toBe(LATCHES);
  });

  it('with DLAB set, grants DLM (offset 1) but never DLL (offset 0, whose writes are posted)', () => {
    const m = shadowableRegisters({ ...idle, dlab: true });
    expect(m & RBR).toBe(0);
    expect(m & IER).toBe(IER);
    expect(m & IIR).toBe(0);
  });

  it('gives the values the reads return, DLAB included', () => {
    const u = new Uart16550();
    u.write(off(R.REG.SCR), 1, 0x5a);
    u.write(off(R.REG.IER_DLM), 1, 0x03);
    let s = uartReadShadow(u);
    expect([...s.values]).toEqual([0, 0x03, 0, 0, R.MCR_OUT2, R.LSR_THRE | R.LSR_TEMT, R.MSR_DCD | R.MSR_DSR | R.MSR_CTS, 0x5a]);
    u.write(off(R.REG.LCR), 1, R.LCR_DLAB | 0x03);
    s = uartReadShadow(u);
    expect(s.values[R.REG.IER_DLM]).toBe(0x00); // DLM of the reset divisor 0x000c
    expect(s.values[R.REG.LCR]).toBe(R.LCR_DLAB | 0x03);
  });
});

/** One thing a guest or the host does to the UART. */
type Op = { kind: 'write'; reg: number; value: number } | { kind: 'read'; reg: number } | { kind: 'input'; bytes: number[] };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), reg: fc.integer({ min: 0, max: 7 }), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('read' as const), reg: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('input' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }) }),
);

/** Everything a guest could observe: every register's value (without effects) and the line. */
const observe = (u: Uart16550) => [...Array.from({ length: 8 }, (_, i) => u.peek(i)), u.irq, u.rxPending];

describe('UART read shadow, against the device', () => {
  it('a granted register reads as its shadow value, and reading it changes nothing a guest could see', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        // A small FIFO, so that overrun (LSR.OE) comes into play.
        const u = new Uart16550({ rxCapacity: 4 });
        for (const o of ops) {
          if (o.kind === 'write') u.write(off(o.reg), 1, o.value);
          else if (o.kind === 'read') u.read(off(o.reg), 1);
          else u.receive(Uint8Array.from(o.bytes));
          const s = uartReadShadow(u);
          for (let reg = 0; reg < 8; reg++) {
            if (!(s.mask & (1 << reg))) continue;
            const before = observe(u);
            const r = u.read(off(reg), 1);
            expect(r.ok && r.value).toBe(s.values[reg]);
            expect(observe(u)).toEqual(before);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a THR write (posted by the vCPU, no exit) changes no granted register', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), fc.integer({ min: 0, max: 255 }), (ops, byte) => {
        const u = new Uart16550({ rxCapacity: 4 });
        for (const o of ops) {
          if (o.kind === 'write') u.write(off(o.reg), 1, o.value);
          else if (o.kind === 'read') u.read(off(o.reg), 1);
          else u.receive(Uint8Array.from(o.bytes));
        }
        const s = uartReadShadow(u);
        u.write(off(R.REG.RBR_THR_DLL), 1, byte); // THR, or DLL with DLAB set: both posted
        for (let reg = 0; reg < 8; reg++) if (s.mask & (1 << reg)) expect(u.peek(reg), `offset ${reg}`).toBe(s.values[reg]);
      }),
      { numRuns: 500 },
    );
  });
});
