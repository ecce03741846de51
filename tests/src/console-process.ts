// A machine's console as a child process: everything it printed, waiting for a pattern,
// typing into it. U-Boot's driver and the guests' parity runs (QEMU and `splitvisor run`
// alike) are built on it, so both machines are read the same way.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';

export class ConsoleProcess {
  /** Everything the console printed so far (latin1: one char per byte). */
  out = '';
  /** Everyone waiting for a pattern (a command's prompt and a line within its output, say). */
  private readonly waiters = new Set<() => void>();
  /** The exit status, or null when a signal ended it. */
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (b: Buffer) => {
      this.out += b.toString('latin1');
      for (const w of [...this.waiters]) w();
    });
    child.stdin.on('error', () => {}); // EPIPE when the machine ends before reading it all
    // The process gone and its stdout closed (not just 'exit'): the console's last bytes are
    // in `out` when this resolves. Not 'close', which waits for the pipes node made, and
    // QEMU's stdout is a pipe of our own (spawnQemu).
    const exitCode = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const outputClosed = new Promise<void>((resolve) => child.stdout.once('close', () => resolve()));
    this.exited = Promise.all([exitCode, outputClosed]).then(([code]) => code);
  }

  /** Resolves with the console text once `re` matches the output after `from`. */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const text = this.out.slice(from);
        if (re.test(text)) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(text);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${re} on the console within ${timeoutMs} ms; console tail:\n${this.out.slice(-1500)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Bytes to the console's input, one char per byte. */
  type(text: string): void {
    this.child.stdin.write(Buffer.from(text, 'latin1'));
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
