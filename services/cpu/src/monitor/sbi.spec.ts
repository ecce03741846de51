// The SBI dispatcher and the MMIO instruction decoder: pure logic, tested directly.
import { describe, expect, it } from 'vitest';
import { encode as e } from '@splitvisor/riscv';
import { hartsNamed, SBI_ERR_ALREADY_AVAILABLE, SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, serveSbi, SPLITVISOR_SBI_IMPL_ID, type SbiHost } from './sbi.js';
import { decodeMemInsn, extendLoad } from './mmio-insn.js';

function host(): SbiHost & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    hartId: 0,
    setTimer: (d) => log.push(`timer ${d}`),
    sendIpi: () => log.push('ipi'),
    flushTlb: () => log.push('flush'),
    fenceI: () => log.push('fence.i'),
    systemReset: (t, f) => log.push(`${t}${f ? ' failure' : ''}`),
    consoleWrite: (gpa, n) => (log.push(`write ${gpa} ${n}`), { error: 0n, count: n }),
    consoleWriteByte: (b) => log.push(`byte ${b}`),
    consoleRead: () => ({ error: 0n, count: 0n }),
    consoleGetByte: () => -1,
  };
}
const call = (eid: number, fid: number, ...args: bigint[]) => {
  const a = [...args, ...new Array(6 - args.length).fill(0n)];
  return [...a.slice(0, 6), BigInt(fid), BigInt(eid)];
};

describe('serveSbi', () => {
  it('answers base: spec 2.0, our implementation id, probes', () => {
    const h = host();
    expect(serveSbi(call(0x10, 0), h)).toMatchObject({ error: 0n, value: 2n << 24n });
    expect(serveSbi(call(0x10, 1), h).value).toBe(SPLITVISOR_SBI_IMPL_ID);
    expect(serveSbi(call(0x10, 3, 0x54494d45n), h).value).toBe(1n);
    expect(serveSbi(call(0x10, 3, 0x4e41434cn), h).value).toBe(0n); // NACL: not offered
    expect(serveSbi(call(0x10, 99), h).error).toBe(SBI_ERR_NOT_SUPPORTED);
  });

  it('checks hart masks: -1 is every hart, a mask naming a hart that does not exist is INVALID_PARAM', () => {
    expect(hartsNamed(0n, -1n, 0)).toBe(true);
    expect(hartsNamed(1n, 0n, 0)).toBe(true);
    expect(hartsNamed(0n, 0n, 0)).toBe(false);
    expect(hartsNamed(2n, 0n, 0)).toBe('invalid');
    expect(hartsNamed(1n, 1n, 0)).toBe('invalid');
    const h = host();
    expect(serveSbi(call(0x735049, 0, 3n, 0n), h).error).toBe(SBI_ERR_INVALID_PARAM);
    expect(serveSbi(call(0x735049, 0, 1n, 0n), h).error).toBe(0n);
    expect(h.log).toEqual(['ipi']);
  });

  it('serves HSM for its one hart, SRST with its types and reasons, RFENCE and the legacy calls', () => {
    const h = host();
    expect(serveSbi(call(0x48534d, 0, 0n), h).error).toBe(SBI_ERR_ALREADY_AVAILABLE);
    expect(serveSbi(call(0x48534d, 2, 0n), h)).toMatchObject({ error: 0n, value: 0n });
    expect(serveSbi(call(0x48534d, 2, 5n), h).error).toBe(SBI_ERR_INVALID_PARAM);
    expect(serveSbi(call(0x53525354, 0, 3n, 0n), h).error).toBe(SBI_ERR_INVALID_PARAM);
    expect(serveSbi(call(0x53525354, 0, 0n, 1n), h).error).toBe(0n);
    expect(serveSbi(call(0x52464e43, 1, 0n, -1n), h).error).toBe(0n);
    expect(serveSbi(call(0x52464e43, 3, 0n, -1n), h).error).toBe(SBI_ERR_NOT_SUPPORTED); // HFENCE: no nested H
    const legacy = serveSbi(call(0x01, 0, 0x141n), h);
    expect(legacy).toMatchObject({ legacy: true, error: 0n });
    expect(serveSbi(call(0x4442434e, 0, 5n, 0x80001000n, 0n), h)).toMatchObject({ error: 0n, value: 5n });
    expect(h.log).toEqual(['shutdown failure', 'flush', 'byte 65', 'write 2147487744 5']);
  });

  it('refuses an extension id wider than 32 bits', () => {
    expect(
      serveSbi(
        call(0, 0).map((v, i) => (i === 7 ? 1n << 40n : v)),
        host(),
      ).error,
    ).toBe(SBI_ERR_NOT_SUPPORTED);
  });
});

describe('decodeMemInsn', () => {
  const split = (w: number) => [w & 0xffff, w >>> 16] as const;
  it('decodes the integer loads and stores, width, sign and register', () => {
    expect(decodeMemInsn(...split(e.lbu(7, 5, 5)))).toEqual({ length: 4, store: false, size: 1, unsigned: true, reg: 7 });
    expect(decodeMemInsn(...split(e.lw(10, 5, 0)))).toEqual({ length: 4, store: false, size: 4, unsigned: false, reg: 10 });
    expect(decodeMemInsn(...split(e.sd(6, 5, 8)))).toEqual({ length: 4, store: true, size: 8, unsigned: false, reg: 6 });
    expect(decodeMemInsn(...split(e.addi(1, 1, 1)))).toBeUndefined();
  });

  it('decodes the compressed forms: C.LW/C.SW on x8-x15, C.LDSP/C.SDSP on any register', () => {
    // c.lw a0, 0(s0): 010 000 000 00 010 00 -> 0x4008
    expect(decodeMemInsn(0x4008, 0)).toEqual({ length: 2, store: false, size: 4, unsigned: false, reg: 10 });
    // c.sw a0, 0(s0): 110 ... -> 0xc008
    expect(decodeMemInsn(0xc008, 0)).toEqual({ length: 2, store: true, size: 4, unsigned: false, reg: 10 });
    // c.ldsp ra, 0(sp): 011 0 00001 00000 10 -> 0x6082
    expect(decodeMemInsn(0x6082, 0)).toEqual({ length: 2, store: false, size: 8, unsigned: false, reg: 1 });
    // c.sdsp ra, 0(sp): 111 000000 00001 10 -> 0xe006
    expect(decodeMemInsn(0xe006, 0)).toEqual({ length: 2, store: true, size: 8, unsigned: false, reg: 1 });
    expect(decodeMemInsn(0x4002, 0)).toBeUndefined(); // c.lwsp x0: reserved
  });

  it('extends a loaded value as the instruction says', () => {
    expect(extendLoad({ length: 4, store: false, size: 1, unsigned: false, reg: 1 }, 0x80, 0)).toBe(-128n);
    expect(extendLoad({ length: 4, store: false, size: 1, unsigned: true, reg: 1 }, 0x80, 0)).toBe(128n);
    expect(extendLoad({ length: 4, store: false, size: 4, unsigned: false, reg: 1 }, -1, 0)).toBe(-1n);
    expect(extendLoad({ length: 4, store: false, size: 8, unsigned: false, reg: 1 }, 1, 1)).toBe((1n << 32n) | 1n);
  });
});
