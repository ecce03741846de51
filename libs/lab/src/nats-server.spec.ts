import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isListening, startNatsServer } from './index.js';

describe('nats-server process', () => {
  it('starts on a free port with a temp JetStream store and cleans up after itself', async () => {
    const nats = await startNatsServer();
    expect(nats.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(await isListening(nats.port)).toBe(true);
    const banner = await new Promise<string>((resolve, reject) => {
      const s = connect(nats.port, '127.0.0.1');
      s.once('data', (b) => {
        s.destroy();
        resolve(b.toString());
      });
      s.once('error', reject);
    });
    expect(banner).toMatch(/^INFO \{.*"jetstream":true/);
    await nats.stop();
    expect(await isListening(nats.port)).toBe(false);
    expect(existsSync(nats.storeDir)).toBe(false);
  });

  it('keeps the store after a kill so a restart finds it', async () => {
    const nats = await startNatsServer();
    await nats.kill();
    expect(await isListening(nats.port)).toBe(false);
    const again = await startNatsServer({ port: nats.port, storeDir: nats.storeDir });
    expect(again.port).toBe(nats.port);
    await again.stop();
    expect(existsSync(nats.storeDir)).toBe(true);
    const { rmSync } = await import('node:fs');
    rmSync(nats.storeDir, { recursive: true, force: true });
  });
});
