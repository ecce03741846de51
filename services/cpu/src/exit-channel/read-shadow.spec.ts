import { describe, expect, it } from 'vitest';
import { ReadShadowReader, ReadShadowWriter, SHADOW_BYTES, SHADOW_SLOTS, shadowClock } from './read-shadow.js';

const UART = 0x10000000;

function ends() {
  const buf = new SharedArrayBuffer(SHADOW_BYTES);
  return { host: new ReadShadowWriter(buf), worker: new ReadShadowReader(buf), out: new Int32Array(2) };
}

describe('read shadow (shared words)', () => {
  it('serves byte loads of granted registers only, until dropped', () => {
    const { host, worker, out } = ends();
    expect(worker.serve(UART + 5, 1, out)).toBe(false);
    host.install(UART, 0b0110_0000, [0, 0, 0, 0, 0, 0x60, 0xb0, 0], shadowClock() + 1000);
    expect(worker.serve(UART + 5, 1, out)).toBe(true);
    expect(out[0]).toBe(0x60);
    expect(worker.serve(UART + 6, 1, out)).toBe(true);
    expect(out[0]).toBe(0xb0);
    expect(worker.serve(UART + 2, 1, out)).toBe(false); // IIR: not granted
    expect(worker.serve(UART + 5, 4, out)).toBe(false); // not a byte load
    expect(worker.serve(UART + 8, 1, out)).toBe(false);
    expect(host.baseHolding(UART + 3)).toBe(UART);
    host.drop(UART);
    expect(worker.serve(UART + 5, 1, out)).toBe(false);
    expect(host.baseHolding(UART + 3)).toBeUndefined();
  });

  it('stops serving an expired grant', () => {
    const { host, worker, out } = ends();
    host.install(UART, 0xff, new Uint8Array(8), shadowClock() - 1);
    expect(worker.serve(UART, 1, out)).toBe(false);
  });

  it('says when the grant serving a register runs out (poll-idle sleeps until then), 0 when none serves it', () => {
    const { host, worker } = ends();
    const until = shadowClock() + 200;
    host.install(UART, 0b0010_0000, [0, 0, 0, 0, 0, 0x60, 0, 0], until);
    expect(worker.expiresAt(UART + 5)).toBe(until);
    expect(worker.expiresAt(UART + 2)).toBe(0); // not granted
    host.drop(UART);
    expect(worker.expiresAt(UART + 5)).toBe(0);
  });

  it('reuses a device slot for a new grant, and refuses when every slot is live', () => {
    const { host, worker, out } = ends();
    const later = shadowClock() + 1000;
    for (let i = 0; i < SHADOW_SLOTS; i++) expect(host.install(UART + i * 0x1000, 1, [i], later)).toBe(true);
    expect(host.install(UART, 1, [42], later)).toBe(true); // same device: its slot
    expect(worker.serve(UART, 1, out) && out[0]).toBe(42);
    expect(host.install(0x20000000, 1, [1], later)).toBe(false);
    host.dropAll();
    expect(worker.serve(UART, 1, out)).toBe(false);
  });
});
