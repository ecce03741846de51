import { describe, expect, it } from 'vitest';
import { rig } from '../testing/rig.test-util.js';
import { VirtioRng } from './rng.js';

describe('virtio-rng', () => {
  it('fills every writable buffer of a chain with random bytes and reports the length', async () => {
    const { driver, device } = rig();
    driver.init({ queueSizes: [8] });
    const posted = driver.add(0, { writable: [32, 64] });
    driver.notify(0);
    expect(await driver.waitUsed(0, 1)).toEqual([{ id: posted.head, len: 96 }]);
    const bytes = [...driver.peek(posted.writable[0]!.addr, 32), ...driver.peek(posted.writable[1]!.addr, 64)];
    expect(new Set(bytes).size).toBeGreaterThan(20); // 96 zero bytes would be one value
    expect(device.stats()).toMatchObject({ requests: 1, bytes: 96, failedRequests: 0 });
  });

  it('bounds what one request gets', async () => {
    const { driver } = rig({ device: new VirtioRng({ maxBytesPerRequest: 8192 }) });
    driver.init({ queueSizes: [8] });
    driver.add(0, { writable: [100_000], indirect: true });
    driver.notify(0);
    expect(await driver.waitUsed(0, 1)).toEqual([{ id: 0, len: 8192 }]);
  });

  it('gives back a chain with nothing writable unanswered (len 0)', async () => {
    const { driver } = rig();
    driver.init({ queueSizes: [8] });
    driver.add(0, { readable: [Uint8Array.of(1)] });
    driver.notify(0);
    expect(await driver.waitUsed(0, 1)).toEqual([{ id: 0, len: 0 }]);
  });

  it('refuses config writes: it has no config space', () => {
    expect(new VirtioRng().writeConfig(0, 4, 1)).toMatch(/rng0 has no config space/);
  });
});
