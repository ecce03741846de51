// Issue 17's speed targets for the I/O path, in one run, on Splitvisor and on QEMU (-M virt,
// the same Debian OpenSBI + U-Boot, the same FAT disk and TFTP directory, 256 MiB each).
// Each figure is measured RUNS times (--runs=N, default 5), a QEMU run then a Splitvisor run
// in turn, so both see the same moments of this shared machine's load. One lab serves the
// whole bench, up before the first figure; each run boots a fresh VM (a fresh QEMU) to its
// prompt, prepares it, measures, and destroys it. Only one guest runs at a time: U-Boot's
// prompt polls its UART, and a QEMU left at it would take a core from the lab.
//
//   prompt  CreateVm sent (for QEMU: its spawn) to the `=>` prompt, a key sent at "Hit any key".
//   md      `md.b ${loadaddr}` of --md-kib=N KiB (64): bytes of console output per second,
//           from the command typed to the next prompt seen here.
//   tftp    `tftpboot` of --tftp-mib=N MiB (8) from the NIC's TFTP directory, after `dhcp`;
//           --tftp-window=N sets U-Boot's tftpwindowsize (RFC 7440) on both sides (default 1,
//           U-Boot's: one block per ACK). The gateway grants it. QEMU 7.2's slirp TFTP did
//           not in our runs (its rate was the same with and without), so QEMU's runs stay at
//           one block per ACK.
//   load    `load virtio 0` of --load-mib=N MiB (16) from the FAT disk, after `virtio scan`.
//   idle    CPU time (utime + stime of /proc/<pid>/stat, all threads) over --idle-s=N s (10)
//           at the prompt, as % of one core: for Splitvisor the sum of dom0, cpu, mmu,
//           io-backend and nats-server, each printed, and the same lab's CPU with no VM at
//           all first (the baseline); for QEMU, its process. This process (the console's
//           reader) is counted on neither side.
//   wfi     the same CPU time, of guests/ticker (bare metal, M-mode, 16 MiB, no firmware):
//           a timer 50 ms ahead in the CLINT, then WFI until it fires, then one line
//           "tick <n>" - a guest idle in WFI with a timer set. Beside it, whether it woke on
//           time: its ticks in the window against the 20 a second its timer asks for, and
//           the gaps between tick lines as they arrived here (median and longest). The
//           ticker arms its next timer after printing its line, so a gap is 50 ms plus the
//           time the line took. Its line per tick makes this mostly the console's cost.
//   sleep   the same CPU time, of guests/sleeper (bare metal, M-mode, 16 MiB): deadlines
//           50 ms apart slept through in WFI, one line a second - a guest idle in WFI with a
//           timer set, the console all but quiet. Beside it, whether it woke on time, as the
//           guest measured it: its lines in the window against one a second, and the latest
//           wake (mtime minus the deadline) of any second in the window.
//
// tftp and load are MiB/s by wall time (command typed to the next prompt seen here, the
// console's round trip included: NATS for Splitvisor, a pipe for QEMU), U-Boot's own
// figure beside each run; beside md, tftp and load, the exits Splitvisor's vCPU took from the
// command typed to the prompt, by reason (GetVmStats; typing and echo included). A run's ratio is how many times worse Splitvisor is than QEMU
// (time over time, or rate over rate; for idle, CPU over CPU); a figure's ratio is the median
// of its runs' ratios. Prints each run as it ends, then each figure's medians, its target
// and whether it is met, with the load average at the figure's start and end, then the
// table. --only=prompt,md,... measures some; --engine=interp|translate runs Splitvisor's
// U-Boot VMs on that engine (default the lab's, the translator). Exits 1 when a figure could not be measured;
// an unmet target is today's baseline, not a failure of the bench.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/lab';
import { withBenchLab, labPids } from './bench-lab.mjs';
import { parseTransfer, startQemu, startQemuGuest, vmConsole } from './uboot-console.mjs';
import { fetchFirmware, makeImages } from './uboot-images.mjs';
import { CLK_TCK, cpuTicks, engineFlag, intFlag, loadAverage, median, runsFlag } from './stats.mjs';

const argv = process.argv.slice(2);
const RUNS = runsFlag(argv, 5, 'io');
const MD_KIB = intFlag(argv, 'md-kib', 64, 'io');
const TFTP_MIB = intFlag(argv, 'tftp-mib', 8, 'io');
const LOAD_MIB = intFlag(argv, 'load-mib', 16, 'io');
const IDLE_S = intFlag(argv, 'idle-s', 10, 'io');
const TIMEOUT_MS = intFlag(argv, 'timeout-s', 600, 'io') * 1000;
const ENGINE = engineFlag(argv, 'io');
const TFTP_WINDOW = intFlag(argv, 'tftp-window', 1, 'io');
/** Seconds at the prompt before the idle window opens (the boot's last output drained). */
const SETTLE_S = 2;
const MAC = '52:54:00:12:34:56';
const TICKER = join(REPO_ROOT, 'guests/ticker/ticker.elf');
const SLEEPER = join(REPO_ROOT, 'guests/sleeper/sleeper.elf');
/** guests/ticker's period: mtimecmp = mtime + 500000 of the 10 MHz timebase (sleeper's too). */
const TICK_MS = 50;
const MiB = 1024 * 1024;

/** What is wrong with `md.b`'s console output of `bytes` bytes, undefined when nothing: every
 * dump line present, whole, and 16 bytes past the one before it (the first fault quoted). */
function mdDumpFault(text, bytes) {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const dump = lines.filter((l) => /^[0-9a-f]{8}: /.test(l));
  const want = bytes / 16;
  for (let i = 0; i < dump.length; i++) {
    const m = /^([0-9a-f]{8}): ((?:[0-9a-f]{2} ){16}) .{16}$/.exec(dump[i]);
    const addr = m && parseInt(m[1], 16);
    const prev = i > 0 ? parseInt(dump[i - 1].slice(0, 8), 16) : undefined;
    if (!m || (prev !== undefined && addr !== prev + 16)) {
      const at = lines.indexOf(dump[i]);
      return `dump line ${i + 1} of ${dump.length} (${want} expected) is ${m ? `at ${m[1]}, not 16 bytes past the line before` : 'not a whole line'}:\n${lines.slice(Math.max(0, at - 2), at + 3).join('\n')}`;
    }
  }
  if (dump.length !== want) {
    const odd = lines.find((l) => l !== '' && !/^[0-9a-f]{8}: /.test(l) && !l.includes('md.b') && !l.startsWith('=>'));
    return `${dump.length} lines of dump, expected ${want}${odd === undefined ? '' : `; a line that is not one: ${JSON.stringify(odd.slice(0, 200))}`}`;
  }
  return undefined;
}

// --- what a figure is --------------------------------------------------------------------
const seconds = (v) => `${v.toFixed(2)} s`;
const rate = (v) => (v >= 1024 * MiB ? `${(v / 1024 / MiB).toFixed(2)} GiB/s` : v >= MiB ? `${(v / MiB).toFixed(2)} MiB/s` : `${(v / 1024).toFixed(1)} KiB/s`);
const percent = (v) => `${v.toFixed(1)}%`;
const worseIfLower = (sv, q) => q / sv;
const worseIfHigher = (sv, q) => sv / q;

/** A command's output must say it moved all `size` bytes; U-Boot's own figure as a note. */
function transfer(r, size, what) {
  const t = parseTransfer(r.text);
  if (t?.bytes !== size) throw new Error(`${what}: expected ${size} bytes, U-Boot said:\n${r.text.slice(-600)}`);
  const own = t.ms !== undefined ? `U-Boot: ${t.ms} ms${t.rate ? ` (${t.rate})` : ''}` : `U-Boot: ${t.rate ?? 'no rate line'}`;
  return { value: size / (r.ms / 1000), note: `${seconds(r.ms / 1000)} wall; ${own}${r.exits}` };
}

/** Types `cmd` (its echo is part of what it costs) and waits for the prompt: the console's
 *  answer, and on Splitvisor the exits it took, by reason (the counters' account of where
 *  the time went; empty for QEMU). */
async function counted(s, cmd) {
  const before = await s.guestCounters?.();
  const r = await s.console.command(cmd, TIMEOUT_MS);
  const after = await s.guestCounters?.();
  if (!before || !after) return { ...r, exits: '' };
  const d = (k) => (after.exits[k] ?? 0) - (before.exits[k] ?? 0);
  const reasons = Object.keys(after.exits)
    .filter((k) => d(k) > 0)
    .sort((a, b) => d(b) - d(a));
  return { ...r, exits: `; exits: ${reasons.map((k) => `${k} ${d(k)}`).join(', ') || 'none'}` };
}

const FIGURES = [
  {
    key: 'prompt',
    title: 'U-Boot prompt, lab up (CreateVm or QEMU spawn -> `=>`)',
    fmt: seconds,
    ratio: worseIfHigher,
    target: { text: '<= x3', of: 'ratio', met: (x) => x <= 3 },
    measure: async (s) => ({ value: s.promptS, note: s.createS === undefined ? '' : `CreateVm+StartVm ${seconds(s.createS)}` }),
  },
  {
    key: 'md',
    title: `console throughput of \`md.b\` of ${MD_KIB} KiB (bytes of output / wall time)`,
    fmt: rate,
    ratio: worseIfLower,
    target: { text: '<= x5', of: 'ratio', met: (x) => x <= 5 },
    measure: async (s) => {
      const r = await counted(s, `md.b \${loadaddr} ${(MD_KIB * 1024).toString(16)}`);
      const bad = mdDumpFault(r.text, MD_KIB * 1024);
      if (bad) throw new Error(`md.b: ${bad}`);
      return { value: r.bytes / (r.ms / 1000), note: `${r.bytes} B in ${seconds(r.ms / 1000)}${r.exits}` };
    },
  },
  {
    key: 'tftp',
    title: `\`tftpboot\` of ${TFTP_MIB} MiB${TFTP_WINDOW > 1 ? `, tftpwindowsize ${TFTP_WINDOW}` : ''} (wall time)`,
    prep: ['setenv autoload no', `setenv tftpwindowsize ${TFTP_WINDOW}`, 'dhcp'],
    fmt: rate,
    ratio: worseIfLower,
    target: { text: '>= 5 MiB/s', of: 'sv', met: (x) => x >= 5 * MiB },
    measure: async (s) => transfer(await counted(s, 'tftpboot ${loadaddr} io-net.bin'), TFTP_MIB * MiB, 'tftpboot'),
  },
  {
    key: 'load',
    title: `\`load\` of ${LOAD_MIB} MiB from FAT on virtio-blk (wall time)`,
    prep: ['virtio scan'],
    fmt: rate,
    ratio: worseIfLower,
    target: { text: '>= 100 MiB/s', of: 'sv', met: (x) => x >= 100 * MiB },
    measure: async (s) => transfer(await counted(s, 'load virtio 0 ${loadaddr} io-blk.bin'), LOAD_MIB * MiB, 'load'),
  },
  {
    key: 'idle',
    title: `host CPU of an idle U-Boot prompt over ${IDLE_S} s (% of one core)`,
    fmt: percent,
    ratio: worseIfHigher,
    target: { text: '< 2% of a core', of: 'sv', met: (x) => x < 2 },
    baseline: true,
    measure: async (s) => {
      const { c, guest } = await idleWindow(s);
      return { value: c.total, per: c.per, note: `${perProcess(c.per)}${guest}` };
    },
  },
  {
    key: 'wfi',
    title: `host CPU of a guest in WFI with a ${TICK_MS} ms timer (guests/ticker) over ${IDLE_S} s (% of one core)`,
    fmt: percent,
    ratio: worseIfHigher,
    target: { text: '< 2% of a core', of: 'sv', met: (x) => x < 2 },
    baseline: true,
    sessions: { qemu: () => qemuGuest(TICKER, /tick 1\r\n/), splitvisor: (lab) => splitvisorGuest(lab, TICKER, /tick 1\r\n/) },
    measure: async (s) => {
      const arrivals = [];
      const { c, guest } = await idleWindow(s, (text, now) => {
        for (const ch of text) if (ch === '\n') arrivals.push(now);
      });
      return { value: c.total, per: c.per, note: `${onTime(arrivals, c.secs)}; ${perProcess(c.per)}${guest}` };
    },
  },
  {
    key: 'sleep',
    title: `host CPU of a guest idle in WFI with a ${TICK_MS} ms timer, a line a second (guests/sleeper) over ${IDLE_S} s (% of one core)`,
    fmt: percent,
    ratio: worseIfHigher,
    target: { text: '< 2% of a core', of: 'sv', met: (x) => x < 2 },
    baseline: true,
    sessions: { qemu: () => qemuGuest(SLEEPER, /sleeper: 1 s/), splitvisor: (lab) => splitvisorGuest(lab, SLEEPER, /sleeper: 1 s/) },
    measure: async (s) => {
      const lates = [];
      let text = '';
      const { c, guest } = await idleWindow(s, (chunk) => {
        text += chunk;
        for (let m; (m = /sleeper: \d+ s, latest wake \+(\d+) us\r\n/.exec(text)); text = text.slice(m.index + m[0].length)) lates.push(Number(m[1]));
      });
      const woke = lates.length
        ? `${lates.length} lines of ~${Math.floor(c.secs)}, latest wake +${(Math.max(...lates) / 1000).toFixed(1)} ms (a second's latest, median +${(median(lates) / 1000).toFixed(1)} ms)`
        : 'no lines';
      return { value: c.total, per: c.per, note: `${woke}; ${perProcess(c.per)}${guest}` };
    },
  },
];

/** The idle figures' window: SETTLE_S for the last output to drain, then the session's CPU
 *  over IDLE_S (`c`) with the console followed by `onConsole` meanwhile, and the guest's
 *  counters over the same window (`guest`, a note; empty where there are none). */
async function idleWindow(s, onConsole) {
  await sleep(SETTLE_S * 1000);
  const unlisten = onConsole ? s.console.listen(onConsole) : () => {};
  const before = await s.guestCounters?.();
  const c = await sampleCpu(s.pids, IDLE_S);
  const after = await s.guestCounters?.();
  unlisten();
  return { c, guest: before && after ? guestRates(before, after, c.secs) : '' };
}

/** How the ticks came: their number against the timer's rate, and the gaps between them. */
function onTime(arrivals, secs) {
  const expected = Math.floor((secs * 1000) / TICK_MS);
  const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]);
  const gapText = gaps.length ? `gaps median ${median(gaps).toFixed(0)} ms, longest ${Math.max(...gaps).toFixed(0)} ms` : 'no gaps';
  return `${arrivals.length} ticks of ~${expected} (${((arrivals.length / expected) * 100).toFixed(0)}% on time), ${gapText}`;
}
const only = argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const unknown = only?.filter((k) => !FIGURES.some((f) => f.key === k)) ?? [];
if (unknown.length) {
  console.error(`io bench: --only: no figure ${unknown.join(', ')}; figures: ${FIGURES.map((f) => f.key).join(', ')}`);
  process.exit(2);
}
const figures = FIGURES.filter((f) => !only || only.includes(f.key));

// --- CPU of processes ----------------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Each process's CPU over `secs` of wall time, % of one core, and their sum. */
async function sampleCpu(pids, secs) {
  const names = Object.keys(pids);
  const t0 = performance.now();
  const before = names.map((n) => cpuTicks(pids[n]));
  await sleep(secs * 1000);
  const after = names.map((n) => cpuTicks(pids[n]));
  const wall = (performance.now() - t0) / 1000;
  const per = Object.fromEntries(names.map((n, i) => [n, ((after[i] - before[i]) / CLK_TCK / wall) * 100]));
  return { per, total: Object.values(per).reduce((a, b) => a + b, 0), secs: wall };
}
const perProcess = (per) =>
  Object.entries(per)
    .map(([n, v]) => `${n} ${percent(v)}`)
    .join(', ');

/** What the guest did meanwhile: instructions and exits per second, the busiest reasons. */
function guestRates(before, after, secs) {
  const d = (k) => ((after.exits[k] ?? 0) - (before.exits[k] ?? 0)) / secs;
  const reasons = Object.keys(after.exits)
    .filter((k) => d(k) > 0)
    .sort((a, b) => d(b) - d(a));
  const exits = reasons
    .slice(0, 3)
    .map((k) => `${k} ${d(k).toFixed(0)}`)
    .join(', ');
  return `; guest ${((after.instret - before.instret) / secs / 1e6).toFixed(2)} M instr/s, exits/s: ${exits || 'none'}`;
}

// --- the machines --------------------------------------------------------------------------
let fw;
let images;
try {
  fw = fetchFirmware();
  images = makeImages({ diskName: 'io-blk.bin', diskBytes: LOAD_MIB * MiB, tftpName: 'io-net.bin', tftpBytes: TFTP_MIB * MiB, prefix: 'sv-bench-io-' });
} catch (e) {
  console.error(`io bench: ${e.message}`);
  process.exit(1);
}
const disks = {};
const diskFor = (machine) => (disks[machine] ??= images.disk(`${machine}.img`));
const qemuVersion = spawnSync('qemu-system-riscv64', ['--version'], { encoding: 'utf8' });
const qemuMissing =
  qemuVersion.error || qemuVersion.status !== 0 ? `qemu-system-riscv64 cannot run: ${qemuVersion.error?.message ?? qemuVersion.stderr}` : undefined;

/** A bare-metal guest on QEMU (16 MiB), its console followed until `ready` shows. */
async function qemuGuest(elf, ready) {
  if (qemuMissing) throw new Error(qemuMissing);
  if (!existsSync(elf)) throw new Error(`${elf} is not built (make -C guests)`);
  const t0 = performance.now();
  const q = startQemuGuest({ elf, memory: '16M' });
  try {
    await q.console.waitFor(ready, TIMEOUT_MS);
  } catch (e) {
    q.stop();
    throw e;
  }
  return { console: q.console, promptS: (performance.now() - t0) / 1000, pids: { qemu: q.pid }, stop: async () => q.stop() };
}

/** A fresh QEMU at its prompt: `{ console, promptS, pids, stop }`. */
async function qemuSession() {
  if (qemuMissing) throw new Error(qemuMissing);
  const t0 = performance.now();
  const q = startQemu({ fwJump: fw.fwJump, uboot: fw.uboot, disk: diskFor('qemu'), tftpDir: images.tftpDir, mac: MAC });
  try {
    await q.console.boot(TIMEOUT_MS);
  } catch (e) {
    q.stop();
    throw e;
  }
  return { console: q.console, promptS: (performance.now() - t0) / 1000, pids: { qemu: q.pid }, stop: async () => q.stop() };
}

/** A fresh VM in the lab at its prompt, the same session as QEMU's plus the lab's counters. */
function splitvisorSession(lab) {
  const configYaml = (vm) =>
    [
      `name: ${vm}`,
      'memory: 256M',
      `firmware: ${fw.fwJump}`,
      `kernel: ${fw.uboot}`,
      'disks:',
      `  - path: ${diskFor('splitvisor')}`,
      'nics:',
      '  - network: bench',
      `    mac: "${MAC}"`,
      `    tftp: ${images.tftpDir}`,
      ...(ENGINE ? ['cpu:', `  engine: ${ENGINE}`] : []),
      '',
    ].join('\n');
  return labVm(lab, configYaml, (con) => con.boot(TIMEOUT_MS));
}

/** A bare-metal guest in the lab (16 MiB), its console followed until `ready` shows. */
function splitvisorGuest(lab, elf, ready) {
  if (!existsSync(elf)) throw new Error(`${elf} is not built (make -C guests)`);
  return labVm(
    lab,
    (vm) => `name: ${vm}\nmemory: 16M\nimage: ${elf}\n`,
    (con) => con.waitFor(ready, TIMEOUT_MS),
  );
}

let vmCount = 0;
/** A VM made from `configYaml(name)` and started, its console followed until `ready(console)`
 *  resolves: `{ console, promptS, createS, pids, guestCounters, stop }`. */
async function labVm(lab, configYaml, ready) {
  if (!lab.dom0) throw new Error(`the lab did not start: ${lab.error}`);
  const vm = `io-${++vmCount}`;
  const t0 = performance.now();
  await lab.dom0.call('CreateVm', { configYaml: configYaml(vm), baseDir: images.dir, source: 'io bench' });
  let stopConsole = () => {};
  const stop = async () => {
    stopConsole();
    await lab.dom0.call('DestroyVm', { name: vm }).catch((e) => console.error(`io bench: DestroyVm ${vm}: ${e.message}`));
  };
  try {
    const con = await vmConsole(lab.bus, vm);
    stopConsole = con.stop;
    await lab.dom0.call('StartVm', { name: vm });
    const createS = (performance.now() - t0) / 1000;
    await ready(con.console);
    const guestCounters = async () => {
      const st = await lab.cpu.call('GetVmStats', { vmId: vm });
      return { instret: st.instret, exits: Object.fromEntries(st.exits.map((e) => [e.reason, e.count])) };
    };
    return { console: con.console, promptS: (performance.now() - t0) / 1000, createS, pids: labPids(lab.lab), guestCounters, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** One side of one run: open, prepare, measure, close. `{ value, note }` or `{ error }`. */
async function side(name, open, fig, baseline) {
  let s;
  try {
    const base = baseline ? await baseline() : undefined;
    s = await open();
    for (const cmd of fig.prep ?? []) {
      const r = await s.console.command(cmd, TIMEOUT_MS);
      if (cmd === 'dhcp' && !/DHCP client bound/.test(r.text)) throw new Error(`dhcp failed:\n${r.text}`);
    }
    const m = await fig.measure(s);
    return base ? { ...m, base, note: `${m.note}\n        no VM: ${perProcess(base.per)} = ${percent(base.total)}` } : m;
  } catch (e) {
    return { error: `${name}: ${e.message}` };
  } finally {
    await s?.stop();
  }
}

// --- a figure: RUNS runs, each printed as it ends, then its medians ---------------------------
const cell = (fig, r) => (r.error ? 'failed' : fig.fmt(r.value));
const ratioText = (v) => (Number.isFinite(v) ? `x${v < 1 ? v.toFixed(2) : v.toFixed(1)}` : '-');

async function figure(fig, lab) {
  const loadStart = loadAverage();
  console.log(`\n${fig.title}; load average ${loadStart}`);
  console.log(`  ${'run'.padEnd(6)} ${'Splitvisor'.padStart(14)} ${'QEMU'.padStart(14)} ${'ratio'.padStart(7)}  Splitvisor's run / QEMU's run`);
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const q = await side('QEMU', fig.sessions?.qemu ?? qemuSession, fig);
    const baseline = fig.baseline && lab.dom0 ? () => labBaseline(lab) : undefined;
    const s = await side('Splitvisor', () => (fig.sessions?.splitvisor ?? splitvisorSession)(lab), fig, baseline);
    const ratio = q.error || s.error ? NaN : fig.ratio(s.value, q.value);
    runs.push({ q, s, ratio });
    console.log(
      `  ${String(i + 1).padEnd(6)} ${cell(fig, s).padStart(14)} ${cell(fig, q).padStart(14)} ${ratioText(ratio).padStart(7)}  ${s.error ?? s.note} / ${q.error ?? q.note}`,
    );
  }
  const ok = (k) => runs.filter((r) => !r[k].error).map((r) => r[k].value);
  const ratios = runs.map((r) => r.ratio).filter(Number.isFinite);
  const f = {
    fig,
    sv: ok('s').length ? median(ok('s')) : NaN,
    q: ok('q').length ? median(ok('q')) : NaN,
    ratio: ratios.length ? median(ratios) : NaN,
    ratios,
    errors: runs.flatMap((r) => [r.q.error, r.s.error].filter(Boolean)),
    loadStart,
    loadEnd: loadAverage(),
  };
  const on = f[fig.target.of];
  f.met = Number.isNaN(on) ? 'not measured' : fig.target.met(on) ? 'met' : 'NOT met';
  const n = (k) => `${ok(k).length}/${RUNS}`;
  console.log(
    `  ${'median'.padEnd(6)} ${(Number.isNaN(f.sv) ? '-' : fig.fmt(f.sv)).padStart(14)} ${(Number.isNaN(f.q) ? '-' : fig.fmt(f.q)).padStart(14)} ${ratioText(f.ratio).padStart(7)}  ` +
      `(runs measured: Splitvisor ${n('s')}, QEMU ${n('q')}); target ${fig.target.text}: ${f.met}; load average ${f.loadEnd}`,
  );
  if (fig.baseline) {
    const bases = runs.filter((r) => r.s.base).map((r) => r.s.base);
    f.base = bases.length ? median(bases.map((b) => b.total)) : NaN;
    const names = Object.keys(bases[0]?.per ?? {});
    const med = (list, k) => median(list.map((x) => x.per[k]));
    const atPrompt = runs.filter((r) => !r.s.error).map((r) => r.s);
    if (bases.length)
      console.log(`  Splitvisor, medians by process: no VM ${names.map((k) => `${k} ${percent(med(bases, k))}`).join(', ')} = ${percent(f.base)}`);
    if (atPrompt.length)
      console.log(`                                  with the VM   ${names.map((k) => `${k} ${percent(med(atPrompt, k))}`).join(', ')} = ${percent(f.sv)}`);
  }
  for (const e of f.errors) console.log(`  failed: ${e}`);
  return f;
}

/** The lab's CPU with no VM in it, over the same window as the idle figure's. */
async function labBaseline(lab) {
  const { vms } = await lab.dom0.call('ListVms', {});
  if (vms.length) throw new Error(`no baseline: the lab still has VMs ${vms.map((v) => v.name).join(', ')}`);
  await sleep(SETTLE_S * 1000);
  return sampleCpu(labPids(lab.lab), IDLE_S);
}

// --- the bench -------------------------------------------------------------------------------
async function all(lab) {
  console.log(
    `io bench: ${RUNS} run(s) per figure, QEMU then Splitvisor each run; ${fw.uboot}; Splitvisor's engine: ${ENGINE ?? 'the default (translate)'}; load average ${loadAverage()}`,
  );
  if (qemuMissing) console.log(`QEMU column: ${qemuMissing}`);
  if (lab.dom0) console.log(`lab processes counted for CPU: ${perPid(labPids(lab.lab))}`);
  const done = [];
  for (const fig of figures) done.push(await figure(fig, lab));

  console.log(`\nissue 17's targets, medians of ${RUNS} run(s) (ratio: median of the runs' ratios, each run's in brackets); load average ${loadAverage()}`);
  console.log('| figure | Splitvisor | QEMU | ratio | target | met | load average, start -> end |');
  console.log('|---|---|---|---|---|---|---|');
  for (const f of done) {
    const v = (x) => (Number.isNaN(x) ? '-' : f.fig.fmt(x));
    const sv = f.base === undefined ? v(f.sv) : `${v(f.sv)} (no VM: ${v(f.base)})`;
    const each = f.ratios.map((r) => ratioText(r).slice(1)).join(', ');
    console.log(
      `| ${f.fig.title} | ${sv} | ${v(f.q)} | ${ratioText(f.ratio)}${each ? ` (${each})` : ''} | ${f.fig.target.text} | ${f.met} | ${f.loadStart} -> ${f.loadEnd} |`,
    );
  }
  return done.some((f) => f.errors.length);
}
const perPid = (pids) =>
  Object.entries(pids)
    .map(([n, p]) => `${n} (pid ${p})`)
    .join(', ');

let failed;
try {
  let ran = false;
  try {
    failed = await withBenchLab(async ({ lab, dom0, cpu, bus }) => {
      ran = true;
      return all({ lab, dom0, cpu, bus });
    });
  } catch (e) {
    if (ran) throw e;
    console.error(`io bench: the lab did not start: ${e.message}`);
    failed = (await all({ error: e.message })) || true;
  }
} finally {
  images.remove();
}
if (failed) process.exitCode = 1;
