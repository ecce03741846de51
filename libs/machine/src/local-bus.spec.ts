import { describe, expect, it } from 'vitest';
import { BOOT_ROM, CLINT, CLINT_MTIMECMP, DRAM_BASE, PLIC, UART0 } from '@splitvisor/platform';
import { bootRom, BootRom } from './boot-rom.js';
import { Clint } from './clint.js';
import { IRQ_M_EXT, IRQ_M_TIMER } from './irq.js';
import { cpuLocalBus, LocalBus } from './local-bus.js';
import { Plic, plicContextHart, plicContextIrq } from './plic.js';

function machine() {
  const mip: Record<number, boolean> = {};
  const setPendingInterrupt = (bit: number, level: boolean) => (mip[bit] = level);
  let now = 0;
  const clint = new Clint({ harts: 1, clock: () => now, onIrq: (_hart, bit, level) => setPendingInterrupt(bit, level) });
  const plic = new Plic({ harts: 1, onIrq: (ctx, level) => plicContextHart(ctx) === 0 && setPendingInterrupt(plicContextIrq(ctx), level) });
  const rom = new BootRom(bootRom({ entry: DRAM_BASE, dtbAddr: 0x87e00000 }));
  const bus = cpuLocalBus({ bootRom: rom, clint, plic });
  return { bus, clint, plic, mip, tick: (t: number) => ((now = t), clint.tick()) };
}

describe('cpuLocalBus', () => {
  it('routes the boot ROM, CLINT and PLIC at their machine-table addresses', () => {
    const { bus } = machine();
    expect(bus.mappings().map((m) => [m.device.name, m.base])).toEqual([
      ['mrom', BOOT_ROM.base],
      ['clint', CLINT.base],
      ['plic', PLIC.base],
    ]);
    const out = new Int32Array(2);
    expect(bus.load(0x1000, 4, out)).toEqual({ ok: true });
    expect(out[0]).toBe(0x297);
  });

  it('answers undefined where nothing is local, so the access exits', () => {
    const { bus } = machine();
    const out = new Int32Array(2);
    expect(bus.load(UART0.base, 1, out)).toBeUndefined();
    expect(bus.store(DRAM_BASE, 4, 0, 0)).toBeUndefined();
    expect(bus.load(0x0, 4, out)).toBeUndefined();
  });

  it('refuses an access that crosses the end of a device', () => {
    const { bus } = machine();
    const out = new Int32Array(2);
    expect(bus.load(BOOT_ROM.base + BOOT_ROM.size - 4, 8, out)).toMatchObject({ ok: false, reason: /crosses the end/ });
  });

  it('a timer and an external interrupt reach the hart through the callbacks', () => {
    const m = machine();
    m.bus.store(CLINT.base + CLINT_MTIMECMP, 8, 100, 0);
    m.tick(100);
    expect(m.mip[IRQ_M_TIMER]).toBe(true);
    m.bus.store(PLIC.base + 4 * 10, 4, 1, 0); // UART priority 1
    m.bus.store(PLIC.base + 0x2000, 4, 1 << 10, 0); // enabled for hart 0 M
    m.plic.setLevel(10, true);
    expect(m.mip[IRQ_M_EXT]).toBe(true);
    const out = new Int32Array(2);
    m.bus.load(PLIC.base + 0x200004, 4, out);
    expect(out[0]).toBe(10);
    expect(m.mip[IRQ_M_EXT]).toBe(false);
  });

  it('refuses overlapping mappings, naming both devices', () => {
    const rom = new BootRom(new Uint8Array(4));
    const other = new BootRom(new Uint8Array(4), { name: 'other', size: 0x100 });
    const bus = new LocalBus().add(0x1000, rom);
    expect(() => bus.add(0xf000, other)).toThrow('cannot map other at 0xf000+0x100: overlaps mrom at 0x1000+0xf000');
    expect(() => bus.add(0x10000, other)).not.toThrow();
  });
});
