// The fuzzing loop, libFuzzer's in outline: load the corpus, keep each entry that reaches
// something new, then mutate entries in batches. A batch is run with one coverage take at
// its end (a take costs ~0.25 ms, a parse well under a microsecond); only a batch that
// reached a new block is run again input by input, to find which inputs to keep.
//
// Runs in a worker thread: the supervisor watches `shared` and ends the thread when one
// input runs past the time limit (a hang cannot be caught from inside).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Coverage } from './coverage.js';
import { Mutator, Rng } from './mutate.js';
import { REPO_SCOPE, dictionaryBytes, type FuzzTarget } from './target.js';

/** Words of the shared heartbeat: executions done, 1 while an input runs, its length. */
export const HB_EXECS = 0;
export const HB_BUSY = 1;
export const HB_LEN = 2;
export const HB_WORDS = 4;

export interface FuzzOptions {
  /** Stop after this many executions of mutated inputs (the corpus's own runs not counted). */
  runs: number;
  /** Stop after this many seconds. */
  seconds: number;
  seed: number;
  /** Directories read for the initial corpus (missing ones are skipped). */
  corpusDirs: string[];
  /** Where new corpus entries are written, or undefined to keep them in memory only. */
  corpusOut: string | undefined;
  /** Where crashing inputs are written (<dir>/<sha1>). */
  crashDir: string;
  /** Inputs per coverage take. */
  batch: number;
}

export interface CrashReport {
  file: string;
  /** "TypeError: ..." and the top frames. */
  error: string;
}

export interface FuzzStats {
  target: string;
  execs: number;
  seconds: number;
  corpus: number;
  blocks: number;
  crashes: CrashReport[];
}

/** Shared memory the supervisor reads: heartbeat words, then the input being run. */
export class Heartbeat {
  readonly words: Int32Array;
  readonly input: Uint8Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, HB_WORDS);
    this.input = new Uint8Array(buffer, HB_WORDS * 4);
  }
  static create(maxLen: number): Heartbeat {
    return new Heartbeat(new SharedArrayBuffer(HB_WORDS * 4 + maxLen));
  }
  /** The input that was running, as the supervisor sees it. */
  current(): Uint8Array {
    return this.input.slice(0, Atomics.load(this.words, HB_LEN));
  }
}

export function sha1(data: Uint8Array): string {
  return createHash('sha1').update(data).digest('hex');
}

export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const frames = (e.stack ?? '')
      .split('\n')
      .filter((l) => l.trimStart().startsWith('at '))
      .slice(0, 4);
    return [`${e.name}: ${e.message}`, ...frames.map((f) => '  ' + f.trim())].join('\n');
  }
  return `non-Error thrown: ${String(e)}`;
}

/** Same error, same place: the name and the first frame. Messages carry values; frames do not. */
function signature(e: unknown): string {
  if (!(e instanceof Error)) return `throw ${typeof e}`;
  const frame = (e.stack ?? '').split('\n').find((l) => l.trimStart().startsWith('at ')) ?? '';
  return `${e.name} ${frame.trim()}`;
}

export function readCorpus(dirs: readonly string[]): { name: string; data: Uint8Array }[] {
  const out: { name: string; data: Uint8Array }[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (n.startsWith('.') || !statSync(p).isFile()) continue;
      out.push({ name: p, data: new Uint8Array(readFileSync(p)) });
    }
  }
  return out;
}

export class Fuzzer {
  private readonly corpus: Uint8Array[] = [];
  private readonly coverage: Coverage;
  private readonly maxLen: number;
  private readonly crashes: CrashReport[] = [];
  private readonly signatures = new Set<string>();
  private execs = 0;

  constructor(
    private readonly target: FuzzTarget,
    private readonly hb: Heartbeat,
  ) {
    this.maxLen = Math.min(target.maxLen ?? 4096, hb.input.length);
    this.coverage = new Coverage(target.scope ?? REPO_SCOPE);
  }

  /**
   * Runs one input; an error the target does not expect is a crash, written to `crashDir`.
   * @returns false when the input crashed.
   */
  async exec(data: Uint8Array, crashDir: string | undefined): Promise<boolean> {
    const w = this.hb.words;
    this.hb.input.set(data.subarray(0, this.maxLen));
    Atomics.store(w, HB_LEN, Math.min(data.length, this.maxLen));
    Atomics.store(w, HB_BUSY, 1);
    try {
      const r = this.target.run(data);
      if (r) await r;
      return true;
    } catch (e) {
      if (this.target.expected?.(e)) return true;
      this.crash(data, e, crashDir);
      return false;
    } finally {
      Atomics.store(w, HB_BUSY, 0);
      Atomics.add(w, HB_EXECS, 1);
    }
  }

  /** Fuzzing writes one file per distinct crash; a replay (no crashDir) reports every one. */
  private crash(data: Uint8Array, e: unknown, crashDir: string | undefined): void {
    if (crashDir === undefined) {
      this.crashes.push({ file: '', error: describeError(e) });
      return;
    }
    const sig = signature(e);
    if (this.signatures.has(sig)) return;
    this.signatures.add(sig);
    mkdirSync(crashDir, { recursive: true });
    const file = join(crashDir, sha1(data));
    writeFileSync(file, data);
    this.crashes.push({ file, error: describeError(e) });
  }

  async run(opts: FuzzOptions, onProgress?: (s: FuzzStats) => void): Promise<FuzzStats> {
    const started = performance.now();
    const rng = new Rng(opts.seed);
    const mutator = new Mutator(rng, { maxLen: this.maxLen, dictionary: dictionaryBytes(this.target) });
    const keep = (data: Uint8Array, save: boolean) => {
      this.corpus.push(data);
      if (save && opts.corpusOut) {
        mkdirSync(opts.corpusOut, { recursive: true });
        writeFileSync(join(opts.corpusOut, sha1(data)), data);
      }
    };

    // The corpus: an entry is kept when it reaches a feature no earlier one did.
    this.coverage.discard();
    for (const { data } of readCorpus(opts.corpusDirs)) {
      const d = data.subarray(0, this.maxLen);
      await this.exec(d, opts.crashDir);
      if (this.coverage.take(true).features > 0) keep(d, false);
    }
    if (this.corpus.length === 0) keep(new Uint8Array(0), false);

    const deadline = started + opts.seconds * 1000;
    const batch: Uint8Array[] = [];
    let lastReport = performance.now();
    while (this.execs < opts.runs && performance.now() < deadline) {
      batch.length = 0;
      const n = Math.min(opts.batch, opts.runs - this.execs);
      for (let i = 0; i < n; i++) {
        const a = this.corpus[rng.below(this.corpus.length)]!;
        const b = this.corpus[rng.below(this.corpus.length)];
        const input = mutator.mutate(a, b);
        batch.push(input);
        await this.exec(input, opts.crashDir);
      }
      this.execs += n;
      if (this.coverage.take(false).blocks > 0 || rng.chance(64)) {
        // Something in the batch went somewhere new (or, now and then, to catch new loop
        // counts, which a batch's summed counts cannot show): find which inputs did.
        for (const input of batch) {
          await this.exec(input, opts.crashDir);
          if (this.coverage.take(true).features > 0) keep(input, true);
        }
      }
      if (onProgress && performance.now() - lastReport > 5000) {
        lastReport = performance.now();
        onProgress(this.stats(started));
      }
    }
    return this.stats(started);
  }

  /** Runs each file once (a regression replay); a crash is reported as in a run. */
  async replay(files: readonly { name: string; data: Uint8Array }[]): Promise<FuzzStats> {
    const started = performance.now();
    for (const f of files) {
      const before = this.crashes.length;
      await this.exec(f.data, undefined);
      this.execs++;
      const c = this.crashes[before];
      if (c) c.file = f.name;
    }
    return this.stats(started);
  }

  private stats(started: number): FuzzStats {
    return {
      target: this.target.name,
      execs: this.execs,
      seconds: (performance.now() - started) / 1000,
      corpus: this.corpus.length,
      blocks: this.coverage.blockCount,
      crashes: [...this.crashes],
    };
  }
}
