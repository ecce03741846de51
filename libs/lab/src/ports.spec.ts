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
});
