// The hart engines on a compute-bound guest of our own (guests/bench: integer work,
// memory traffic, branches, calls; C at -O2 for rv64gc), through `splitvisor exec` with
// each engine (the interpreter, and the translator emitting WebAssembly, its default, and
// JavaScript) and through QEMU, in one run. All must
// print the same checksum (the same work); QEMU does not count instructions, so its MIPS
// is our retired-instruction count over its time; bench-long does four times the work.
// Then Debian's OpenSBI + U-Boot to the
// autoboot countdown (icount, a fixed instruction count) on each: instructions per
// second, and the translator's code cache at the end. Medians of BENCH_RUNS runs; the load
// average is printed because this machine is shared.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/lab';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** The ways `splitvisor exec` runs guest code, by the name printed. */
const WAYS = {
  interp: ['--engine', 'interp'],
  'translate (wasm)': ['--engine', 'translate', '--codegen', 'wasm'],
  'translate (js)': ['--engine', 'translate', '--codegen', 'js'],
};
const ENGINES = Object.keys(WAYS);
const TRANSLATE = 'translate (wasm)';
const exec = join(REPO_ROOT, 'apps/exec/bin/exec.js');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

function timed(cmd, args, okStatus = [0]) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000 });
  const s = (performance.now() - t0) / 1000;
  if (!okStatus.includes(r.status)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { s, stdout: r.stdout, stderr: r.stderr };
}

/** `exec --stats` figures: instructions, hart seconds, and the code cache line if any. */
function stats(stderr) {
  const m = /(\d+) instructions retired in ([\d.]+) s/.exec(stderr);
  if (!m) throw new Error(`no --stats line from splitvisor exec: ${stderr}`);
  const c =
    /code cache: (\d+) blocks compiled \(\d+ to WebAssembly\) in ([\d.]+) s \(([\d.]+)% of the run\), (\d+) live \((\d+) instructions, (\d+) KiB of code\), (\d+) evictions/.exec(
      stderr,
    );
  return {
    instret: Number(m[1]),
    run: Number(m[2]),
    cache: c && {
      compiled: Number(c[1]),
      compileS: Number(c[2]),
      share: Number(c[3]),
      live: Number(c[4]),
      liveInsns: Number(c[5]),
      kib: Number(c[6]),
      evictions: Number(c[7]),
    },
  };
}

/** guests/bench (or bench-long) on each engine and on QEMU: the same checksum, MIPS. */
function benchGuest(file) {
  const elf = join(REPO_ROOT, 'guests/bench', file);
  const rows = {};
  let instret = 0;
  let checksum = '';
  for (const engine of ENGINES) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const r = timed(process.execPath, [exec, elf, '--stats', ...WAYS[engine]]);
      const st = stats(r.stderr);
      if (checksum !== '' && r.stdout.trim() !== checksum) throw new Error(`${engine} printed "${r.stdout.trim()}", not "${checksum}"`);
      checksum = r.stdout.trim();
      instret = st.instret;
      runs.push({ wall: r.s, ...st });
    }
    rows[engine] = runs;
  }
  const qemu = [];
  if (hasQemu) {
    for (let i = 0; i < RUNS; i++) {
      const r = timed('qemu-system-riscv64', ['-M', 'virt', '-bios', 'none', '-nographic', '-kernel', elf]);
      if (r.stdout.trim() !== checksum) throw new Error(`different work: Splitvisor printed "${checksum}", QEMU "${r.stdout.trim()}"`);
      qemu.push(r.s);
    }
  }
  console.log(`guest: guests/bench/${file} (${(instret / 1e6).toFixed(1)} M instructions, ${checksum}); median of ${RUNS} runs; load average ${load()}`);
  console.log(`${'engine'.padEnd(44)} ${'seconds'.padStart(8)} ${'MIPS'.padStart(8)}`);
  const mips = {};
  for (const engine of ENGINES) {
    const run = median(rows[engine].map((o) => o.run));
    const wall = median(rows[engine].map((o) => o.wall));
    mips[engine] = { run: instret / run / 1e6, wall: instret / wall / 1e6 };
    col(`Splitvisor ${engine}, hart only`, run, mips[engine].run);
    col(`Splitvisor ${engine}, whole process`, wall, mips[engine].wall);
  }
  if (hasQemu) {
    const qMips = instret / median(qemu) / 1e6;
    col('QEMU 7.2 TCG, whole process', median(qemu), qMips);
    console.log(`QEMU / Splitvisor (whole process): ${ENGINES.map((e) => `${e} x${(qMips / mips[e].wall).toFixed(1)}`).join(', ')}`);
  } else {
    console.log('QEMU: qemu-system-riscv64 not installed (Debian: qemu-system-misc); no reference this run');
  }
  console.log(
    `translate / interp (hart only): wasm x${(mips[TRANSLATE].run / mips.interp.run).toFixed(2)}, js x${(mips['translate (js)'].run / mips.interp.run).toFixed(2)}`,
  );
  for (const way of [TRANSLATE, 'translate (js)']) {
    const cache = rows[way].map((r) => r.cache);
    console.log(
      `code cache, ${way}: ${median(cache.map((c) => c.compiled))} blocks compiled, ${median(cache.map((c) => c.liveInsns))} guest instructions, ` +
        `${median(cache.map((c) => c.kib))} KiB of code; translation ${median(cache.map((c) => c.share)).toFixed(1)}% of the run`,
    );
  }
}

const hasQemu = spawnSync('sh', ['-c', 'command -v qemu-system-riscv64']).status === 0;
const col = (label, s, mips) => console.log(`${label.padEnd(44)} ${s.toFixed(2).padStart(8)} ${mips.toFixed(1).padStart(8)}`);
benchGuest('bench.elf');
// The same work four times over: V8 optimizes the translator's blocks while they run, so
// a short run is part warm-up; this one is nearer the engines' steady state.
console.log('');
benchGuest('bench-long.elf');

// ---- Debian's OpenSBI + U-Boot, to the autoboot countdown ----
const FW_JUMP = join(REPO_ROOT, '.cache/firmware/opensbi/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf');
const UBOOT = join(REPO_ROOT, '.cache/firmware/u-boot-qemu/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin');
const UBOOT_INSNS = 80_000_000;
if (!existsSync(FW_JUMP) || !existsSync(UBOOT) || !hasQemu) {
  console.log('U-Boot: firmware or QEMU (for the device tree) missing: bash scripts/fetch-firmware.sh, Debian qemu-system-misc');
} else {
  const dtb = join(mkdtempSync(join(tmpdir(), 'sv-bench-cpu-')), 'virt.dtb');
  spawnSync('qemu-system-riscv64', ['-M', `virt,dumpdtb=${dtb}`, '-m', '128M', '-smp', '1', '-bios', 'none', '-nographic']);
  console.log(
    `\nOpenSBI + U-Boot to the autoboot countdown (${UBOOT_INSNS / 1e6} M instructions, --clock icount); median of ${RUNS} runs; load average ${load()}`,
  );
  const outs = {};
  for (const engine of ENGINES) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const r = timed(
        process.execPath,
        [exec, FW_JUMP, '--load', `${UBOOT}@0x80200000`, '--dtb', dtb, '--clock', 'icount', '--max-insns', String(UBOOT_INSNS), '--stats', ...WAYS[engine]],
        [124],
      );
      if (!r.stdout.includes('Hit any key to stop autoboot')) throw new Error(`${engine}: U-Boot did not reach its countdown:\n${r.stdout}`);
      outs[engine] = r.stdout;
      runs.push(stats(r.stderr));
    }
    const run = median(runs.map((o) => o.run));
    let line = `  ${engine.padEnd(17)} ${(median(runs.map((o) => o.instret)) / run / 1e6).toFixed(1).padStart(6)} M instructions/s (hart ${run.toFixed(2)} s)`;
    if (engine !== 'interp') {
      const c = runs.map((o) => o.cache);
      line +=
        `; code cache at the end: ${median(c.map((x) => x.live))} live blocks (${median(c.map((x) => x.liveInsns))} instructions, ${median(c.map((x) => x.kib))} KiB of code), ` +
        `${median(c.map((x) => x.compiled))} compiled, ${median(c.map((x) => x.evictions))} evictions (bound --max-blocks, default 16384); translation ${median(c.map((x) => x.share)).toFixed(1)}% of the run`;
    }
    console.log(line);
  }
  console.log(`  console output of the three: ${ENGINES.every((e) => outs[e] === outs.interp) ? 'identical' : 'DIFFERENT'}`);
}
