import { describe, expect, it } from 'vitest';
import { ephemeralLow, freePort, isListening } from './ports.js';

describe('freePort', () => {
  it('gives a port below the ephemeral range that can be bound, a different one each time', async () => {
    const low = ephemeralLow();
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const p = await freePort();
      expect(p).toBeGreaterThan(1024);
      expect(p).toBeLessThan(low);
      expect(await isListening(p)).toBe(false);
      ports.add(p);
    }
    expect(ports.size).toBeGreaterThan(15);
  });

  it('never gives a port it is told is already handed out (a lab draws five before any is bound)', async () => {
    const high = ephemeralLow() - 1;
    const low = Math.max(1025, high - 12_000);
    // Every port of the range but 20 handed out: each draw must find one of the 20.
    const exclude = new Set<number>();
    const left = new Set<number>();
    for (let p = low; p <= high; p++) (p % 600 === 0 && left.size < 20 ? left : exclude).add(p);
    for (let i = 0; i < 10; i++) {
      const p = await freePort('127.0.0.1', exclude);
      expect(exclude.has(p)).toBe(false);
    }
  });
});
