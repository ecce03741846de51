import { describe, expect, it } from 'vitest';
import { Uart16550 } from '@splitvisor/devices';
import { UART0, type MmioOffset } from '@splitvisor/platform';
import { silentLogger } from '@splitvisor/testing';
import { REVOKE_MARGIN_MS, SHADOW_LEASE_MS, UartShadowGrants } from './read-shadow.js';

const LSR = 1 << 5;
const RBR = 1 << 0;

function setup(answer: (epoch: number) => Promise<void> = () => Promise.resolve()) {
  const uart = new Uart16550();
  const asked: number[] = [];
  const g = new UartShadowGrants(
    uart,
    UART0.base,
    (epoch) => {
      asked.push(epoch);
      return answer(epoch);
    },
    silentLogger(),
  );
  return { uart, g, asked };
}

describe('UartShadowGrants (io-backend)', () => {
  it('grants the idle UART its side-effect-free registers, with their values', () => {
    const { g } = setup();
    const grant = g.grant()!;
    expect(grant.base).toBe(UART0.base);
    expect(grant.valid! & (LSR | RBR)).toBe(LSR | RBR);
    expect([...(grant.values as Buffer)][5]).toBe(0x60);
  });

  it('gives each grant its lease, and waits the lease and a margin for a revoke', () => {
    const { g } = setup();
    expect(SHADOW_LEASE_MS).toBe(1000);
    expect(g.grant()!.leaseMs).toBe(SHADOW_LEASE_MS);
    expect(g.revokeTimeoutMs).toBe(SHADOW_LEASE_MS + REVOKE_MARGIN_MS);
    const short = new UartShadowGrants(new Uart16550(), UART0.base, () => Promise.resolve(), silentLogger(), 200);
    expect(short.grant()!.leaseMs).toBe(200);
    expect(short.revokeTimeoutMs).toBe(1000);
    for (const bad of [0, 9, 10_001, 1.5, NaN]) {
      expect(() => new UartShadowGrants(new Uart16550(), UART0.base, () => Promise.resolve(), silentLogger(), bad)).toThrow(
        `read shadow lease ${bad} ms is outside 10..10000 ms`,
      );
    }
  });

  it('revokes before input reaches the UART, in a newer epoch, and applies it after the answer', async () => {
    let release = () => undefined as void;
    const { uart, g, asked } = setup(() => new Promise<void>((r) => (release = r)));
    const before = g.grant()!;
    const done = g.change(() => uart.receive(Buffer.from('a')));
    await Promise.resolve();
    expect(asked).toHaveLength(1);
    expect(asked[0]).toBeGreaterThan(before.epoch as number);
    expect(uart.rxPending).toBe(0); // not before the cpu dropped its grant
    expect(g.grant()).toBeUndefined(); // nor a new grant meanwhile: it would show the old state
    release();
    await done;
    expect(uart.rxPending).toBe(1);
    const after = g.grant()!;
    // Bytes waiting: RBR stays out (a read pops one); LSR is granted, showing DR.
    expect(after.valid! & (LSR | RBR)).toBe(LSR);
    expect(Buffer.from(after.values as Uint8Array)[5]! & 0x01).toBe(0x01);
    expect(after.epoch).toBe(asked[0]);
  });

  it('asks no revoke when no grant was given since the last one, and keeps input in order', async () => {
    const { uart, g, asked } = setup();
    g.grant();
    await Promise.all([g.change(() => uart.receive(Buffer.from('x'))), g.change(() => uart.receive(Buffer.from('y')))]);
    expect(asked).toHaveLength(1);
    const rd = () => {
      const r = uart.read(0 as MmioOffset, 1);
      return r.ok ? r.value : -1;
    };
    expect(String.fromCharCode(rd(), rd())).toBe('xy');
  });

  it('applies the change when the revoke goes unanswered (the grant expires at the cpu)', async () => {
    const { uart, g } = setup(() => Promise.reject(new Error('timeout')));
    g.grant();
    await g.change(() => uart.receive(Buffer.from('z')));
    expect(uart.rxPending).toBe(1);
    expect(g.stats.revokesUnanswered).toBe(1);
  });

  it('revokes on a restore even when this process granted nothing', async () => {
    const { g, asked } = setup();
    await g.change(() => undefined, true);
    expect(asked).toHaveLength(1);
  });
});
