// The per-VM persister of device setup (saved-state.ts): writes what changed, skips what
// did not, keeps trying when the store fails, and never holds an exit past its bound.
import { describe, expect, it } from 'vitest';
import { createLogger } from '@splitvisor/log';

const silentLogger = () => createLogger({ service: 'test', level: 'silent' });
import { StatePersister, type SavedStateStore } from './saved-state.js';

class MapStore implements SavedStateStore {
  readonly data = new Map<string, string>();
  puts = 0;
  failNext = 0;
  hold: Promise<void> | undefined;
  async get(vm: string, dev: string) {
    return this.data.get(`${vm}/${dev}`);
  }
  async put(vm: string, dev: string, text: string) {
    this.puts++;
    if (this.hold) await this.hold;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('nats: timeout');
    }
    this.data.set(`${vm}/${dev}`, text);
  }
  async delete(vm: string, dev: string) {
    this.data.delete(`${vm}/${dev}`);
  }
}

function persister(store: MapStore | undefined, state: Record<string, string>) {
  return new StatePersister({ vm: 'vm1', snapshot: (dev) => state[dev], store: () => store, log: silentLogger(), retryMs: 5 });
}

describe('StatePersister', () => {
  it('writes a marked device once per change, and skips a record equal to the last one written', async () => {
    const store = new MapStore();
    const state = { uart0: '{"ier":1}' };
    const p = persister(store, state);
    expect(p.pending).toBe(false);
    p.mark('uart0');
    expect(p.pending).toBe(true);
    await p.settle();
    expect(store.data.get('vm1/uart0')).toBe('{"ier":1}');
    p.mark('uart0');
    await p.settle();
    expect(store.puts).toBe(1);
    expect(p.stats).toMatchObject({ writes: 1, skipped: 1 });
    state.uart0 = '{"ier":3}';
    p.mark('uart0');
    await p.settle();
    expect(store.data.get('vm1/uart0')).toBe('{"ier":3}');
    expect(p.pending).toBe(false);
  });

  it('a record it was restored from is not written again', async () => {
    const store = new MapStore();
    const p = persister(store, { blk: 'x' });
    p.known('blk', 'x');
    p.mark('blk');
    await p.settle();
    expect(store.puts).toBe(0);
  });

  it('tries again after a failed write, with the newest record', async () => {
    const store = new MapStore();
    const state = { blk: 'a' };
    const p = persister(store, state);
    store.failNext = 2;
    p.mark('blk');
    state.blk = 'b';
    for (let i = 0; i < 100 && store.data.get('vm1/blk') !== 'b'; i++) await new Promise((r) => setTimeout(r, 5));
    expect(store.data.get('vm1/blk')).toBe('b');
    expect(p.stats.failures).toBe(2);
  });

  it('settle waits no longer than its bound when the store hangs; the write lands later', async () => {
    const store = new MapStore();
    let release = () => undefined as void;
    store.hold = new Promise<void>((r) => (release = r));
    const p = persister(store, { blk: 'a' });
    p.mark('blk');
    const t0 = Date.now();
    await p.settle(50);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(p.pending).toBe(true);
    release();
    await p.settle(1000);
    expect(store.data.get('vm1/blk')).toBe('a');
  });

  it('writes nothing without a store, or once stopped', async () => {
    const none = persister(undefined, { blk: 'a' });
    none.mark('blk');
    await none.settle();
    expect(none.pending).toBe(false);
    const store = new MapStore();
    const p = persister(store, { blk: 'a' });
    p.stop();
    p.mark('blk');
    await p.settle();
    expect(store.puts).toBe(0);
  });
});
