import { afterEach, describe, expect, it, vi } from 'vitest';
import { FaultTable } from './table.js';
import { seededRandom } from './rng.js';
import type { FaultSpec } from './spec.js';

const T0 = 1_000_000;
function spec(over: Partial<FaultSpec>): FaultSpec {
  return {
    id: 'f1',
    link: 'cpu:io-backend',
    kind: 'latency',
    latencyMs: 200,
    jitterMs: 0,
    probability: 0,
    bytesPerSecond: 0,
    expiresAtMs: T0 + 5000,
    seed: 7,
    ...over,
  };
}

describe('FaultTable', () => {
  afterEach(() => vi.useRealTimers());

  it('is inactive when empty, and applies a fault only on the link it names, at its origin', () => {
    const t = new FaultTable('cpu', () => T0);
    expect(t.active).toBe(false);
    t.replace([spec({})]);
    expect(t.active).toBe(true);
    expect(t.rpc('io-backend')).toEqual({ delayMs: 200 });
    expect(t.rpc('mmu')).toEqual({ delayMs: 0 });
    const io = new FaultTable('io-backend', () => T0);
    io.replace([spec({})]);
    expect(io.rpc('mmu')).toEqual({ delayMs: 0 });
  });

  it('a partition fails calls both ways and drops the NATS subjects between the two', () => {
    const p = spec({ id: 'p1', link: 'cpu:mmu', kind: 'partition', latencyMs: 0 });
    const cpu = new FaultTable('cpu', () => T0);
    const mmu = new FaultTable('mmu', () => T0);
    cpu.replace([p]);
    mmu.replace([p]);
    expect(cpu.rpc('mmu').fail).toBe('fault p1 (partition cpu:mmu, 5s left): cpu cannot reach mmu');
    expect(mmu.rpc('cpu').fail).toBe('fault p1 (partition cpu:mmu, 5s left): mmu cannot reach cpu');
    expect(cpu.rpc('io-backend')).toEqual({ delayMs: 0 });
    expect(mmu.nats('sv.vm.hello.mem.recall.cpu-1').drop).toBe('fault p1 (partition cpu:mmu, 5s left)');
    expect(cpu.nats('sv.vm.hello.doorbell')).toEqual({ delayMs: 0, duplicate: false });
    // Both ends apply it; a third service, on no side of it, does not.
    const io = new FaultTable('io-backend', () => T0);
    io.replace([p]);
    expect([cpu.applied(), mmu.applied(), io.applied()].map((a) => a.length)).toEqual([1, 1, 0]);
  });

  it('takes a fault replaced under the same id and seed on another link at its new link', () => {
    const mmu = new FaultTable('mmu', () => T0);
    mmu.replace([spec({ id: 'f1', link: 'recall:vm', kind: 'latency', latencyMs: 50 })]);
    expect(mmu.nats('sv.vm.vm.mem.recall.cpu')).toEqual({ delayMs: 50, duplicate: false });
    mmu.replace([spec({ id: 'f1', link: 'cpu:mmu', kind: 'partition', latencyMs: 0 })]);
    expect(mmu.nats('sv.vm.vm.mem.recall.cpu').drop).toBe('fault f1 (partition cpu:mmu, 5s left)');
  });

  it('drops with the probability given, repeatably from the seed', () => {
    let hits = 0;
    const run = () => {
      const t = new FaultTable('io-backend', () => T0);
      t.replace([spec({ link: 'irq:*', kind: 'drop', probability: 0.3, seed: 42 })]);
      const dropped = Array.from({ length: 2000 }, () => t.nats('sv.vm.a.irq').drop !== undefined);
      hits = t.applied()[0]!.hits;
      return dropped;
    };
    const a = run();
    // What `fault list` shows as its hits: the messages it took.
    expect(hits).toBe(a.filter(Boolean).length);
    expect(run()).toEqual(a);
    const dropped = a.filter(Boolean).length;
    expect(dropped).toBeGreaterThan(2000 * 0.25);
    expect(dropped).toBeLessThan(2000 * 0.35);
    // The same draws as the generator itself makes: p < 0.3 is a drop.
    const r = seededRandom(42);
    expect(a.slice(0, 50)).toEqual(Array.from({ length: 50 }, () => r() < 0.3));
  });

  it('bandwidth: each message waits its turn on the link and its own size’s time', () => {
    let now = T0;
    const t = new FaultTable('io-backend', () => now);
    t.replace([spec({ link: 'io-backend:mmu', kind: 'bandwidth', latencyMs: 0, bytesPerSecond: 10_000 })]);
    // Three 1000-byte DMAs at once: 100, 200, 300 ms; after the link drains, 100 ms again.
    expect([1000, 1000, 1000].map((b) => t.rpc('mmu', b).delayMs)).toEqual([100, 200, 300]);
    now += 1000;
    expect(t.rpc('mmu', 1000).delayMs).toBe(100);
    expect(t.applied()[0]!.hits).toBe(4);
  });

  it('a VM-scoped NATS fault touches that VM only; jitter stays within its bounds', () => {
    const t = new FaultTable('cpu', () => T0);
    t.replace([spec({ link: 'doorbell:vm1', latencyMs: 100, jitterMs: 30 })]);
    expect(t.nats('sv.vm.vm2.doorbell')).toEqual({ delayMs: 0, duplicate: false });
    const delays = Array.from({ length: 500 }, () => t.nats('sv.vm.vm1.doorbell').delayMs);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(70);
    expect(Math.max(...delays)).toBeLessThanOrEqual(130);
    expect(new Set(delays).size).toBeGreaterThan(20);
  });

  it('each fault leaves at its deadline by the table’s own timer, and says so', () => {
    vi.useFakeTimers({ now: T0 });
    const expired: string[] = [];
    const t = new FaultTable('cpu', Date.now, (s) => expired.push(...s.map((x) => x.id)));
    t.replace([spec({ id: 'a', expiresAtMs: T0 + 1000 }), spec({ id: 'b', expiresAtMs: T0 + 3000 })]);
    vi.advanceTimersByTime(999);
    expect(t.list().map((s) => s.id)).toEqual(['a', 'b']);
    vi.advanceTimersByTime(2);
    expect(expired).toEqual(['a']);
    expect(t.active).toBe(true);
    vi.advanceTimersByTime(2000);
    expect(expired).toEqual(['a', 'b']);
    expect(t.active).toBe(false);
    expect(t.rpc('io-backend')).toEqual({ delayMs: 0 });
  });

  it('ignores an expired spec, refuses a malformed one, and removes by id or all', () => {
    const t = new FaultTable('cpu', () => T0);
    const refused = t.replace([spec({ id: 'old', expiresAtMs: T0 - 1 }), spec({ id: 'bad', link: 'nowhere' }), spec({ id: 'ok' }), spec({ id: 'ok2' })]);
    expect(refused.map((r) => r.error)).toEqual([expect.stringMatching(/^link: "nowhere" is not a link/)]);
    expect(t.list().map((s) => s.id)).toEqual(['ok', 'ok2']);
    expect(t.remove('ok')).toBe(1);
    expect(t.remove('nope')).toBe(0);
    expect(t.remove()).toBe(1);
    expect(t.active).toBe(false);
  });
});
