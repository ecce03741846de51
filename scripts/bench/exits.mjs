// The cost of one MMIO exit across the process boundary, against the transport under it.
// A real lab (nats-server + the four services); guests/uart-poll polls its UART's IIR and
// LSR while it waits for a line. LSR no longer exits (io-backend grants it to the vCPU's
// read shadow, issue 17), IIR always does (its read may acknowledge THR-empty, so it is
// never shadowed): every loop iteration is one MMIO read exit, of IIR. The cpu's worker times
// each exit from the moment it posts it until it wakes with the answer, and keeps the last
// 4096 (VmStats.mmio_latency). The floors: the same cpu process sending empty messages to
// the same io-backend on an exit stream (what an exit rides on), and unary gRPC Pings
// (what each exit cost as a call of its own).
//
// Warm, then interleaved: after a warm-up (guest running, a probe of each floor thrown
// away), ROUNDS rounds of [floor sample with the guest paused, exit sample with it running].
// The floor is taken paused because an exit runs with its vCPU waiting: nothing else of the
// guest competes then either. An exit sample is the ring's summary once 4096 exits of that
// round filled it, so every sample in it is of that round. Each round's difference is its
// exit percentile minus its floor percentile; the script prints each round and the medians.
//
//   BENCH_ROUNDS (8), BENCH_PINGS per floor sample (500), BENCH_WARMUP_S (2), BENCH_SECURE (0)
import { Lab, REPO_ROOT } from '@splitvisor/lab';
import { loadAverage, median } from './stats.mjs';
import { protos } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { setTimeout as sleep } from 'node:timers/promises';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const PINGS = Number(process.env.BENCH_PINGS ?? 500);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 2);
/** The worker's exit ring (VmStats.mmio_latency: "up to the last 4096"). */
const RING = 4096;
const ROUND_DEADLINE_MS = 30_000;
/** The guest: it prints its register report, then waits for a line polling IIR (an exit) and
 *  LSR (from the read shadow) for ever. */
const VM = 'iir-poll';
const CONFIG = `name: ${VM}\nmemory: 16M\nimage: guests/uart-poll/uart-poll.elf\n`;

// BENCH_SECURE=1: the lab people get by default (mutual TLS on every exit); else plaintext.
const SECURE = process.env.BENCH_SECURE === '1';
const lab = await Lab.start({ logLevel: 'warn', secure: SECURE });
const p = protos();
/** The bench speaks as dom0 (the cpu's stats are dom0's to read) in a secure lab. */
const as = (server) => (SECURE ? { tls: lab.tls('dom0'), server } : {});
const dom0 = new RpcClient(p.dom0.Dom0, lab.addresses.dom0, { deadlineMs: 30_000, ...as('dom0') });
const cpu = new RpcClient(p.cpu.Cpu, lab.addresses.cpu, { deadlineMs: 120_000, ...as('cpu') });
const readExits = async () => {
  const s = await cpu.call('GetVmStats', { vmId: VM });
  return { stats: s, reads: s.exits.find((e) => e.reason === 'mmio-read')?.count ?? 0 };
};

/** One exit sample: the ring's summary once RING exits of this round have replaced it. */
async function exitSample() {
  const before = (await readExits()).reads;
  const end = Date.now() + ROUND_DEADLINE_MS;
  for (;;) {
    await sleep(100);
    const now = await readExits();
    if (now.reads - before >= RING) return now.stats.mmioLatency;
    if (Date.now() > end) throw new Error(`only ${now.reads - before} exits in ${ROUND_DEADLINE_MS} ms: the guest is not polling its UART's IIR`);
  }
}

/** One floor sample of each kind, the guest paused. */
async function floorSample() {
  await dom0.call('PauseVm', { name: VM });
  try {
    const stream = await cpu.call('ProbeIo', { count: PINGS, streamVmId: VM });
    const unary = await cpu.call('ProbeIo', { count: PINGS });
    return { stream, unary };
  } finally {
    await dom0.call('ResumeVm', { name: VM });
  }
}

try {
  await dom0.call('CreateVm', { configYaml: CONFIG, baseDir: REPO_ROOT, source: 'bench exits (guests/uart-poll)' });
  await dom0.call('StartVm', { name: VM });

  // Warm-up: the JIT, the stream and the page caches, measured and thrown away.
  await sleep(WARMUP_S * 1000);
  await floorSample();
  await exitSample();

  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const floor = await floorSample();
    const exit = await exitSample();
    rounds.push({ floor: floor.stream, unary: floor.unary, exit });
  }
  const { stats } = await readExits();
  await dom0.call('DestroyVm', { name: VM });

  const us = (v) => v.toFixed(0).padStart(9);
  const header = `${'round'.padEnd(8)} ${'floor p50'.padStart(9)} ${'floor p99'.padStart(9)} ${'exit p50'.padStart(9)} ${'exit p99'.padStart(9)} ${'diff p50'.padStart(9)} ${'diff p99'.padStart(9)} ${'unary p50'.padStart(9)}`;
  const line = (label, r) =>
    `${label.padEnd(8)} ${us(r.floorP50)} ${us(r.floorP99)} ${us(r.exitP50)} ${us(r.exitP99)} ${us(r.exitP50 - r.floorP50)} ${us(r.exitP99 - r.floorP99)} ${us(r.unaryP50)}`;
  const rows = rounds.map((r) => ({ floorP50: r.floor.p50Us, floorP99: r.floor.p99Us, exitP50: r.exit.p50Us, exitP99: r.exit.p99Us, unaryP50: r.unary.p50Us }));

  console.log(
    `MMIO exit (worker -> io-backend -> worker; a UART IIR read, never shadowed) against its floor (empty message on the exit stream, guest paused), µs; ` +
      `${ROUNDS} interleaved rounds of ${PINGS} floor round trips and ${RING} exits, after ${WARMUP_S} s of warm-up; load average ${loadAverage()}`,
  );
  console.log(header);
  rows.forEach((r, i) => console.log(line(String(i + 1), r)));
  const med = (k) => median(rows.map((r) => r[k]));
  const diff50 = median(rows.map((r) => r.exitP50 - r.floorP50));
  const diff99 = median(rows.map((r) => r.exitP99 - r.floorP99));
  console.log(
    `${'median'.padEnd(8)} ${us(med('floorP50'))} ${us(med('floorP99'))} ${us(med('exitP50'))} ${us(med('exitP99'))} ${us(diff50)} ${us(diff99)} ${us(med('unaryP50'))}`,
  );
  console.log(
    `the exit path over its floor, median of the rounds' differences: p50 ${diff50.toFixed(0)} µs, p99 ${diff99.toFixed(0)} µs ` +
      `(exit p50 x${(med('exitP50') / med('floorP50')).toFixed(2)} the floor's)`,
  );
  const reads = stats.exits.find((e) => e.reason === 'mmio-read');
  const shadowed = stats.exits.find((e) => e.reason === 'mmio-shadowed');
  console.log(
    `guest: ${reads?.count ?? 0} MMIO read exits (IIR) in ${stats.runSeconds.toFixed(1)} s since it started, the paused floor samples included (${((reads?.count ?? 0) / stats.runSeconds).toFixed(0)} exits/s), ` +
      `${shadowed?.count ?? 0} LSR reads served from the read shadow, ${stats.instret} instructions retired`,
  );
} finally {
  dom0.close();
  cpu.close();
  await lab.stop();
}
