import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { fuzzSeed, regressionSeeds } from './fuzz-seed.test-util.js';

const dir = mkdtempSync(join(tmpdir(), 'fuzz-seed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const list = (name: string, text: string): URL => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return pathToFileURL(f);
};

describe('fuzzSeed', () => {
  it('takes SPLITVISOR_FUZZ_SEED, decimal or hex, and says so', () => {
    expect(fuzzSeed({ SPLITVISOR_FUZZ_SEED: '1234' })).toEqual({ seed: 1234, from: 'SPLITVISOR_FUZZ_SEED' });
    expect(fuzzSeed({ SPLITVISOR_FUZZ_SEED: '0x5eed' }).seed).toBe(0x5eed);
    expect(fuzzSeed({ SPLITVISOR_FUZZ_SEED: '-7' }).seed).toBe(-7);
  });

  it('draws a new 32-bit seed when the variable is unset or empty', () => {
    const seeds = new Set(Array.from({ length: 8 }, () => fuzzSeed({}).seed));
    expect(seeds.size).toBeGreaterThan(1);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
    expect(fuzzSeed({ SPLITVISOR_FUZZ_SEED: '' }).from).toBe('random');
  });

  it('refuses a variable that is not a seed, naming it', () => {
    expect(() => fuzzSeed({ SPLITVISOR_FUZZ_SEED: 'abc' })).toThrow(/SPLITVISOR_FUZZ_SEED: "abc" is not a 32-bit seed/);
    expect(() => fuzzSeed({ SPLITVISOR_FUZZ_SEED: '99999999999' })).toThrow(/not a 32-bit seed/);
  });
});

describe('regressionSeeds', () => {
  it('reads one seed a line, with comments and blank lines', () => {
    expect(regressionSeeds(list('ok.txt', '# header\n\n0x10  # why\n42\n'))).toEqual([16, 42]);
  });

  it('throws naming the file and line of anything that is not a seed', () => {
    expect(() => regressionSeeds(list('bad.txt', '1\nseed 2\n'))).toThrow(/bad\.txt:2: "seed 2" is not a 32-bit seed/);
  });
});
