// dom0's two numbers: how long from CreateVm to the guest's first instruction, and how
// many idle 64 MiB VMs this machine holds (memory and CPU of each service per VM).
//
//   node scripts/bench/dom0.mjs [boot] [density]     (after npm run build)
//
// boot: CreateVm, StartVm, then cpu GetVmStats polled every ~1 ms until the exit table
// shows the first page fetch answered: the worker counts it right after the reply, just
// before the hart executes the instruction it fetched. guests/idle, 64 MiB, N runs.
// density: guests/idle VMs (they print one line, then WFI with nothing enabled) added in
// steps; after each step every process's RSS, and its CPU over a few quiet seconds.
// Stops at BENCH_MAX_VMS, when a create or start fails, or when the machine's
// MemAvailable would drop under BENCH_KEEP_FREE_MIB.
import { Lab, REPO_ROOT, startNatsServer } from '@splitvisor/lab';
import { protos } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { join } from 'node:path';
import { CLK_TCK, cpuTicks } from './stats.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const MAX_VMS = Number(process.env.BENCH_MAX_VMS ?? 100);
const STEP = Number(process.env.BENCH_STEP ?? 10);
const KEEP_FREE_MIB = Number(process.env.BENCH_KEEP_FREE_MIB ?? 6144);
const QUIET_S = Number(process.env.BENCH_QUIET_SECONDS ?? 5);
const IDLE = join(REPO_ROOT, 'guests/idle/idle.elf');

const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const want = (s) => asked.length === 0 || asked.includes(s);

const vmYaml = (name) => ({ configYaml: `name: ${name}\nmemory: 64M\nimage: ${IDLE}\n`, baseDir: REPO_ROOT, source: `${name}.yaml` });
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(1)} ms`;

function memAvailableMib() {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
function rssMib(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const nats = await startNatsServer();
const lab = await Lab.start({
  natsUrl: nats.url,
  // A bench of the control plane's own speed: plaintext (Lab.start says what that gives up).
  secure: false,
  logLevel: 'warn',
  // Room for many VMs: the pool only counts frames taken on first touch.
  serviceEnv: { mmu: { SPLITVISOR_MMU_POOL_MIB: String(64 * 1024) } },
});
const p = protos();
const dom0 = new RpcClient(p.dom0.Dom0, lab.addresses.dom0, { deadlineMs: 60_000 });
const cpu = new RpcClient(p.cpu.Cpu, lab.addresses.cpu, { deadlineMs: 10_000 });
const pids = { nats: nats.pid, ...Object.fromEntries([...lab.services].map(([n, s]) => [n, s.child.pid])) };

try {
  if (want('boot')) {
    const create = [];
    const start = [];
    const first = [];
    const total = [];
    for (let i = 0; i < RUNS; i++) {
      const name = `boot-${i}`;
      const t0 = performance.now();
      await dom0.call('CreateVm', vmYaml(name));
      const t1 = performance.now();
      await dom0.call('StartVm', { name });
      const t2 = performance.now();
      for (;;) {
        const s = await cpu.call('GetVmStats', { vmId: name });
        if ((s.exits.find((e) => e.reason === 'page-fetch')?.count ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 1));
      }
      const t3 = performance.now();
      create.push(t1 - t0);
      start.push(t2 - t1);
      first.push(t3 - t2);
      total.push(t3 - t0);
      await dom0.call('DestroyVm', { name });
    }
    console.log(`create-to-first-instruction, guests/idle with 64 MiB, ${RUNS} runs (first run included):`);
    console.log(`${'phase'.padEnd(52)} ${'p50'.padStart(10)} ${'p90'.padStart(10)} ${'min'.padStart(10)}`);
    const row = (name, xs) => console.log(`${name.padEnd(52)} ${ms(pct(xs, 50)).padStart(10)} ${ms(pct(xs, 90)).padStart(10)} ${ms(Math.min(...xs)).padStart(10)}`);
    row('CreateVm (config, images, mmu, xenbus devices)', create);
    row('StartVm (cpu node spawns the vCPU thread)', start);
    row('StartVm answered -> first instruction fetched', first);
    row('CreateVm sent -> first instruction', total);
  }

  if (want('density')) {
    console.log(`\nidle 64 MiB VMs (guests/idle), added ${STEP} at a time; RSS in MiB, CPU in % of one core over ${QUIET_S} s:`);
    const names = Object.keys(pids);
    console.log(`${'vms'.padStart(4)} ${names.map((n) => `${n} MiB`.padStart(14)).join(' ')} ${names.map((n) => `${n} %`.padStart(12)).join(' ')} ${'avail MiB'.padStart(10)} ${'create+start s'.padStart(15)}`);
    const rows = [];
    let n = 0;
    let stopped = '';
    const sample = async () => {
      const before = Object.fromEntries(names.map((k) => [k, cpuTicks(pids[k])]));
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, QUIET_S * 1000));
      const secs = (performance.now() - t0) / 1000;
      const cpuPct = Object.fromEntries(names.map((k) => [k, ((cpuTicks(pids[k]) - before[k]) / CLK_TCK / secs) * 100]));
      const rss = Object.fromEntries(names.map((k) => [k, rssMib(pids[k])]));
      return { vms: n, rss, cpuPct, avail: memAvailableMib() };
    };
    const print = (r, secs) =>
      console.log(
        `${String(r.vms).padStart(4)} ${names.map((k) => r.rss[k].toFixed(0).padStart(14)).join(' ')} ${names.map((k) => r.cpuPct[k].toFixed(1).padStart(12)).join(' ')} ${r.avail.toFixed(0).padStart(10)} ${secs === undefined ? '' : secs.toFixed(1).padStart(15)}`,
      );
    const base = await sample();
    rows.push(base);
    print(base);
    while (n < MAX_VMS) {
      const last = rows[rows.length - 1];
      const perVm = rows.length > 1 ? (rows[0].avail - last.avail) / last.vms : 60;
      if (last.avail - perVm * STEP < KEEP_FREE_MIB) {
        stopped = `MemAvailable ${last.avail.toFixed(0)} MiB would drop under ${KEEP_FREE_MIB} MiB`;
        break;
      }
      const batch = Array.from({ length: Math.min(STEP, MAX_VMS - n) }, (_, i) => `idle-${n + i}`);
      const t0 = performance.now();
      try {
        for (const name of batch) {
          await dom0.call('CreateVm', vmYaml(name));
          await dom0.call('StartVm', { name });
          n++;
        }
      } catch (e) {
        stopped = `VM ${n + 1} refused: ${e.code ?? ''} ${e.message}`;
        break;
      }
      const secs = (performance.now() - t0) / 1000;
      const r = await sample();
      rows.push(r);
      print(r, secs);
    }
    if (!stopped) stopped = `BENCH_MAX_VMS=${MAX_VMS} reached`;
    const last = rows[rows.length - 1];
    const d = (k) => (last.rss[k] - base.rss[k]) / Math.max(1, last.vms);
    const c = (k) => (last.cpuPct[k] - base.cpuPct[k]) / Math.max(1, last.vms);
    console.log(`stopped: ${stopped}`);
    console.log(`per idle VM at ${last.vms} VMs: ${names.map((k) => `${k} +${d(k).toFixed(1)} MiB / +${c(k).toFixed(2)}% cpu`).join(', ')}`);
    const memPerVm = (base.avail - last.avail) / Math.max(1, last.vms);
    const cpuPerVm = names.reduce((a, k) => a + c(k), 0);
    console.log(`machine: ${memPerVm.toFixed(1)} MiB of MemAvailable and ${cpuPerVm.toFixed(2)}% of one core per idle VM (${execSync('nproc').toString().trim()} cores, ${(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))[1]) / 1024).toFixed(0)} MiB)`);
    const stats = await dom0.call('GetStats', { name: 'idle-0' }).catch(() => undefined);
    if (stats?.memory) console.log(`guest RAM an idle VM has touched (mmu resident): ${(stats.memory.residentBytes / 1024).toFixed(0)} KiB of 64 MiB`);
    console.log(`extrapolated: memory allows ~${Math.floor(base.avail / memPerVm)} such VMs; the CPU ~${Math.floor((100 * Number(execSync('nproc').toString().trim())) / Math.max(cpuPerVm, 0.001))} (all cores busy with idle wakeups)`);
    const { vms } = await dom0.call('ListVms', {});
    await Promise.all(vms.map((v) => dom0.call('DestroyVm', { name: v.name }).catch(() => undefined)));
  }
} finally {
  dom0.close();
  cpu.close();
  await lab.stop();
  await nats.stop();
}
