// Debian 13's riscv64 kernel (examples/linux.yaml: OpenSBI fw_jump, the kernel, the busybox
// initramfs of scripts/fetch-linux.sh, virtio-rng) on QEMU and on Splitvisor, RUNS times each
// (--runs=N, default 1: a boot here takes minutes), a QEMU boot then a Splitvisor boot (a
// fresh lab each) so both see the same moments of this shared machine's load. Prints the
// time to the kernel banner, to /init, to the shell, and from `poweroff -f` to the machine's
// end, their medians and ratios, the load average, and Splitvisor's exit table (by reason
// and by device) of its median boot. Each run also boots the same kernel in mode: hw and
// mode: trap (examples/linux-hw.yaml, linux-trap.yaml: no OpenSBI, the cpu's monitor), and the
// three modes' times and exit tables are printed side by side. --engine=interp|translate
// runs the three Splitvisor boots on that engine (`cpu: { engine }`; default the lab's).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/lab';
import { ConsoleInputCodec, ConsoleOutputCodec } from '@splitvisor/proto';
import { streams, subjects } from '@splitvisor/bus';
import { parse as parseYaml } from 'yaml';
import { withBenchLab } from './bench-lab.mjs';
import { loadAverage, printBootRuns, printExitTable, engineFlag, runsFlag } from './stats.mjs';

const TIMEOUT_S = Number(process.env.BENCH_LINUX_TIMEOUT_S ?? 900);
const RUNS = runsFlag(process.argv.slice(2), 1, 'linux');
const ENGINE = engineFlag(process.argv.slice(2), 'linux');
for (const script of ['fetch-firmware.sh', 'fetch-linux.sh']) {
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts', script)], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`linux bench: scripts/${script} failed:\n${r.stderr}`);
    process.exit(1);
  }
}
const configOf = (example) => {
  const text = readFileSync(join(REPO_ROOT, `examples/${example}.yaml`), 'utf8') + (ENGINE ? `cpu:\n  engine: ${ENGINE}\n` : '');
  return { example, text, cfg: parseYaml(text) };
};
const EMULATE = configOf('linux');
const cfg = EMULATE.cfg;
const abs = (p) => join(REPO_ROOT, 'examples', p);

/** Marks the milestones as console text comes; types `poweroff -f` at the shell. */
function milestones(type) {
  const t0 = performance.now();
  const seen = {};
  let text = '';
  return {
    seen,
    t0,
    feed(chunk) {
      text += chunk;
      const mark = (k, re) => {
        if (seen[k] === undefined && re.test(text)) seen[k] = (performance.now() - t0) / 1000;
      };
      mark('kernel', /Linux version /);
      mark('init', /Run \/init as init process/);
      if (seen.shell === undefined && /splitvisor-linux: shell ready[\s\S]*~ # /.test(text)) {
        seen.shell = (performance.now() - t0) / 1000;
        type('poweroff -f\r');
      }
    },
    end() {
      seen.off = (performance.now() - t0) / 1000 - seen.shell;
    },
  };
}

async function qemu() {
  const child = spawn(
    'qemu-system-riscv64',
    [
      '-M',
      'virt',
      '-m',
      cfg.memory,
      '-nographic',
      '-bios',
      abs(cfg.firmware),
      '-kernel',
      abs(cfg.kernel),
      '-initrd',
      abs(cfg.initrd),
      '-append',
      cfg.bootargs,
      '-device',
      'virtio-rng-device',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const m = milestones((s) => child.stdin.write(s));
  child.stdout.on('data', (b) => m.feed(b.toString('latin1')));
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_S * 1000);
  const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  if (code !== 0 || m.seen.shell === undefined) throw new Error(`QEMU ended with ${code} before the shell and poweroff`);
  m.end();
  return m.seen;
}

/** Boots examples/<example>.yaml to the shell and through `poweroff -f`, in a fresh lab. */
function splitvisor({ example, text, cfg } = EMULATE) {
  return withBenchLab(async ({ dom0, cpu, bus }) => {
    await dom0.call('CreateVm', { configYaml: text, baseDir: join(REPO_ROOT, 'examples'), source: `examples/${example}.yaml` });
    let stats;
    const m = milestones((s) => {
      // The exit table of the boot, read before the poweroff ends the vCPU.
      void cpu
        .call('GetVmStats', { vmId: cfg.name })
        .then((st) => (stats = st))
        .finally(() => bus.publish(subjects.consoleIn(cfg.name), ConsoleInputCodec, { vmId: cfg.name, data: Buffer.from(s) }));
    });
    void bus.replay(streams.console, subjects.consoleOut(cfg.name), ConsoleOutputCodec, (msg) => m.feed(Buffer.from(msg.data).toString('latin1')));
    await dom0.call('StartVm', { name: cfg.name });
    const deadline = Date.now() + TIMEOUT_S * 1000;
    for (;;) {
      const vm = await dom0.call('GetVm', { name: cfg.name });
      if (vm.state === 'stopped' || vm.state === 'failed') {
        if (vm.state !== 'stopped' || vm.exitCode !== 0 || m.seen.shell === undefined)
          throw new Error(`Splitvisor's VM ended ${vm.state} (${vm.reason}) exit ${vm.exitCode}`);
        break;
      }
      if (Date.now() > deadline) throw new Error(`Splitvisor did not reach the shell and power off in ${TIMEOUT_S} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    m.end();
    await dom0.call('DestroyVm', { name: cfg.name }).catch(() => undefined);
    return { seen: m.seen, stats };
  });
}

const MILESTONES = [
  ['kernel', 'kernel banner'],
  ['init', 'Run /init'],
  ['shell', 'shell prompt'],
  ['off', 'poweroff -f to the end'],
];
const runs = [];
for (let i = 0; i < RUNS; i++) {
  const q = await qemu();
  const s = await splitvisor();
  const hw = await splitvisor(configOf('linux-hw'));
  const trap = await splitvisor(configOf('linux-trap'));
  runs.push({ q, s, hw, trap, ratio: s.seen.shell / q.shell, load: loadAverage() });
}
console.log(`Splitvisor's engine: ${ENGINE ?? 'the default (translate)'}`);
printBootRuns(runs, MILESTONES, 'shell', 'the shell');
console.log(`(load average ${loadAverage()}; this machine is shared, so is the noise)`);
const byTime = [...runs].sort((p, q) => p.s.seen.shell - q.s.seen.shell);
const s = byTime[(byTime.length - 1) >> 1].s;
if (s.stats) {
  console.log(`\nSplitvisor exits up to the shell of its median boot (${s.stats.instret} instructions, ${s.stats.runSeconds.toFixed(2)} s of vCPU time):`);
  printExitTable(s.stats);
}

// The other modes beside emulate: the same kernel with no OpenSBI, the cpu's monitor its SBI.
const med = (xs) => [...xs].sort((p, q) => p - q)[(xs.length - 1) >> 1];
const f = (v) => (v === undefined ? '-' : `${v.toFixed(1)} s`);
console.log(`\nthe same kernel in each mode (median of ${runs.length} run(s)): time to the shell, and its ratio to QEMU`);
console.log(`${'mode'.padEnd(10)} ${'banner'.padStart(9)} ${'/init'.padStart(9)} ${'shell'.padStart(9)} ${'ratio'.padStart(8)}`);
for (const [name, pick] of [
  ['emulate', (r) => r.s.seen],
  ['hw', (r) => r.hw.seen],
  ['trap', (r) => r.trap.seen],
  ['QEMU', (r) => r.q],
]) {
  const at = (k) => med(runs.map((r) => pick(r)[k] ?? Number.NaN));
  const ratio = med(runs.map((r) => (pick(r).shell ?? Number.NaN) / r.q.shell));
  console.log(
    `${name.padEnd(10)} ${f(at('kernel')).padStart(9)} ${f(at('init')).padStart(9)} ${f(at('shell')).padStart(9)} ${`x${ratio.toFixed(1)}`.padStart(8)}`,
  );
}
const pickMedian = (k) => [...runs].sort((p, q) => p[k].seen.shell - q[k].seen.shell)[(runs.length - 1) >> 1][k];
const tables = ['s', 'hw', 'trap'].map((k) => pickMedian(k).stats);
if (tables.every(Boolean)) {
  const counts = (st) => Object.fromEntries(st.exits.map((e) => [e.reason, e.count]));
  const c = tables.map(counts);
  console.log(`\nexits up to the shell, by mode (each its median boot):`);
  console.log(`  ${'reason'.padEnd(18)} ${'emulate'.padStart(12)} ${'hw'.padStart(12)} ${'trap'.padStart(12)}`);
  console.log(`  ${'instructions'.padEnd(18)} ${tables.map((t) => String(t.instret).padStart(12)).join(' ')}`);
  for (const r of tables[0].exits.map((e) => e.reason)) console.log(`  ${r.padEnd(18)} ${c.map((x) => String(x[r] ?? 0).padStart(12)).join(' ')}`);
}
console.log(`(load average ${loadAverage()})`);
