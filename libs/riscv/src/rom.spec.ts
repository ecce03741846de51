// Read-only regions outside RAM (Hart.addRom): the boot ROM at 0x1000 that QEMU's virt
// machine starts in. Fetches decode from it (once), loads read it, stores fault.

import { describe, expect, it } from 'vitest';
import { Csr } from './csr.js';
import { Cause } from './trap.js';
import { DRAM, e, HANDLER, machine, R, trapInfo } from './harness.test-util.js';

const ROM = 0x1000;

function words(ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 4);
  const dv = new DataView(b.buffer);
  ws.forEach((w, i) => dv.setUint32(4 * i, w >>> 0, true));
  return b;
}

describe('ROM regions', () => {
  it('runs code from the ROM, as the reset vector does, then jumps to RAM', () => {
    // QEMU's reset vector shape: auipc t0, 0; ld t0, 24(t0); csrr a0, mhartid; jr t0.
    const rom = words([e.auipc(R.t0, 0), e.ld(R.t0, R.t0, 24), e.csrr(R.a0, Csr.mhartid), e.jalr(0, R.t0, 0), 0, 0, DRAM, 0]);
    const m = machine([e.addi(R.a1, 0, 9), e.wfi()], { hartId: 2 });
    m.hart.addRom(ROM, rom);
    m.hart.setPc(ROM);
    expect(m.run().kind).toBe('wfi');
    expect([m.x(R.a0), m.x(R.a1)]).toEqual([2n, 9n]);
    expect(m.bus.log).toEqual([]); // the bus never saw the ROM
  });

  it('loads of every width read it; a store is an access fault and changes nothing', () => {
    const m = machine([e.lbu(R.a0, R.t0, 1), e.lh(R.a1, R.t0, 2), e.lwu(R.a2, R.t0, 4), e.ld(R.a3, R.t0, 0), e.sw(R.a0, R.t0, 0), e.wfi()], {
      regs: { [R.t0]: ROM },
    });
    m.hart.addRom(ROM, Uint8Array.of(0x11, 0x22, 0x33, 0x84, 0x55, 0x66, 0x77, 0x88));
    m.run();
    expect(m.ux(R.a0)).toBe(0x22n);
    expect(m.x(R.a1)).toBe(-0x7bcdn); // 0x8433 sign-extended
    expect(m.ux(R.a2)).toBe(0x88776655n);
    expect(m.ux(R.a3)).toBe(0x8877665584332211n);
    expect(trapInfo(m)).toEqual({ mcause: BigInt(Cause.StoreAccess), mepc: BigInt(DRAM + 16), mtval: BigInt(ROM), pc: HANDLER + 4 });
  });

  it('survives reset(); may not overlap RAM or another ROM', () => {
    const m = machine([e.wfi()]);
    m.hart.addRom(ROM, words([e.addi(R.a0, 0, 3), e.wfi()]));
    m.hart.reset();
    m.hart.setPc(ROM);
    m.run();
    expect(m.x(R.a0)).toBe(3n);
    expect(() => m.hart.addRom(DRAM - 4, new Uint8Array(8))).toThrow(/overlaps RAM/);
    expect(() => m.hart.addRom(ROM + 8, new Uint8Array(8))).toThrow(/another ROM/);
  });
});
