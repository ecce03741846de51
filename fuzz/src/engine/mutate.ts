// libFuzzer's mutations (MutationDispatcher.cpp), in a few lines each: bit and byte flips,
// random bytes, insert / erase / duplicate a range, interesting integers in both byte
// orders, a dictionary token inserted or written over, and a splice of two corpus entries.
// A deterministic generator so a run can be replayed from its seed.

/** xorshift32: small, fast, seedable; quality enough to pick mutations. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** Uniform in [0, n); n >= 1. */
  below(n: number): number {
    return this.next() % n;
  }
  chance(oneIn: number): boolean {
    return this.below(oneIn) === 0;
  }
}

const INTERESTING = [
  0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 511, 512, 1023, 1024, 4095, 4096, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
  0xffffffff,
];

export interface MutatorOptions {
  maxLen: number;
  dictionary: readonly Uint8Array[];
}

type Mutation = (rng: Rng, b: Uint8Array, other: Uint8Array | undefined) => Uint8Array;

function pos(rng: Rng, len: number): number {
  return len === 0 ? 0 : rng.below(len);
}

function insert(b: Uint8Array, at: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length + bytes.length);
  out.set(b.subarray(0, at), 0);
  out.set(bytes, at);
  out.set(b.subarray(at), at + bytes.length);
  return out;
}

function writeInt(rng: Rng, b: Uint8Array): Uint8Array {
  const width = [1, 2, 4, 8][rng.below(4)]!;
  if (b.length < width) return b;
  let v = BigInt(INTERESTING[rng.below(INTERESTING.length)]!);
  if (rng.chance(4)) v = -v; // -1, -2, ... as two's complement
  if (rng.chance(4)) v += BigInt(rng.below(5)) - 2n;
  const at = rng.below(b.length - width + 1);
  const out = b.slice();
  const bigEndian = rng.chance(2);
  for (let i = 0; i < width; i++) {
    const byte = Number((v >> BigInt(8 * i)) & 0xffn);
    out[bigEndian ? at + width - 1 - i : at + i] = byte;
  }
  return out;
}

function dictionaryMutations(dict: readonly Uint8Array[]): Mutation[] {
  if (dict.length === 0) return [];
  const pick = (rng: Rng) => dict[rng.below(dict.length)]!;
  return [
    (rng, b) => insert(b, pos(rng, b.length + 1), pick(rng)),
    (rng, b) => {
      const t = pick(rng);
      if (t.length > b.length) return insert(b, 0, t);
      const out = b.slice();
      out.set(t, rng.below(b.length - t.length + 1));
      return out;
    },
  ];
}

const MUTATIONS: Mutation[] = [
  // flip a bit
  (rng, b) => {
    if (b.length === 0) return Uint8Array.of(rng.below(256));
    const out = b.slice();
    out[rng.below(b.length)]! ^= 1 << rng.below(8);
    return out;
  },
  // a random byte
  (rng, b) => {
    if (b.length === 0) return Uint8Array.of(rng.below(256));
    const out = b.slice();
    out[rng.below(b.length)] = rng.below(256);
    return out;
  },
  // add or subtract a little from a byte
  (rng, b) => {
    if (b.length === 0) return b;
    const out = b.slice();
    const at = rng.below(b.length);
    out[at] = (out[at]! + rng.below(33) - 16) & 0xff;
    return out;
  },
  // insert random bytes
  (rng, b) => {
    const n = 1 + rng.below(8);
    const bytes = new Uint8Array(n);
    const v = rng.below(256);
    for (let i = 0; i < n; i++) bytes[i] = rng.chance(2) ? v : rng.below(256);
    return insert(b, pos(rng, b.length + 1), bytes);
  },
  // erase a range
  (rng, b) => {
    if (b.length < 2) return b;
    const at = rng.below(b.length);
    const n = 1 + rng.below(Math.min(b.length - at, 64));
    const out = new Uint8Array(b.length - n);
    out.set(b.subarray(0, at), 0);
    out.set(b.subarray(at + n), at);
    return out;
  },
  // duplicate a range somewhere (repeated structures: options, descriptors, nodes)
  (rng, b) => {
    if (b.length === 0) return b;
    const at = rng.below(b.length);
    const n = 1 + rng.below(Math.min(b.length - at, 128));
    return insert(b, pos(rng, b.length + 1), b.slice(at, at + n));
  },
  // copy a range over another
  (rng, b) => {
    if (b.length < 2) return b;
    const from = rng.below(b.length);
    const n = 1 + rng.below(Math.min(b.length - from, 64));
    const out = b.slice();
    out.set(b.subarray(from, from + n), rng.below(b.length - n + 1));
    return out;
  },
  writeInt,
  // truncate
  (rng, b) => (b.length === 0 ? b : b.slice(0, rng.below(b.length))),
  // splice: a prefix of this one and a suffix of another entry
  (rng, b, other) => {
    if (!other || other.length === 0) return b;
    const cut = pos(rng, b.length + 1);
    const from = rng.below(other.length);
    const out = new Uint8Array(cut + other.length - from);
    out.set(b.subarray(0, cut), 0);
    out.set(other.subarray(from), cut);
    return out;
  },
];

export class Mutator {
  private readonly mutations: Mutation[];
  constructor(
    private readonly rng: Rng,
    private readonly opts: MutatorOptions,
  ) {
    this.mutations = [...MUTATIONS, ...dictionaryMutations(opts.dictionary)];
  }

  /** One to five stacked mutations of `input`, cut to maxLen. */
  mutate(input: Uint8Array, other?: Uint8Array): Uint8Array {
    let b = input;
    const n = 1 + this.rng.below(5);
    for (let i = 0; i < n; i++) b = this.mutations[this.rng.below(this.mutations.length)]!(this.rng, b, other);
    return b.length > this.opts.maxLen ? b.subarray(0, this.opts.maxLen) : b;
  }
}
