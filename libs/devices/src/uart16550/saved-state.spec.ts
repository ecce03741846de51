// The UART's setup survives its backend: saved when a driver changes it (never for a byte
// sent), restored on a fresh UART, and a record that is not one is refused by field.
import { describe, expect, it } from 'vitest';
import type { MmioOffset } from '@splitvisor/platform';
import { Uart16550, decodeUartState } from './uart16550.js';
import { SavedStateError } from '../saved-state.js';
import * as R from './registers.js';

const off = (n: number) => n as MmioOffset;

function uart() {
  let changes = 0;
  const irqs: boolean[] = [];
  const u = new Uart16550({ onIrq: (l) => irqs.push(l), onSetupChange: () => changes++ });
  const wr = (reg: number, v: number) => expect(u.write(off(reg), 1, v).ok).toBe(true);
  const rd = (reg: number) => {
    const r = u.read(off(reg), 1);
    if (!r.ok) throw new Error(r.reason);
    return r.value;
  };
  return { u, wr, rd, irqs, changes: () => changes };
}

describe('Uart16550 saved state', () => {
  it('tells of setup changes only: not of bytes sent, reads, or a register written with its own value', () => {
    const { wr, rd, changes } = uart();
    wr(R.REG.LCR, 0x80); // DLAB
    wr(R.REG.RBR_THR_DLL, 0x01); // DLL through THR's offset: setup
    wr(R.REG.IER_DLM, 0x00);
    wr(R.REG.LCR, 0x03);
    expect(changes()).toBe(3); // DLM 0 was already 0
    for (const b of Buffer.from('hello')) wr(R.REG.RBR_THR_DLL, b);
    rd(R.REG.LSR);
    rd(R.REG.IIR_FCR);
    wr(R.REG.LCR, 0x03);
    expect(changes()).toBe(3);
    wr(R.REG.IER_DLM, R.IER_THRI | R.IER_RDI);
    wr(R.REG.IIR_FCR, 0x07);
    wr(R.REG.MCR, 0x0b);
    wr(R.REG.SCR, 0x5a);
    expect(changes()).toBe(7);
  });

  it('round-trips into a fresh UART, which raises THR-empty when the driver had IER.THRI on', () => {
    const a = uart();
    a.wr(R.REG.LCR, 0x80);
    a.wr(R.REG.RBR_THR_DLL, 0x01);
    a.wr(R.REG.IER_DLM, 0x02);
    a.wr(R.REG.LCR, 0x03);
    a.wr(R.REG.IIR_FCR, 0xc1);
    a.wr(R.REG.MCR, 0x0b);
    a.wr(R.REG.SCR, 0x5a);
    a.wr(R.REG.IER_DLM, R.IER_THRI | R.IER_RDI);
    const saved = decodeUartState(JSON.stringify(a.u.saveState()));
    expect(saved).toEqual({ v: 1, kind: 'ns16550a', ier: 0x03, lcr: 0x03, mcr: 0x0b, dll: 0x01, dlm: 0x02, scr: 0x5a, fcr: 0xc1 });
    const b = uart();
    b.u.restoreState(saved);
    expect(b.irqs).toEqual([true]);
    expect(b.rd(R.REG.IER_DLM)).toBe(0x03);
    expect(b.rd(R.REG.LCR)).toBe(0x03);
    expect(b.rd(R.REG.MCR)).toBe(0x0b);
    expect(b.rd(R.REG.SCR)).toBe(0x5a);
    expect(b.rd(R.REG.IIR_FCR) & 0x0f).toBe(R.IIR_THRI); // the read acknowledges it
    expect(b.u.irq).toBe(false);
    b.wr(R.REG.LCR, 0x83);
    expect([b.rd(R.REG.RBR_THR_DLL), b.rd(R.REG.IER_DLM)]).toEqual([0x01, 0x02]);
  });

  it('a driver with interrupts off gets no interrupt from the restore', () => {
    const b = uart();
    b.u.restoreState({ v: 1, kind: 'ns16550a', ier: 0, lcr: 3, mcr: 8, dll: 12, dlm: 0, scr: 0, fcr: 0 });
    expect(b.irqs).toEqual([]);
  });

  it.each([
    ['not json', 'x', /saved state: \(record\)="x": not JSON/],
    ['another kind', '{"v":1,"kind":"virtio-mmio"}', /kind="virtio-mmio": must be "ns16550a"/],
    ['a register past a byte', '{"v":1,"kind":"ns16550a","ier":0,"lcr":300}', /lcr=300: must be an integer 0\.\.255/],
    ['IER bits the UART never holds', '{"v":1,"kind":"ns16550a","ier":240}', /ier=240: has bits outside 0xf/],
    ['a missing register', '{"v":1,"kind":"ns16550a","ier":0,"lcr":3,"mcr":8,"dll":1,"dlm":0,"scr":0}', /fcr=undefined: must be an integer/],
    ['a string for a number', '{"v":1,"kind":"ns16550a","ier":"1"}', /ier="1": must be an integer/],
  ])('refuses %s, naming the field and the value', (_what, text, error) => {
    expect(() => decodeUartState(text)).toThrow(SavedStateError);
    expect(() => decodeUartState(text)).toThrow(error);
  });
});
