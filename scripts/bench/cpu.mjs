// The hart engine's speed on a compute-bound guest of our own (guests/bench: integer work,
// memory traffic, branches, calls; C at -O2 for rv64gc), through `splitvisor exec` and
// through QEMU, in one run. Both must print the same checksum (the same work); QEMU does
// not count instructions, so its MIPS is our retired-instruction count over its time.
// Medians of BENCH_RUNS runs; the load average is printed because this machine is shared.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/lab';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const elf = join(REPO_ROOT, 'guests/bench/bench.elf');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(cmd, args) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000 });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { s, stdout: r.stdout, stderr: r.stderr };
}

const ours = [];
let instret = 0;
let checksum = '';
for (let i = 0; i < RUNS; i++) {
  const r = timed(process.execPath, [join(REPO_ROOT, 'services/dom0/bin/splitvisor.js'), 'exec', elf, '--stats']);
  const m = /(\d+) instructions retired in ([\d.]+) s/.exec(r.stderr);
  if (!m) throw new Error(`no --stats line from splitvisor exec: ${r.stderr}`);
  instret = Number(m[1]);
  checksum = r.stdout.trim();
  ours.push({ wall: r.s, run: Number(m[2]) });
}
const qemu = [];
let qemuChecksum = '';
const hasQemu = spawnSync('sh', ['-c', 'command -v qemu-system-riscv64']).status === 0;
if (hasQemu) {
  for (let i = 0; i < RUNS; i++) {
    const r = timed('qemu-system-riscv64', ['-M', 'virt', '-bios', 'none', '-nographic', '-kernel', elf]);
    qemuChecksum = r.stdout.trim();
    qemu.push(r.s);
  }
}
if (hasQemu && qemuChecksum !== checksum) throw new Error(`different work: Splitvisor printed "${checksum}", QEMU "${qemuChecksum}"`);

const oursMips = instret / median(ours.map((o) => o.run)) / 1e6;
const oursWallMips = instret / median(ours.map((o) => o.wall)) / 1e6;
console.log(`guest: guests/bench (${(instret / 1e6).toFixed(1)} M instructions, ${checksum}); median of ${RUNS} runs; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`${'engine'.padEnd(40)} ${'seconds'.padStart(8)} ${'MIPS'.padStart(8)}`);
console.log(`${'Splitvisor (splitvisor exec), hart only'.padEnd(40)} ${median(ours.map((o) => o.run)).toFixed(2).padStart(8)} ${oursMips.toFixed(1).padStart(8)}`);
console.log(`${'Splitvisor, whole process (start-up too)'.padEnd(40)} ${median(ours.map((o) => o.wall)).toFixed(2).padStart(8)} ${oursWallMips.toFixed(1).padStart(8)}`);
if (hasQemu) {
  const qMips = instret / median(qemu) / 1e6;
  console.log(`${'QEMU 7.2 TCG, whole process'.padEnd(40)} ${median(qemu).toFixed(2).padStart(8)} ${qMips.toFixed(1).padStart(8)}`);
  console.log(`QEMU / Splitvisor (whole process): x${(qMips / oursWallMips).toFixed(1)}`);
} else {
  console.log('QEMU: qemu-system-riscv64 not installed (Debian: qemu-system-misc); no reference this run');
}
