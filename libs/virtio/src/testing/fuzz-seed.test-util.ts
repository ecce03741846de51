// Seeds for the property tests: a new one each run, so runs explore, and the ones that once
// failed kept in a file beside the spec and run every time, so a found bug stays found.
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';

/** The variable that replays a run: the seed a failing run printed. */
export const FUZZ_SEED_ENV = 'SPLITVISOR_FUZZ_SEED';

export interface FuzzSeed {
  readonly seed: number;
  /** Where it came from, for the line the spec prints. */
  readonly from: string;
}

/** A 32-bit seed (fast-check takes an integer): `SPLITVISOR_FUZZ_SEED` when set, else random. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): FuzzSeed {
  const given = env[FUZZ_SEED_ENV];
  if (given === undefined || given === '') return { seed: randomInt(0, 2 ** 31), from: 'random' };
  return { seed: parseSeed(given, FUZZ_SEED_ENV), from: FUZZ_SEED_ENV };
}

/**
 * The seeds listed in `file`: one a line, decimal or 0x hex, then an optional `# why`;
 * blank lines and whole-line comments are ignored. A line that is not a seed throws,
 * naming the file and the line, rather than being dropped in silence.
 */
export function regressionSeeds(file: URL): number[] {
  const seeds: number[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const text = raw.replace(/#.*/, '').trim();
      if (text !== '') seeds.push(parseSeed(text, `${file.pathname}:${i + 1}`));
    });
  return seeds;
}

function parseSeed(text: string, where: string): number {
  const n = /^(0x[0-9a-f]+|-?\d+)$/i.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < -(2 ** 31) || n >= 2 ** 32) {
    throw new Error(`${where}: ${JSON.stringify(text)} is not a 32-bit seed (decimal or 0x hex)`);
  }
  return n | 0;
}
