// One run of the kernel's suite with `sync`, wherever it runs (a lab VM, QEMU): at each
// `ready` the host takes its snapshot, starts the clock and sends the byte that starts the
// measured part; the result line stops the clock; at `done` it takes the second snapshot
// and sends the byte that lets the kernel go on. A panic, a benchmark that fails its own
// check, or the kernel ending some other way ends the run with an error naming the
// benchmark and the column.
import { KernelOutputReader, type KernelEvent } from './kernel-output.js';
import type { BenchSample } from './results.js';

export class BenchRunError extends Error {}

/** What a column gives the driver: a byte to the console, and (Splitvisor) a counter snapshot. */
export interface SyncTarget<S> {
  column: string;
  send(byte: string): void;
  snapshot?: () => Promise<S>;
  /** The sample's counters over the measured part, from the snapshots around it. */
  diff?: (before: S, after: S) => Pick<BenchSample, 'exits' | 'mmio' | 'instructions'>;
}

export class SyncDriver<S> {
  readonly reader: KernelOutputReader;
  readonly samples: BenchSample[] = [];
  banner = '';
  finished = false;
  /** The benchmark in progress (its `ready` seen, its `done` not yet). */
  current: string | undefined;
  private before: S | undefined;
  private t0 = 0;
  private pending: BenchSample | undefined;
  /** Events are handled one after another (a snapshot is a call). */
  private chain: Promise<void> = Promise.resolve();
  private failure: BenchRunError | undefined;

  constructor(
    private readonly target: SyncTarget<S>,
    private readonly onFailure: (e: BenchRunError) => void,
  ) {
    this.reader = new KernelOutputReader((e) => {
      this.chain = this.chain
        .then(() => this.handle(e))
        .catch((err: unknown) => this.fail(err instanceof BenchRunError ? err : new BenchRunError(String(err))));
    });
  }

  /** The first failure seen, if any. */
  get failed(): BenchRunError | undefined {
    return this.failure;
  }

  /** Where the run was, for messages: "in <bench>" or "after <last bench>". */
  where(): string {
    if (this.current) return `in benchmark ${this.current}`;
    const last = this.samples.at(-1)?.bench;
    return last ? `after benchmark ${last}` : 'before the first benchmark';
  }

  private fail(e: BenchRunError): void {
    if (this.failure) return;
    this.failure = e;
    this.onFailure(e);
  }

  private async handle(e: KernelEvent): Promise<void> {
    if (this.failure) return;
    const col = this.target.column;
    switch (e.kind) {
      case 'banner':
        this.banner = e.line;
        return;
      case 'ready':
        this.current = e.bench;
        this.pending = undefined;
        this.before = this.target.snapshot ? await this.target.snapshot() : undefined;
        this.t0 = performance.now();
        this.target.send('g');
        return;
      case 'result': {
        const t1 = performance.now();
        if (e.bench !== this.current) throw new BenchRunError(`${col}: result of ${e.bench} while ${this.current ?? 'no benchmark'} was running`);
        if (e.iters <= 0) throw new BenchRunError(`${col}: benchmark ${e.bench} reported ${e.iters} iterations`);
        this.pending = { bench: e.bench, iters: e.iters, nsPerOp: e.nsPerOp, hostUsPerOp: ((t1 - this.t0) * 1000) / e.iters };
        return;
      }
      case 'done': {
        const p = this.pending;
        if (!p || p.bench !== e.bench) throw new BenchRunError(`${col}: benchmark ${e.bench} said done without a result line`);
        if (this.target.snapshot && this.target.diff) Object.assign(p, this.target.diff(this.before as S, await this.target.snapshot()));
        this.samples.push(p);
        this.pending = undefined;
        this.current = undefined;
        this.target.send('g');
        return;
      }
      case 'failed':
        throw new BenchRunError(`benchmark ${e.bench} failed its own check in ${col}: ${e.reason}`);
      case 'panic':
        throw new BenchRunError(`kernel panic in ${col} ${this.where()}: ${e.message}`);
      case 'finished':
        this.finished = true;
        return;
    }
  }

  /** Resolves when every event seen so far has been handled. */
  settled(): Promise<void> {
    return this.chain;
  }
}
