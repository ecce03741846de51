// Every target, every run: a bounded number of mutated inputs from the committed seed
// corpus (no time limit but the per-input one), and every input in fuzz/regressions/ and
// fuzz/crashes/ replayed. The engine runs from dist (its worker thread is plain JS).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Fuzzer, Heartbeat } from './engine/fuzzer.js';
import type { FuzzTarget } from './engine/target.js';
import { TARGETS } from './targets/index.js';

type Supervisor = typeof import('./engine/supervisor.js');
const { fuzzTarget, replayTarget } = (await import(new URL('../dist/engine/supervisor.js', import.meta.url).href)) as Supervisor;

const FUZZ = fileURLToPath(new URL('../', import.meta.url));
const RUNS = 400;
const TIMEOUT_MS = 5000;

const filesIn = (dir: string) => {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
};

describe('fuzz targets', () => {
  it('cover the parsers the brief names, each with a seed corpus', () => {
    expect(Object.keys(TARGETS).sort()).toEqual([
      'arp',
      'dhcp',
      'elf',
      'ethernet',
      'fdt',
      'icmp',
      'ipv4',
      'tftp',
      'udp',
      'virtio-mmio',
      'virtqueue',
      'vm-config',
    ]);
    for (const name of Object.keys(TARGETS)) expect(filesIn(join(FUZZ, 'corpus', name)).length, `fuzz/corpus/${name}`).toBeGreaterThan(0);
  });

  for (const name of Object.keys(TARGETS)) {
    it(`${name}: ${RUNS} mutated inputs from the seed corpus, no crash, coverage beyond the seeds' first block`, async () => {
      const stats = await fuzzTarget(
        name,
        {
          runs: RUNS,
          seconds: 600,
          seed: 0x5eed,
          corpusDirs: [join(FUZZ, 'corpus', name)],
          corpusOut: undefined,
          crashDir: join(FUZZ, 'crashes', name),
          batch: 32,
        },
        { timeoutMs: TIMEOUT_MS },
      );
      expect(stats.crashes.map((c) => `${c.file}\n${c.error}`)).toEqual([]);
      expect(stats.execs).toBe(RUNS);
      expect(stats.corpus).toBeGreaterThan(0);
      expect(stats.blocks).toBeGreaterThan(1);
    }, 120_000);

    const dirs = [join(FUZZ, 'regressions', name), join(FUZZ, 'crashes', name)];
    const files = dirs.flatMap((d) => filesIn(d));
    if (files.length > 0) {
      it(`${name}: replays ${files.length} input(s) from fuzz/regressions and fuzz/crashes without a crash`, async () => {
        const stats = await replayTarget(name, dirs, { timeoutMs: TIMEOUT_MS });
        expect(stats.execs).toBe(files.length);
        expect(stats.crashes.map((c) => `${c.file}\n${c.error}`)).toEqual([]);
      }, 60_000);
    }
  }
});

describe('the engine', () => {
  it('finds an input that throws an unexpected error, writes it, and lets the expected error pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-engine-'));
    mkdirSync(join(dir, 'seeds'));
    writeFileSync(join(dir, 'seeds', 'a'), Uint8Array.of(0x41, 0x41));
    class BadInput extends Error {}
    const target: FuzzTarget = {
      name: 'toy',
      about: 'throws BadInput on a leading 0, a TypeError on a 0x42 anywhere',
      expected: (e) => e instanceof BadInput,
      run(data) {
        if (data[0] === 0) throw new BadInput('leading zero');
        if (data.includes(0x42)) throw new TypeError('the bug');
      },
    };
    const fuzzer = new Fuzzer(target, Heartbeat.create(4096));
    const stats = await fuzzer.run({
      runs: 20_000,
      seconds: 60,
      seed: 7,
      corpusDirs: [join(dir, 'seeds')],
      corpusOut: undefined,
      crashDir: join(dir, 'crashes'),
      batch: 16,
    });
    expect(stats.crashes).toHaveLength(1);
    expect(stats.crashes[0]!.error).toMatch(/^TypeError: the bug/);
    expect(readFileSync(stats.crashes[0]!.file).includes(0x42)).toBe(true);
  });
});
