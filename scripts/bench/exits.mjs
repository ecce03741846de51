// The cost of one MMIO exit across the process boundary, against the transport under it.
// A real lab (nats-server + the four services); guests/echo polls its UART's LSR while it
// waits for input, so every instruction loop iteration is one MMIO read exit. The cpu's
// worker times each exit from the moment it posts it until it wakes with the answer. The
// floors: the same cpu process sending empty messages to the same io-backend on an exit
// stream (what an exit rides on), and unary gRPC Pings (what each exit cost as a call of its own).
import { Lab, REPO_ROOT } from '@splitvisor/lab';
import { protos } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const PINGS = Number(process.env.BENCH_PINGS ?? 4000);

const lab = await Lab.start({ logLevel: 'warn' });
const p = protos();
const dom0 = new RpcClient(p.dom0.Dom0, lab.addresses.dom0, { deadlineMs: 30_000 });
const cpu = new RpcClient(p.cpu.Cpu, lab.addresses.cpu, { deadlineMs: 120_000 });
try {
  const configYaml = await readFile(join(REPO_ROOT, 'examples/echo.yaml'), 'utf8');
  await dom0.call('CreateVm', { configYaml, baseDir: join(REPO_ROOT, 'examples'), source: 'examples/echo.yaml' });
  // Floor first, while no guest competes for the cores.
  const unaryFloor = await cpu.call('ProbeIo', { count: PINGS });
  const floor = await cpu.call('ProbeIo', { count: PINGS, streamVmId: 'echo' });
  await dom0.call('StartVm', { name: 'echo' });
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const stats = await cpu.call('GetVmStats', { vmId: 'echo' });
  await dom0.call('DestroyVm', { name: 'echo' });

  const lat = stats.mmioLatency;
  const reads = stats.exits.find((e) => e.reason === 'mmio-read');
  const row = (name, s) =>
    `${name.padEnd(52)} ${String(s.samples).padStart(7)} ${s.p50Us.toFixed(0).padStart(8)} ${s.p99Us.toFixed(0).padStart(8)} ${s.meanUs.toFixed(0).padStart(8)}`;
  console.log(`${'path'.padEnd(52)} ${'samples'.padStart(7)} ${'p50 µs'.padStart(8)} ${'p99 µs'.padStart(8)} ${'mean µs'.padStart(8)}`);
  console.log(row('gRPC unary Ping, cpu -> io-backend', unaryFloor));
  console.log(row('empty message on the exit stream, cpu -> io-backend', floor));
  console.log(row('MMIO exit, worker -> io-backend -> worker', lat));
  console.log(
    `exit path over the stream floor: p50 ${(lat.p50Us - floor.p50Us).toFixed(0)} µs (x${(lat.p50Us / floor.p50Us).toFixed(2)}), ` +
      `p99 ${(lat.p99Us - floor.p99Us).toFixed(0)} µs (x${(lat.p99Us / floor.p99Us).toFixed(2)})`,
  );
  console.log(
    `guest: ${reads?.count ?? 0} MMIO read exits in ${stats.runSeconds.toFixed(1)} s (${((reads?.count ?? 0) / stats.runSeconds).toFixed(0)} exits/s), ` +
      `${stats.instret} instructions retired`,
  );
} finally {
  dom0.close();
  cpu.close();
  await lab.stop();
}
