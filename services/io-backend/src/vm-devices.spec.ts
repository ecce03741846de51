import { describe, expect, it } from 'vitest';
import { gpa, GOLDFISH_RTC, SIFIVE_TEST, UART0 } from '@splitvisor/platform';
import { uartRegisters as R } from '@splitvisor/devices';
import { VmDevices } from './vm-devices.js';

function vm() {
  const out: number[] = [];
  const irqs: [number, boolean][] = [];
  const d = new VmDevices({ consoleByte: (b) => out.push(b), irq: (s, l) => irqs.push([s, l]) });
  return { d, out, irqs };
}

describe('VmDevices', () => {
  it('maps the finisher, the RTC, the UART and the eight virtio-mmio slots at the machine table addresses', () => {
    const { d } = vm();
    expect(d.bus.mappings().map((m) => [m.device.name, m.base, m.size])).toEqual([
      ['sifive_test', SIFIVE_TEST.base, SIFIVE_TEST.size],
      ['rtc', GOLDFISH_RTC.base, GOLDFISH_RTC.size],
      ['uart0', UART0.base, UART0.size],
      ...Array.from({ length: 8 }, (_, i) => [`virtio_mmio@${(0x10001000 + i * 0x1000).toString(16)}`, 0x10001000 + i * 0x1000, 0x1000]),
    ]);
    // An empty slot reads as QEMU's: magic "virt", version 2, DeviceID 0.
    expect(d.access(gpa(0x10008000), 4, false, 0, 0)).toMatchObject({ ok: true, lo: 0x74726976 });
    expect(d.access(gpa(0x10008008), 4, false, 0, 0)).toMatchObject({ ok: true, lo: 0 });
  });

  it('counts accesses per device, refusals and unmapped ones, and console bytes both ways', () => {
    const { d, out } = vm();
    d.access(gpa(UART0.base), 1, true, 0x41, 0);
    d.access(gpa(UART0.base + R.REG.LSR), 1, false, 0, 0);
    d.access(gpa(UART0.base), 4, false, 0, 0); // refused: byte registers
    d.access(gpa(SIFIVE_TEST.base + 8), 4, true, 1, 0); // ignored value
    d.access(gpa(0x9000), 4, false, 0, 0);
    expect(d.consoleInput(Buffer.from('hey'))).toBe(3);
    expect(out).toEqual([0x41]);
    expect(d.stats).toMatchObject({
      mmio: { uart0: { reads: 2, writes: 1 }, sifive_test: { reads: 0, writes: 1 }, rtc: { reads: 0, writes: 0 } },
      unmapped: 1,
      badAccess: 1,
      consoleBytesOut: 1,
      consoleBytesIn: 3,
      consoleBytesDropped: 0,
      systemEvents: 0,
    });
  });

  it('drives PLIC source 10 from the UART', () => {
    const { d, irqs } = vm();
    d.access(gpa(UART0.base + R.REG.IER_DLM), 1, true, R.IER_RDI, 0);
    d.consoleInput(Buffer.from('a'));
    d.access(gpa(UART0.base), 1, false, 0, 0);
    expect(irqs).toEqual([
      [10, true],
      [10, false],
    ]);
  });

  it('returns the finisher event with the access and resets devices on request', () => {
    const { d } = vm();
    expect(d.access(gpa(SIFIVE_TEST.base), 4, true, 0x5555, 0)).toMatchObject({ ok: true, event: { kind: 'poweroff', exitCode: 0 } });
    expect(d.stats.systemEvents).toBe(1);
    d.access(gpa(UART0.base + R.REG.SCR), 1, true, 0x99, 0);
    d.reset();
    expect(d.access(gpa(UART0.base + R.REG.SCR), 1, false, 0, 0)).toMatchObject({ ok: true, lo: 0 });
  });
});
