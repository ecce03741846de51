// What a fuzz target is: one function over bytes, and the one error type it may throw.

export interface FuzzTarget {
  readonly name: string;
  /** What the bytes are, for `npm run fuzz -- --list`. */
  readonly about: string;
  /**
   * Feeds `data` to the code under test. Must not throw anything `expected` does not accept,
   * and must finish (a promise must settle) within the per-input time limit.
   */
  run(data: Uint8Array): void | Promise<void>;
  /** The parser's documented "bad input" error (ElfError, FdtError...); absent: nothing may throw. */
  readonly expected?: (e: unknown) => boolean;
  /** Tokens the mutator inserts or writes over (magic numbers, option names, keywords). */
  readonly dictionary?: readonly (string | Uint8Array)[];
  /** Inputs are cut to this length (default 4096). */
  readonly maxLen?: number;
  /** Script URLs whose coverage guides this target (default: the repo's libs and services). */
  readonly scope?: readonly RegExp[];
}

/** The built code of the repo's libs and services, not the fuzzer's own nor node's. */
export const REPO_SCOPE: readonly RegExp[] = [/\/(libs|services)\/[^/]+\/dist\//];

export function dictionaryBytes(t: FuzzTarget): Uint8Array[] {
  const enc = new TextEncoder();
  return (t.dictionary ?? []).map((d) => (typeof d === 'string' ? enc.encode(d) : d));
}
