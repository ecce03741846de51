// The guest kernel's console contract (guests/kernel, issue 12), read line by line as it
// arrives: its banner, each benchmark's sync points and result, a panic, its end. The
// kernel's words are fixed; this module is the one place that knows them.

/** The twelve microbenchmarks, in the kernel's order (`run=bench` runs them all). */
export const KERNEL_BENCHMARKS = [
  'null_syscall',
  'page_fault',
  'pte_change',
  'context_switch',
  'fork_exit',
  'fork_exec',
  'trap',
  'mmio_read',
  'timer_irq',
  'blk_read_4k',
  'blk_write_4k',
  'blk_flush',
] as const;
export type KernelBenchmark = (typeof KERNEL_BENCHMARKS)[number];

/** Exit codes of the kernel through the sifive test device (0: `kernel: done`, SBI shutdown). */
export const KERNEL_EXIT_CODES: Readonly<Record<number, string>> = { 1: 'failure', 2: 'panic', 3: 'watchdog' };

export type KernelEvent =
  | { kind: 'banner'; hart: number; mib: number; virtioDevices: number; sstc: boolean; line: string }
  | { kind: 'ready'; bench: string }
  | { kind: 'result'; bench: string; iters: number; nsPerOp: number }
  | { kind: 'failed'; bench: string; reason: string }
  | { kind: 'done'; bench: string }
  | { kind: 'panic'; message: string }
  | { kind: 'finished' };

const BANNER = /^splitvisor-kernel: hart (\d+), (\d+) MiB, (\d+) virtio devices, sstc (yes|no)(?:, pv-ops (\w+))?$/;
const RESULT = /^bench ([a-z0-9_]+): (\d+) iters, (\d+) ns\/op$/;
const FAILED = /^bench ([a-z0-9_]+): FAILED (.*)$/;
const SYNC = /^bench ([a-z0-9_]+): (ready|done)$/;
const PANIC = /^kernel panic: (.*)$/;

/** One line of the kernel's output (no line end) as an event, or undefined for any other line. */
export function parseKernelLine(raw: string): KernelEvent | undefined {
  const line = raw.replace(/\r$/, '');
  let m = BANNER.exec(line);
  if (m) return { kind: 'banner', hart: Number(m[1]), mib: Number(m[2]), virtioDevices: Number(m[3]), sstc: m[4] === 'yes', line };
  if ((m = RESULT.exec(line))) return { kind: 'result', bench: m[1]!, iters: Number(m[2]), nsPerOp: Number(m[3]) };
  if ((m = SYNC.exec(line))) return { kind: m[2] as 'ready' | 'done', bench: m[1]! };
  if ((m = FAILED.exec(line))) return { kind: 'failed', bench: m[1]!, reason: m[2]! };
  if ((m = PANIC.exec(line))) return { kind: 'panic', message: m[1]! };
  if (line === 'kernel: done') return { kind: 'finished' };
  return undefined;
}

/**
 * Console bytes in, events out, one per complete line. A `ready` or `done` line is the
 * kernel waiting for a byte: `onEvent` is told at once, with no later line mixed in.
 * Keeps the whole text (for error messages: its tail).
 */
export class KernelOutputReader {
  private partial = '';
  private text = '';

  constructor(private readonly onEvent: (e: KernelEvent) => void) {}

  feed(chunk: string): void {
    this.text += chunk;
    if (this.text.length > 1 << 20) this.text = this.text.slice(-(1 << 19));
    this.partial += chunk;
    for (let nl = this.partial.indexOf('\n'); nl >= 0; nl = this.partial.indexOf('\n')) {
      const line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      const e = parseKernelLine(line);
      if (e) this.onEvent(e);
    }
  }

  /** The last `n` lines of what the kernel printed (a partial last line included). */
  tail(n = 12): string {
    return this.text.replace(/\r/g, '').split('\n').filter(Boolean).slice(-n).join('\n');
  }
}

/** The kernel's command line for a bench run (the contract's words). */
export function benchBootargs(o: { only?: readonly string[]; iters?: number; sync: boolean; extra?: string }): string {
  const words = [o.only?.length ? `run=bench:${o.only.join(',')}` : 'run=bench'];
  if (o.iters !== undefined) words.push(`iters=${o.iters}`);
  if (o.sync) words.push('sync');
  if (o.extra) words.push(o.extra.trim());
  return words.join(' ');
}
