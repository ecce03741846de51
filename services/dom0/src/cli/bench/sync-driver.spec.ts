import { describe, expect, it } from 'vitest';
import { BenchRunError, SyncDriver } from './sync-driver.js';

/** A column whose counter is a number the test moves, and whose console is an array. */
function column() {
  const sent: string[] = [];
  let counter = 0;
  const failures: BenchRunError[] = [];
  const d = new SyncDriver<number>(
    {
      column: 'emulate',
      send: (b) => sent.push(`${b}@${counter}`),
      snapshot: () => Promise.resolve(counter),
      diff: (a, b) => ({ exits: { 'mmio-read': b - a } }),
    },
    (e) => failures.push(e),
  );
  return { d, sent, failures, move: (n: number) => (counter += n) };
}

describe('sync driver', () => {
  it('snapshots before the start byte and after the result, and sends one byte at ready and one at done', async () => {
    const { d, sent, move } = column();
    d.reader.feed('splitvisor-kernel: hart 0, 128 MiB, 1 virtio devices, sstc no\nbench trap: ready\n');
    await d.settled();
    expect(sent).toEqual(['g@0']);
    expect(d.current).toBe('trap');
    move(7);
    d.reader.feed('bench trap: 10 iters, 123 ns/op\nbench trap: done\n');
    await d.settled();
    expect(sent).toEqual(['g@0', 'g@7']);
    expect(d.samples).toMatchObject([{ bench: 'trap', iters: 10, nsPerOp: 123, exits: { 'mmio-read': 7 } }]);
    expect(d.samples[0]!.hostUsPerOp).toBeGreaterThanOrEqual(0);
    d.reader.feed('kernel: done\n');
    await d.settled();
    expect(d.finished).toBe(true);
    expect(d.banner).toMatch(/^splitvisor-kernel: hart 0/);
  });

  it.each([
    ['bench trap: ready\nbench trap: FAILED sepc not advanced\n', 'benchmark trap failed its own check in emulate: sepc not advanced'],
    ['bench trap: ready\nkernel panic: page fault in kernel at 0x0\n', 'kernel panic in emulate in benchmark trap: page fault in kernel at 0x0'],
    ['kernel panic: watchdog\n', 'kernel panic in emulate before the first benchmark: watchdog'],
    ['bench trap: ready\nbench trap: done\n', 'emulate: benchmark trap said done without a result line'],
    ['bench trap: ready\nbench fork_exit: 3 iters, 5 ns/op\n', 'emulate: result of fork_exit while trap was running'],
  ])('ends the run at %j, naming the benchmark and the column', async (text, message) => {
    const { d, failures } = column();
    d.reader.feed(text);
    await d.settled();
    expect(failures.map((f) => f.message)).toEqual([message]);
    expect(d.failed?.message).toBe(message);
  });
});
