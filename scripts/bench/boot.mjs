// Debian's OpenSBI + U-Boot to the `=>` prompt, on Splitvisor and on QEMU, RUNS times each
// (--runs=N, default 3), a QEMU boot and a Splitvisor boot (a fresh lab each) in turn so
// both see the same moments of this shared machine's load. Both get the same images
// (scripts/fetch-firmware.sh) and the same 256 MiB; a key is sent when U-Boot offers to
// stop autoboot, as a person at the console would. Prints each run's time to the prompt,
// its ratio and the load average; the medians of the times to the OpenSBI banner, the U-Boot
// banner and the prompt; the target (Splitvisor within x10 of QEMU to the prompt, by the median of the
// runs' ratios) as PASS or FAIL, computed here, and exits 1 on FAIL; and Splitvisor's exit
// table (count and total time per reason, as `perf kvm stat`) for its median run.
// Each run also boots the same U-Boot in mode: hw (examples/uboot-hw.yaml: no OpenSBI, the
// cpu's monitor plays HS-mode), and the exit tables of both modes are printed side by side.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/lab';
import { withBenchLab } from './bench-lab.mjs';
import { fetchFirmware } from './uboot-images.mjs';
import { loadAverage, median, printBootRuns, printExitTable, runsFlag } from './stats.mjs';
import { ConsoleInputCodec, ConsoleOutputCodec } from '@splitvisor/proto';
import { streams, subjects } from '@splitvisor/bus';

const TIMEOUT_S = Number(process.env.BENCH_BOOT_TIMEOUT_S ?? 600);
/** The target: Splitvisor reaches U-Boot's prompt within this many times QEMU's time. */
const TARGET_RATIO = 10;

const RUNS = runsFlag(process.argv.slice(2), 3, 'boot');
let fw;
try {
  fw = fetchFirmware();
} catch (e) {
  console.error(`boot bench: ${e.message}`);
  process.exit(1);
}
const { fwJump, uboot } = fw;
for (const f of [fwJump, uboot]) if (!existsSync(f)) throw new Error(`missing ${f}`);

/** Feeds console text to `watch`, which marks times; resolves when the prompt shows. */
function milestones() {
  const t0 = performance.now();
  const seen = {};
  let text = '';
  return {
    seen,
    feed(chunk, sendKey) {
      text += chunk;
      const mark = (k, re) => {
        if (seen[k] === undefined && re.test(text)) seen[k] = (performance.now() - t0) / 1000;
      };
      mark('opensbi', /OpenSBI v/);
      mark('uboot', /U-Boot 20\d\d/);
      if (seen.key === undefined && /Hit any key to stop autoboot/.test(text)) {
        seen.key = (performance.now() - t0) / 1000;
        sendKey();
      }
      mark('prompt', /=> $/);
      return seen.prompt !== undefined;
    },
  };
}

async function qemu() {
  const m = milestones();
  const child = spawn('qemu-system-riscv64', ['-M', 'virt', '-m', '256M', '-nographic', '-bios', fwJump, '-kernel', uboot], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('QEMU did not reach the prompt')), TIMEOUT_S * 1000);
    child.stdout.on('data', (b) => {
      if (m.feed(b.toString('latin1'), () => child.stdin.write(' '))) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGKILL');
  return m.seen;
}

/** Boots examples/<example>.yaml (a VM named `vm`) to the prompt in a fresh lab. */
function splitvisor(example = 'uboot', vm = 'uboot') {
  return withBenchLab(async ({ dom0, cpu, bus }) => {
    const configYaml = readFileSync(join(REPO_ROOT, `examples/${example}.yaml`), 'utf8');
    await dom0.call('CreateVm', { configYaml, baseDir: join(REPO_ROOT, 'examples'), source: `examples/${example}.yaml` });
    const m = milestones();
    const done = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Splitvisor did not reach the prompt in ${TIMEOUT_S} s; console so far in the CONSOLE stream`)),
        TIMEOUT_S * 1000,
      );
      void bus.replay(streams.console, subjects.consoleOut(vm), ConsoleOutputCodec, (msg) => {
        const key = () => bus.publish(subjects.consoleIn(vm), ConsoleInputCodec, { vmId: vm, data: Buffer.from(' ') });
        if (m.feed(Buffer.from(msg.data).toString('latin1'), key)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await dom0.call('StartVm', { name: vm });
    await done;
    const stats = await cpu.call('GetVmStats', { vmId: vm });
    await dom0.call('DestroyVm', { name: vm });
    return { seen: m.seen, stats };
  });
}

const MILESTONES = [
  ['opensbi', 'OpenSBI banner'],
  ['uboot', 'U-Boot banner'],
  ['prompt', '=> prompt'],
];

const runs = [];
for (let i = 0; i < RUNS; i++) {
  const q = await qemu();
  const s = await splitvisor();
  const hw = await splitvisor('uboot-hw', 'uboot-hw');
  runs.push({ q, s, hw, ratio: s.seen.prompt / q.prompt, load: loadAverage() });
}

printBootRuns(runs, MILESTONES, 'prompt', 'the prompt');
const ratio = median(runs.map((r) => r.ratio));
const pass = ratio <= TARGET_RATIO;
console.log(
  `\ntarget: Splitvisor within x${TARGET_RATIO} of QEMU to the U-Boot prompt, by the median of the runs' ratios: ` +
    `x${ratio.toFixed(1)}: ${pass ? 'PASS' : 'FAIL'} (load average ${loadAverage()}; this machine is shared, so is the noise)`,
);

// The exit table of the run whose Splitvisor time was the median one.
const byTime = [...runs].sort((a, b) => a.s.seen.prompt - b.s.seen.prompt);
const s = byTime[(byTime.length - 1) >> 1].s;
console.log(`\nSplitvisor exits for its median boot (${s.stats.instret} instructions, ${s.stats.runSeconds.toFixed(2)} s of vCPU time):`);
printExitTable(s.stats);

// mode: hw beside it: the same U-Boot with no OpenSBI, the cpu's monitor in HS-mode.
const f = (v) => `${v.toFixed(2)} s`;
console.log(`\nmode: hw (examples/uboot-hw.yaml, no firmware in the guest): time to the prompt and its ratio to QEMU`);
console.log(`${'run'.padEnd(6)} ${'hw'.padStart(10)} ${'emulate'.padStart(10)} ${'QEMU'.padStart(10)} ${'hw/QEMU'.padStart(9)}`);
runs.forEach((r, i) =>
  console.log(
    `${String(i + 1).padEnd(6)} ${f(r.hw.seen.prompt).padStart(10)} ${f(r.s.seen.prompt).padStart(10)} ${f(r.q.prompt).padStart(10)} ${`x${(r.hw.seen.prompt / r.q.prompt).toFixed(1)}`.padStart(9)}`,
  ),
);
const hwMedian = median(runs.map((r) => r.hw.seen.prompt));
console.log(
  `median  hw ${f(hwMedian)}, emulate ${f(median(runs.map((r) => r.s.seen.prompt)))}, QEMU ${f(median(runs.map((r) => r.q.prompt)))}; hw/QEMU x${median(runs.map((r) => r.hw.seen.prompt / r.q.prompt)).toFixed(1)} (median of the runs' ratios)`,
);
const hwRun = [...runs].sort((a, b) => a.hw.seen.prompt - b.hw.seen.prompt)[(runs.length - 1) >> 1].hw;
const counts = (st) => Object.fromEntries(st.exits.map((e) => [e.reason, e.count]));
const ce = counts(s.stats);
const ch = counts(hwRun.stats);
console.log(`\nexits to the prompt, emulate (OpenSBI + U-Boot) beside hw (U-Boot alone), each its median run:`);
console.log(`  ${'reason'.padEnd(18)} ${'emulate'.padStart(10)} ${'hw'.padStart(10)}`);
console.log(`  ${'instructions'.padEnd(18)} ${String(s.stats.instret).padStart(10)} ${String(hwRun.stats.instret).padStart(10)}`);
for (const r of s.stats.exits.map((e) => e.reason)) console.log(`  ${r.padEnd(18)} ${String(ce[r] ?? 0).padStart(10)} ${String(ch[r] ?? 0).padStart(10)}`);
console.log(`load average ${loadAverage()}`);
if (!pass) process.exitCode = 1;
