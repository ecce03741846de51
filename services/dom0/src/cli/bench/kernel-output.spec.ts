import { describe, expect, it } from 'vitest';
import { benchBootargs, KernelOutputReader, parseKernelLine, type KernelEvent } from './kernel-output.js';

describe("the kernel's output contract", () => {
  it('reads each kind of line, and nothing from other lines', () => {
    expect(parseKernelLine('splitvisor-kernel: hart 0, 128 MiB, 1 virtio devices, sstc no')).toEqual({
      kind: 'banner',
      hart: 0,
      mib: 128,
      virtioDevices: 1,
      sstc: false,
      line: 'splitvisor-kernel: hart 0, 128 MiB, 1 virtio devices, sstc no',
    });
    // Since pv mode the banner names the pv-ops the kernel took.
    const pvBanner = 'splitvisor-kernel: hart 0, 128 MiB, 1 virtio devices, sstc yes, pv-ops pv';
    expect(parseKernelLine(pvBanner)).toMatchObject({ kind: 'banner', sstc: true, line: pvBanner });
    expect(parseKernelLine('bench null_syscall: 2000 iters, 2179 ns/op\r')).toEqual({ kind: 'result', bench: 'null_syscall', iters: 2000, nsPerOp: 2179 });
    expect(parseKernelLine('bench blk_read_4k: ready')).toEqual({ kind: 'ready', bench: 'blk_read_4k' });
    expect(parseKernelLine('bench blk_read_4k: done')).toEqual({ kind: 'done', bench: 'blk_read_4k' });
    expect(parseKernelLine('bench trap: FAILED sepc not advanced')).toEqual({ kind: 'failed', bench: 'trap', reason: 'sepc not advanced' });
    expect(parseKernelLine('kernel panic: watchdog: 2 s passed')).toEqual({ kind: 'panic', message: 'watchdog: 2 s passed' });
    expect(parseKernelLine('kernel: done')).toEqual({ kind: 'finished' });
    for (const other of ['OpenSBI v1.2', 'selftest cow: ok', 'bench trap: 12 iters', 'bench trap: 1.5 iters, 3 ns/op', ' kernel: done']) {
      expect(parseKernelLine(other), other).toBeUndefined();
    }
  });

  it('gives one event per complete line, however the bytes are split, and keeps a tail', () => {
    const seen: KernelEvent[] = [];
    const r = new KernelOutputReader((e) => seen.push(e));
    const text = 'OpenSBI\r\nsplitvisor-kernel: hart 0, 64 MiB, 1 virtio devices, sstc yes\nbench trap: ready\nbench trap: 10 iters, 99 ns/op\nbench trap: do';
    for (const ch of text) r.feed(ch);
    expect(seen.map((e) => e.kind)).toEqual(['banner', 'ready', 'result']);
    r.feed('ne\n');
    expect(seen.at(-1)).toEqual({ kind: 'done', bench: 'trap' });
    expect(r.tail(2)).toBe('bench trap: 10 iters, 99 ns/op\nbench trap: done');
  });

  it('writes the boot arguments of a bench run', () => {
    expect(benchBootargs({ sync: true })).toBe('run=bench sync');
    expect(benchBootargs({ only: ['trap', 'mmio_read'], iters: 5, sync: true, extra: ' bench-fail-test ' })).toBe(
      'run=bench:trap,mmio_read iters=5 sync bench-fail-test',
    );
    expect(benchBootargs({ only: [], sync: false })).toBe('run=bench');
  });
});
