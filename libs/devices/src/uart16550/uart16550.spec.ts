import { describe, expect, it } from 'vitest';
import type { MmioOffset } from '@splitvisor/platform';
import { Uart16550, UART_RX_CAPACITY } from './uart16550.js';
import * as R from './registers.js';

const off = (n: number) => n as MmioOffset;

function uart(opts: { rxCapacity?: number } = {}) {
  const tx: number[] = [];
  const irqs: boolean[] = [];
  const u = new Uart16550({ onTransmit: (b) => tx.push(b), onIrq: (l) => irqs.push(l), ...opts });
  const rd = (reg: number) => {
    const r = u.read(off(reg), 1);
    if (!r.ok) throw new Error(r.reason);
    return r.value;
  };
  const wr = (reg: number, v: number) => {
    const r = u.write(off(reg), 1, v);
    if (!r.ok) throw new Error(r.reason);
  };
  return { u, tx, irqs, rd, wr };
}

describe('Uart16550 registers', () => {
  it('comes out of reset as QEMU serial_reset leaves it', () => {
    const { rd } = uart();
    expect(rd(R.REG.IER_DLM)).toBe(0);
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_NO_INT);
    expect(rd(R.REG.LCR)).toBe(0);
    expect(rd(R.REG.MCR)).toBe(R.MCR_OUT2);
    expect(rd(R.REG.LSR)).toBe(R.LSR_THRE | R.LSR_TEMT);
    expect(rd(R.REG.MSR)).toBe(R.MSR_DCD | R.MSR_DSR | R.MSR_CTS);
    expect(rd(R.REG.SCR)).toBe(0);
  });

  it('sends THR writes to the sink at once, THRE and TEMT staying set', () => {
    const { u, tx, rd, wr } = uart();
    for (const c of Buffer.from('hi\n')) wr(R.REG.RBR_THR_DLL, c);
    expect(Buffer.from(tx).toString()).toBe('hi\n');
    expect(rd(R.REG.LSR) & (R.LSR_THRE | R.LSR_TEMT)).toBe(R.LSR_THRE | R.LSR_TEMT);
    expect(u.stats.txBytes).toBe(3);
  });

  it('switches offsets 0 and 1 to the divisor latch while LCR.DLAB is set', () => {
    const { tx, rd, wr } = uart();
    wr(R.REG.IER_DLM, 0x05);
    wr(R.REG.LCR, R.LCR_DLAB | 0x03);
    expect(rd(R.REG.RBR_THR_DLL)).toBe(0x0c); // reset divisor
    expect(rd(R.REG.IER_DLM)).toBe(0x00);
    wr(R.REG.RBR_THR_DLL, 0x01);
    wr(R.REG.IER_DLM, 0x02);
    expect(rd(R.REG.RBR_THR_DLL)).toBe(0x01);
    expect(rd(R.REG.IER_DLM)).toBe(0x02);
    expect(tx).toEqual([]); // a DLL write is not a THR write
    wr(R.REG.LCR, 0x03);
    expect(rd(R.REG.LCR)).toBe(0x03);
    expect(rd(R.REG.IER_DLM)).toBe(0x05); // IER untouched by DLM writes
    wr(R.REG.LCR, R.LCR_DLAB);
    expect(rd(R.REG.RBR_THR_DLL) | (rd(R.REG.IER_DLM) << 8)).toBe(0x0201);
  });

  it('keeps IER to its 4 bits, MCR to its 5, SCR as written, and ignores LSR/MSR writes', () => {
    const { rd, wr } = uart();
    wr(R.REG.IER_DLM, 0xff);
    expect(rd(R.REG.IER_DLM)).toBe(0x0f);
    wr(R.REG.MCR, 0xff);
    expect(rd(R.REG.MCR)).toBe(0x1f);
    wr(R.REG.SCR, 0xa5);
    expect(rd(R.REG.SCR)).toBe(0xa5);
    wr(R.REG.MCR, 0);
    wr(R.REG.LSR, 0);
    wr(R.REG.MSR, 0);
    expect(rd(R.REG.LSR)).toBe(R.LSR_THRE | R.LSR_TEMT);
    expect(rd(R.REG.MSR)).toBe(0xb0);
  });

  it('refuses accesses wider than a byte and offsets past the 8 registers, naming them', () => {
    const { u } = uart();
    expect(u.read(off(0), 4)).toEqual({ ok: false, reason: '4-byte read at offset 0x0 refused: ns16550a registers are 1 byte wide' });
    expect(u.write(off(0), 2, 0x41)).toEqual({
      ok: false,
      reason: '2-byte write of 0x41 at offset 0x0 refused: ns16550a registers are 1 byte wide',
    });
    expect(u.read(off(8), 1)).toMatchObject({ ok: false, reason: /offset 0x8 refused: ns16550a has registers at offsets 0x0..0x7 only/ });
    expect(u.write(off(0xff), 1, 0)).toMatchObject({ ok: false });
  });
});

describe('Uart16550 receive path', () => {
  it('queues host bytes for RBR in order, with LSR.DR while any wait', () => {
    const { u, rd } = uart();
    expect(u.receive(Buffer.from('ok'))).toBe(2);
    expect(rd(R.REG.LSR) & R.LSR_DR).toBe(R.LSR_DR);
    expect(rd(R.REG.RBR_THR_DLL)).toBe(0x6f);
    expect(rd(R.REG.LSR) & R.LSR_DR).toBe(R.LSR_DR);
    expect(rd(R.REG.RBR_THR_DLL)).toBe(0x6b);
    expect(rd(R.REG.LSR) & R.LSR_DR).toBe(0);
    expect(rd(R.REG.RBR_THR_DLL)).toBe(0); // empty reads 0
  });

  it('holds 4096 bytes; past that it sets OE, counts the loss and keeps what it had', () => {
    const { u, rd } = uart();
    const input = Buffer.alloc(UART_RX_CAPACITY + 4, 0x61);
    input[0] = 0x41;
    expect(u.receive(input)).toBe(UART_RX_CAPACITY);
    expect(u.stats).toMatchObject({ rxBytes: UART_RX_CAPACITY, rxDropped: 4 });
    expect(rd(R.REG.LSR)).toBe(R.LSR_DR | R.LSR_OE | R.LSR_THRE | R.LSR_TEMT);
    expect(rd(R.REG.LSR) & R.LSR_OE).toBe(0); // cleared by the read
    expect(rd(R.REG.RBR_THR_DLL)).toBe(0x41);
    expect(u.rxPending).toBe(UART_RX_CAPACITY - 1);
    expect(u.receive(Buffer.from('b'))).toBe(1); // room again
  });

  it('loops TX back to RX in loopback mode, and MSR mirrors the modem outputs', () => {
    const { u, tx, rd, wr } = uart();
    wr(R.REG.MCR, R.MCR_LOOP | R.MCR_OUT2 | R.MCR_DTR);
    wr(R.REG.RBR_THR_DLL, 0x5a);
    expect(tx).toEqual([]);
    expect(u.stats.txBytes).toBe(0);
    expect(rd(R.REG.LSR) & R.LSR_DR).toBe(R.LSR_DR);
    expect(rd(R.REG.RBR_THR_DLL)).toBe(0x5a);
    expect(rd(R.REG.MSR)).toBe(R.MSR_DCD | R.MSR_DSR); // OUT2->DCD, DTR->DSR
    wr(R.REG.MCR, R.MCR_LOOP | R.MCR_RTS | R.MCR_OUT1);
    expect(rd(R.REG.MSR)).toBe(R.MSR_CTS | R.MSR_RI);
    wr(R.REG.MCR, R.MCR_OUT2);
    wr(R.REG.RBR_THR_DLL, 0x5b);
    expect(tx).toEqual([0x5b]);
  });

  it('clears the receive queue on FCR.RFR and when the FIFO is switched on or off', () => {
    const { u, rd, wr } = uart();
    u.receive(Buffer.from('abc'));
    wr(R.REG.IIR_FCR, R.FCR_FE);
    expect(u.rxPending).toBe(0);
    u.receive(Buffer.from('abc'));
    wr(R.REG.IIR_FCR, R.FCR_FE | R.FCR_RFR);
    expect(u.rxPending).toBe(0);
    u.receive(Buffer.from('abc'));
    wr(R.REG.IIR_FCR, R.FCR_FE | R.FCR_XFR); // TX clear only
    expect(u.rxPending).toBe(3);
    wr(R.REG.IIR_FCR, 0);
    expect(u.rxPending).toBe(0);
    expect(rd(R.REG.IIR_FCR) & R.IIR_FIFO_ENABLED).toBe(0);
  });
});

describe('Uart16550 interrupts', () => {
  it('orders IIR by priority: line status, received data, THR empty, none', () => {
    const { u, rd, wr } = uart({ rxCapacity: 2 });
    u.receive(Buffer.from('xyz')); // overrun
    wr(R.REG.IER_DLM, R.IER_RLSI | R.IER_RDI | R.IER_THRI | R.IER_MSI);
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_RLSI);
    rd(R.REG.LSR); // clears OE
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_RDI);
    rd(R.REG.RBR_THR_DLL);
    rd(R.REG.RBR_THR_DLL);
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_THRI);
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_NO_INT); // the IIR read acknowledged THRI
    wr(R.REG.RBR_THR_DLL, 0x41); // THR empties again at once
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_THRI);
  });

  it('masks each source with its IER bit', () => {
    const { u, rd, wr } = uart({ rxCapacity: 1 });
    u.receive(Buffer.from('ab'));
    wr(R.REG.IER_DLM, R.IER_THRI);
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_THRI);
    wr(R.REG.IER_DLM, 0);
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_NO_INT);
    wr(R.REG.IER_DLM, R.IER_RDI);
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_RDI);
  });

  it('with the FIFO on, reports a character timeout below the trigger level and RDI from it', () => {
    const { u, rd, wr } = uart();
    wr(R.REG.IIR_FCR, R.FCR_FE | 0x40); // trigger level 4
    wr(R.REG.IER_DLM, R.IER_RDI);
    u.receive(Buffer.from('abc'));
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_FIFO_ENABLED | R.IIR_CTI);
    u.receive(Buffer.from('d'));
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_FIFO_ENABLED | R.IIR_RDI);
    wr(R.REG.IIR_FCR, R.FCR_FE | 0xc0); // trigger level 14 (no FE change: queue kept)
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_FIFO_ENABLED | R.IIR_CTI);
  });

  it('reports the line only when its level changes', () => {
    const { u, irqs, rd, wr } = uart();
    wr(R.REG.IER_DLM, R.IER_RDI);
    expect(irqs).toEqual([]);
    u.receive(Buffer.from('ab'));
    expect(irqs).toEqual([true]);
    expect(u.irq).toBe(true);
    rd(R.REG.RBR_THR_DLL);
    expect(irqs).toEqual([true]);
    rd(R.REG.RBR_THR_DLL);
    expect(irqs).toEqual([true, false]);
    wr(R.REG.IER_DLM, R.IER_THRI); // THR is empty: raised at once
    expect(irqs).toEqual([true, false, true]);
    rd(R.REG.IIR_FCR);
    expect(irqs).toEqual([true, false, true, false]);
    wr(R.REG.RBR_THR_DLL, 0x41);
    expect(irqs).toEqual([true, false, true, false, true]);
  });

  it('re-arms THR-empty only when IER.THRI changes, as QEMU does (issue 17)', () => {
    const { rd, wr, irqs } = uart();
    wr(R.REG.IIR_FCR, 0x07); // FIFOs on, both cleared
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_FIFO_ENABLED | R.IIR_NO_INT); // THRI not enabled
    wr(R.REG.IER_DLM, R.IER_RDI | R.IER_THRI);
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_FIFO_ENABLED | R.IIR_THRI); // rising edge, THR empty
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_FIFO_ENABLED | R.IIR_NO_INT); // acknowledged
    wr(R.REG.IER_DLM, R.IER_RDI | R.IER_THRI); // the same value: no edge
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_FIFO_ENABLED | R.IIR_NO_INT);
    expect(irqs).toEqual([true, false]);
    wr(R.REG.IER_DLM, R.IER_RDI);
    wr(R.REG.IER_DLM, R.IER_RDI | R.IER_THRI); // off and on again: armed
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_FIFO_ENABLED | R.IIR_THRI);
    expect(irqs).toEqual([true, false, true, false]);
  });

  it('arms THR-empty when FCR clears the transmit FIFO, and drops it when IER.THRI goes off', () => {
    const { rd, wr } = uart();
    wr(R.REG.IER_DLM, R.IER_THRI);
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_THRI);
    wr(R.REG.IIR_FCR, R.FCR_FE | R.FCR_XFR);
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_FIFO_ENABLED | R.IIR_THRI);
    wr(R.REG.RBR_THR_DLL, 0x41); // THR empties again at once: pending
    wr(R.REG.IER_DLM, 0);
    wr(R.REG.IER_DLM, R.IER_RDI); // IER.THRI off: THR-empty is not reported
    expect(rd(R.REG.IIR_FCR)).toBe(R.IIR_FIFO_ENABLED | R.IIR_NO_INT);
  });

  it('lowers the line and restores power-on state on reset', () => {
    const { u, irqs, rd, wr } = uart();
    wr(R.REG.IER_DLM, R.IER_THRI);
    wr(R.REG.LCR, 0x83);
    wr(R.REG.SCR, 7);
    u.receive(Buffer.from('zz'));
    u.reset();
    expect(irqs.at(-1)).toBe(false);
    expect(u.rxPending).toBe(0);
    expect([rd(R.REG.IER_DLM), rd(R.REG.LCR), rd(R.REG.SCR), rd(R.REG.IIR_FCR)]).toEqual([0, 0, 0, R.IIR_NO_INT]);
  });
});
