// npm run fuzz -- <target|all> [--seconds N] [--runs N] [--timeout MS] [--seed N] [--list]
// Fuzzes each target in turn and prints, per target: executions, exec/s, corpus, blocks
// covered, crashes. New corpus entries go to fuzz/.corpus/<target>/ (not committed), crashing
// inputs to fuzz/crashes/<target>/<sha1>. Exits 1 when anything crashed.
import { randomInt } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { TARGETS } from './targets/index.js';
import { fuzzTarget } from './engine/supervisor.js';
import type { FuzzStats } from './engine/fuzzer.js';

export const FUZZ_DIR = fileURLToPath(new URL('../', import.meta.url));

function usage(msg?: string): never {
  if (msg) console.error(`fuzz: ${msg}`);
  console.error(`usage: npm run fuzz -- <target|all> [--seconds N] [--runs N] [--timeout MS] [--seed N]\ntargets: ${Object.keys(TARGETS).join(', ')}`);
  process.exit(2);
}

function parseArgs(argv: string[]) {
  const opts = { targets: [] as string[], seconds: 10, runs: Number.MAX_SAFE_INTEGER, timeoutMs: 2000, seed: randomInt(1, 2 ** 31), list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (name: string) => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) usage(`${name} needs a positive number, got ${JSON.stringify(argv[i])}`);
      return v;
    };
    if (a === '--seconds') opts.seconds = num(a);
    else if (a === '--runs') opts.runs = Math.floor(num(a));
    else if (a === '--timeout') opts.timeoutMs = num(a);
    else if (a === '--seed') opts.seed = Math.floor(num(a));
    else if (a === '--list') opts.list = true;
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (a === 'all') opts.targets.push(...Object.keys(TARGETS));
    else if (TARGETS[a]) opts.targets.push(a);
    else usage(`no target "${a}"`);
  }
  return opts;
}

export function row(s: FuzzStats): string {
  const rate = s.seconds > 0 ? Math.round(s.execs / s.seconds) : 0;
  return [
    s.target.padEnd(12),
    String(s.execs).padStart(10),
    String(rate).padStart(8),
    String(s.corpus).padStart(7),
    String(s.blocks).padStart(7),
    String(s.crashes.length).padStart(8),
  ].join(' ');
}
export const HEADER = ['target'.padEnd(12), 'execs'.padStart(10), 'exec/s'.padStart(8), 'corpus'.padStart(7), 'blocks'.padStart(7), 'crashes'.padStart(8)].join(
  ' ',
);

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.list) {
    for (const t of Object.values(TARGETS)) console.log(`${t.name.padEnd(12)} ${t.about}`);
    return;
  }
  if (opts.targets.length === 0) usage('name a target, or all');
  console.log(
    `fuzz: seed ${opts.seed}, ${opts.seconds} s per target, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const results: FuzzStats[] = [];
  for (const name of opts.targets) {
    const stats = await fuzzTarget(
      name,
      {
        runs: opts.runs,
        seconds: opts.seconds,
        seed: opts.seed,
        corpusDirs: [join(FUZZ_DIR, 'corpus', name), join(FUZZ_DIR, '.corpus', name)],
        corpusOut: join(FUZZ_DIR, '.corpus', name),
        crashDir: join(FUZZ_DIR, 'crashes', name),
        batch: 64,
      },
      {
        timeoutMs: opts.timeoutMs,
        onProgress: (s) => console.log(`  ${name}: ${s.execs} execs, corpus ${s.corpus}, ${s.blocks} blocks, ${s.crashes.length} crashes`),
      },
    );
    results.push(stats);
    for (const c of stats.crashes) console.log(`CRASH ${name}: ${c.file}\n${c.error}\n`);
  }
  console.log(`\n${HEADER}\n${results.map(row).join('\n')}`);
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  if (results.some((r) => r.crashes.length > 0)) process.exitCode = 1;
}

await main();
