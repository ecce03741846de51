// The fault-injection checkers (guests/diskcheck, guests/intcount, guests/memsum), run once
// each WITHOUT a fault: a guest that says what it saw must say "nothing lost" when nothing
// was done to it, in exactly the lines a fault runner parses. Each console is compared
// whole with what the guest documents, its seed and milliseconds blanked, and with QEMU's
// console of the same image and bootargs (the reference, blanked the same way).
//
// Then each checker is shown to be able to fail on Splitvisor: diskcheck on a read-only
// disk (the first write comes back with status 1), memsum with one word of its region
// changed by a DMA write through mmu while it reads. intcount's lost-interrupt path needs
// an interrupt that does not come (a fault); guests/intcount/intcount.S says what it prints.
//
// Sizes and times (emulate mode, quiet 2-core box; x2-3 at load 7-9): diskcheck's default
// 1000 blocks, as examples/diskcheck.yaml runs it, ~25 s of guest time (10 ms a write and its
// flush, ~2 s to read them back), run twice on the same disk; intcount's default 10000 rounds
// take ~120 s (12 ms a round), so it runs 1000 here (intcount.rounds= in bootargs); memsum's
// default 200 passes ~3.5 s. On QEMU each takes under 2 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { existsSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { protos, type MmuV1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { REPO_ROOT, startTestLab, type TestLab } from '@splitvisor/testing';
import { configDir, labEnv, runCli, spawnCli } from './cli-runner.js';
import { ConsoleProcess } from './console-process.js';
import { elfOf, requireQemu, runQemu } from './qemu-runner.js';

const RUN_MS = 300_000; // the lab interprets every instruction; a loaded 2-core box is slow
const QEMU_MS = 30_000;
const MODERN = ['-global', 'virtio-mmio.force-legacy=false'];
const DISK_BYTES = 4 * 1024 * 1024;
const INTCOUNT_ROUNDS = 1000;

let t: TestLab;
let env: Record<string, string>;
const { dir, vmFile } = configDir('sv-checkers-');

beforeAll(async () => {
  t = await startTestLab();
  env = labEnv(t);
}, 60_000);
afterAll(async () => {
  await t?.teardown();
});

const CRLF = '\r\n';
const lines = (...ls: string[]): string => ls.map((l) => l + CRLF).join('');
/** k, 2k, ... up to n. */
const every = (k: number, n: number): number[] => Array.from({ length: Math.floor(n / k) }, (_, i) => (i + 1) * k);

/** What varies from run to run (the seed, the milliseconds), blanked. */
const blank = (console: string): string =>
  console.replace(/seed \d+\r\n/g, 'seed <seed>\r\n').replace(/(longest request|longest wait) \d+ ms\r\n/g, '$1 <ms> ms\r\n');

/** The seed a run printed. */
function seedOf(console: string): number {
  const m = /, seed (\d+)\r\n/.exec(console);
  expect(m, `a seed line in ${JSON.stringify(console.slice(0, 300))}`).not.toBeNull();
  return Number(m![1]);
}

/** guests/diskcheck's console with nothing lost: n blocks on a disk of `sectors`. */
const diskcheckConsole = (n: number, sectors: number): string =>
  lines(
    `diskcheck: virtio-blk at 0x10008000, ${sectors} sectors`,
    `diskcheck: writing ${n} blocks of 4096 bytes, seed <seed>`,
    ...every(100, n).map((k) => `diskcheck: acked ${k}`),
    `diskcheck: verified ${n} of ${n} acknowledged writes, 0 lost`,
    'diskcheck: longest request <ms> ms',
    'diskcheck: pass',
  );

/** guests/intcount's console with no interrupt lost: r rounds on the rng in slot 7. */
const intcountConsole = (r: number): string =>
  lines(
    `intcount: virtio-rng at 0x10008000, PLIC source 8, ${r} requests`,
    ...every(1000, r).map((k) => `intcount: ${k} interrupts`),
    `intcount: ${r} requests, ${r} interrupts, 0 lost, 0 spurious, longest wait <ms> ms`,
    'intcount: pass',
  );

/** guests/memsum's console with nothing corrupt: p passes. */
const memsumConsole = (p: number): string =>
  lines(
    `memsum: 1 MiB at 0x80200000, ${p} passes, seed <seed>`,
    ...every(10, p).map((k) => `memsum: pass ${k}, 0 wrong words`),
    `memsum: ${p} passes, 0 corrupt, 0 wrong words`,
    'memsum: pass',
  );

/** The same image on QEMU virt (M-mode, no firmware): its console must be `expected` once
 *  blanked, and it must power off with pass. */
async function expectQemu(guest: string, expected: string, args: readonly string[]): Promise<void> {
  const q = await runQemu(elfOf(guest), '', QEMU_MS, args);
  const context = `qemu-system-riscv64 -kernel ${elfOf(guest)} ${args.join(' ')}; stderr ${JSON.stringify(q.stderr)}`;
  expect(q.timedOut, `${context}: still running after ${QEMU_MS} ms`).toBe(false);
  expect(blank(q.console), context).toBe(expected);
  expect(q.exitCode, context).toBe(0);
}

/** A fresh raw disk of `bytes` in this spec's temp directory. */
function scratchDisk(name: string, bytes = DISK_BYTES): string {
  const p = join(dir, name);
  writeFileSync(p, '');
  truncateSync(p, bytes);
  return p;
}

describe('guests/diskcheck: 1000 blocks written, flushed and read back on virtio-blk', () => {
  const exampleDisk = join(REPO_ROOT, '.cache/examples/diskcheck-disk.img');
  const expected = diskcheckConsole(1000, DISK_BYTES / 512);

  it(
    'examples/diskcheck.yaml as its comment says (the disk made with truncate -s 4M), twice on the same disk: every write acknowledged and read back, each run with its own seed',
    async () => {
      if (!existsSync(exampleDisk)) {
        mkdirSync(join(REPO_ROOT, '.cache/examples'), { recursive: true });
        writeFileSync(exampleDisk, '');
        truncateSync(exampleDisk, DISK_BYTES);
      }
      const seeds: number[] = [];
      for (const run of ['first', 'second']) {
        const r = await runCli(['run', 'examples/diskcheck.yaml'], { env, timeoutMs: RUN_MS });
        expect(blank(r.stdout), `${run} run, stderr: ${r.stderr}`).toBe(expected);
        expect(r.code, `${run} run`).toBe(0);
        seeds.push(seedOf(r.stdout));
        console.log(`diskcheck ${run} run: ${r.ms} ms, ${/longest request \d+ ms/.exec(r.stdout)?.[0]}`);
      }
      // The second run read back its own pattern over the first run's blocks.
      expect(seeds[1], 'the second run has a seed of its own').not.toBe(seeds[0]);
    },
    2 * RUN_MS + 10_000,
  );

  it('on QEMU: the same lines', async ({ skip }) => {
    requireQemu(skip);
    const disk = scratchDisk('qemu-disk.img');
    await expectQemu('diskcheck', expected, [...MODERN, '-drive', `file=${disk},if=none,format=raw,id=d0`, '-device', 'virtio-blk-device,drive=d0']);
  });

  it(
    'a read-only disk: the first write comes back with status 1 (VIRTIO_BLK_S_IOERR), nothing is acknowledged, FAIL and exit 1',
    async () => {
      const disk = scratchDisk('readonly.img');
      const f = vmFile(
        'diskcheck-ro',
        `name: diskcheck-ro\nmemory: 64M\nimage: ${join(REPO_ROOT, elfOf('diskcheck'))}\ndisks:\n  - path: ${disk}\n    readonly: true\n`,
      );
      const r = await runCli(['run', f], { env, timeoutMs: RUN_MS });
      expect(blank(r.stdout), r.stderr).toBe(
        lines(
          'diskcheck: virtio-blk at 0x10008000, 8192 sectors',
          'diskcheck: writing 1000 blocks of 4096 bytes, seed <seed>',
          'diskcheck: block 0 status 1',
          'diskcheck: verified 0 of 0 acknowledged writes, 0 lost',
          'diskcheck: longest request <ms> ms',
          'diskcheck: FAIL',
        ),
      );
      expect(r.code).toBe(1);
    },
    RUN_MS + 10_000,
  );
});

describe(`guests/intcount: virtio-rng requests each completed by a PLIC interrupt (${INTCOUNT_ROUNDS} rounds)`, () => {
  const expected = intcountConsole(INTCOUNT_ROUNDS);
  const bootargs = `intcount.rounds=${INTCOUNT_ROUNDS}`;

  it(
    'every round woken by its interrupt: none lost, none spurious, pass and exit 0',
    async () => {
      const f = vmFile('intcount', `name: intcount\nmemory: 64M\nimage: ${join(REPO_ROOT, elfOf('intcount'))}\nrng: true\nbootargs: ${bootargs}\n`);
      const r = await runCli(['run', f], { env, timeoutMs: RUN_MS });
      expect(blank(r.stdout), r.stderr).toBe(expected);
      expect(r.code).toBe(0);
      console.log(`intcount ${INTCOUNT_ROUNDS} rounds: ${r.ms} ms, ${/longest wait \d+ ms/.exec(r.stdout)?.[0]}`);
    },
    RUN_MS + 10_000,
  );

  it('on QEMU: the same lines', async ({ skip }) => {
    requireQemu(skip);
    await expectQemu('intcount', expected, [...MODERN, '-device', 'virtio-rng-device', '-append', bootargs]);
  });
});

describe('guests/memsum: 1 MiB of RAM checksummed pass after pass', () => {
  const expected = memsumConsole(200);

  it(
    'examples/memsum.yaml: 200 passes, none corrupt, no wrong word, pass and exit 0',
    async () => {
      const r = await runCli(['run', 'examples/memsum.yaml'], { env, timeoutMs: RUN_MS });
      expect(blank(r.stdout), r.stderr).toBe(expected);
      expect(r.code).toBe(0);
      console.log(`memsum 200 passes: ${r.ms} ms`);
    },
    RUN_MS + 10_000,
  );

  it('on QEMU: the same lines', async ({ skip }) => {
    requireQemu(skip);
    await expectQemu('memsum', expected, []);
  });

  it(
    'one word changed behind its back (a DMA write through mmu after pass 10): corrupt passes and wrong words counted, FAIL and exit 1',
    async () => {
      const name = 'memsum-dma';
      const passes = 400;
      const f = vmFile(name, `name: ${name}\nmemory: 64M\nimage: ${join(REPO_ROOT, elfOf('memsum'))}\nbootargs: memsum.passes=${passes}\n`);
      const m = new ConsoleProcess(spawnCli(['run', f], { env }));
      const mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, t.addresses.mmu);
      try {
        await m.waitFor(/memsum: pass 10, 0 wrong words\r\n/, RUN_MS);
        const md = new grpc.Metadata();
        md.set('x-splitvisor-caller', 'checker-test');
        await mmu.call('AttachDevice', { vmId: name, backend: 'checker-test' });
        // A word in the middle of the region (page 128), all its bits flipped.
        const addr = 0x80200000 + 0x80000 + 8;
        const [word] = (await mmu.call('DmaRead', { vmId: name, segments: [{ addr, length: 8 }] }, { metadata: md })).data;
        const flipped = Buffer.from(word!).map((b) => b ^ 0xff);
        await mmu.call('DmaWrite', { vmId: name, segments: [{ addr, data: flipped }] }, { metadata: md });
        const code = await m.exited;
        const summary = new RegExp(`memsum: ${passes} passes, (\\d+) corrupt, (\\d+) wrong words\\r\\nmemsum: FAIL\\r\\n$`).exec(m.out);
        expect(summary, m.out.slice(-600)).not.toBeNull();
        const [corrupt, wrong] = [Number(summary![1]), Number(summary![2])];
        // The word stays wrong from the pass that first reads it to the last: each such pass
        // is corrupt and counts it once.
        expect(corrupt).toBeGreaterThan(0);
        expect(wrong).toBe(corrupt);
        expect(code).toBe(1);
      } finally {
        mmu.close();
        m.kill();
      }
    },
    RUN_MS + 10_000,
  );
});
