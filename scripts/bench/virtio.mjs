// Debian's U-Boot moving data over virtio on Splitvisor and on QEMU, in one run: the same FAT
// disk (`load` of a BENCH_VIRTIO_DISK_MIB file) and the same TFTP directory (`tftpboot` of a
// BENCH_VIRTIO_TFTP_KIB file), each command BENCH_VIRTIO_RUNS times in one session; medians
// of wall time and throughput side by side. For Splitvisor, what each command cost across
// the services (deltas of cpu, mmu and io-backend GetVmStats around it): DMA calls and
// bytes, recalls and their round trip, doorbells, interrupts, exits; per request too.
import { loadavg } from 'node:os';
import { Lab } from '@splitvisor/lab';
import { protos } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { Bus } from '@splitvisor/bus';
import { createLogger } from '@splitvisor/log';
import { startQemu, vmConsole } from './uboot-console.mjs';
import { fetchFirmware, makeImages } from './uboot-images.mjs';
import { median } from './stats.mjs';

const RUNS = Math.max(1, Number(process.env.BENCH_VIRTIO_RUNS ?? 3));
const DISK_MIB = Number(process.env.BENCH_VIRTIO_DISK_MIB ?? 4);
const TFTP_KIB = Number(process.env.BENCH_VIRTIO_TFTP_KIB ?? 2048);
const ONLY = process.env.BENCH_VIRTIO_ONLY; // "splitvisor" or "qemu": one side
const VM = 'bench-virtio';
const MAC = '52:54:00:12:34:56';

let fw;
try {
  fw = fetchFirmware();
} catch (e) {
  console.error(`virtio bench: ${e.message}`);
  process.exit(1);
}
const { fwJump, uboot } = fw;

// --- the images --------------------------------------------------------------------------
const images = makeImages({ diskName: 'blob.bin', diskBytes: DISK_MIB * 1024 * 1024, tftpName: 'net.bin', tftpBytes: TFTP_KIB * 1024, prefix: 'sv-bench-virtio-' });
const { dir, tftpDir, disk } = images;

// --- one session, the same on both machines -----------------------------------------------
const LOAD = 'load virtio 0 ${loadaddr} blob.bin';
const TFTP = 'tftpboot ${loadaddr} net.bin';

/** Boots, prepares, then runs each measured command RUNS times; `around` wraps each run. */
async function session(c, bootMs, around) {
  await c.boot(bootMs);
  await c.command('virtio scan');
  await c.command('setenv autoload no');
  const dhcp = await c.command('dhcp');
  if (!/DHCP client bound/.test(dhcp.text)) throw new Error(`dhcp failed:\n${dhcp.text}`);
  const out = { load: [], tftp: [] };
  for (const [key, cmd, ok] of [['load', LOAD, /bytes read in/], ['tftp', TFTP, /Bytes transferred/]]) {
    for (let i = 0; i < RUNS; i++) {
      const r = await around(() => c.command(cmd));
      if (!ok.test(r.text)) throw new Error(`${cmd} failed:\n${r.text}`);
      out[key].push(r);
    }
  }
  return out;
}

async function qemu() {
  const q = startQemu({ fwJump, uboot, disk: disk('qemu.img'), tftpDir, mac: MAC });
  try {
    return await session(q.console, 60_000, (fn) => fn());
  } finally {
    q.stop();
  }
}

/** Every counter of the VM that a virtio request moves, flat, by the service that counts it. */
async function counters(c) {
  const [io, mem, cpu] = await Promise.all([
    c.io.call('GetVmStats', { vmId: VM }),
    c.mmu.call('GetVmStats', { vmId: VM, resetLatency: true }),
    c.cpu.call('GetVmStats', { vmId: VM }),
  ]);
  const out = {
    'io dma reads': io.dma.reads,
    'io dma writes': io.dma.writes,
    'io dma KiB read': io.dma.bytesRead / 1024,
    'io dma KiB written': io.dma.bytesWritten / 1024,
    'io doorbells': io.doorbells,
    'io irqs raised': io.irqsRaised,
    'mmu recalls': mem.recalls,
    'mmu recalled pages': mem.recalledPages,
    'mmu update recalls': mem.updateRecalls,
    'cpu instret (M)': cpu.instret / 1e6,
  };
  for (const e of cpu.exits) {
    out[`cpu ${e.reason}`] = e.count;
    out[`cpu ${e.reason} ms`] = e.totalMs;
  }
  for (const d of cpu.devices ?? []) {
    out[`cpu exits ${d.device}`] = d.reads + d.writes;
    out[`cpu exits ${d.device} ms`] = d.totalMs;
  }
  for (const d of io.virtio) {
    const k = d.counters;
    if (d.kind === 'virtio-blk') out['blk requests'] = k.reads + k.writes + k.flushes + k.getIds;
    if (d.kind === 'virtio-net') out['net frames'] = k.rxFrames + k.txFrames;
  }
  return { out, recallLatency: mem.recallLatency };
}

async function splitvisor() {
  const lab = await Lab.start({ logLevel: 'warn', secure: false });
  const p = protos();
  const c = {
    dom0: new RpcClient(p.dom0.Dom0, lab.addresses.dom0, { deadlineMs: 60_000 }),
    cpu: new RpcClient(p.cpu.Cpu, lab.addresses.cpu, { deadlineMs: 30_000 }),
    mmu: new RpcClient(p.mmu.Mmu, lab.addresses.mmu, { deadlineMs: 30_000 }),
    io: new RpcClient(p.io.IoBackend, lab.addresses['io-backend'], { deadlineMs: 30_000 }),
  };
  const bus = await Bus.connect({ url: lab.natsUrl, name: 'bench', log: createLogger({ service: 'bench', level: 'silent', pretty: false }) });
  try {
    const configYaml = [
      `name: ${VM}`,
      'memory: 256M',
      `firmware: ${fwJump}`,
      `kernel: ${uboot}`,
      'disks:',
      `  - path: ${disk('splitvisor.img')}`,
      'nics:',
      '  - network: bench',
      `    mac: "${MAC}"`,
      `    tftp: ${tftpDir}`,
      '',
    ].join('\n');
    await c.dom0.call('CreateVm', { configYaml, baseDir: dir, source: 'virtio bench' });
    const { console: con } = await vmConsole(bus, VM);
    await c.dom0.call('StartVm', { name: VM });
    const around = async (fn) => {
      const before = await counters(c);
      const r = await fn();
      const after = await counters(c);
      const delta = {};
      for (const [k, v] of Object.entries(after.out)) delta[k] = v - (before.out[k] ?? 0);
      return { ...r, delta, recallLatency: after.recallLatency };
    };
    const out = await session(con, 600_000, around);
    // The recall transport alone (NATS request/reply to the vCPU's host thread, no worker),
    // with U-Boot at its prompt: the rest of a recall's round trip is the wait for a safepoint.
    out.probe = await c.mmu.call('ProbeRecall', { vmId: VM, holder: 'cpu', count: 200 });
    await c.dom0.call('DestroyVm', { name: VM });
    return out;
  } finally {
    for (const client of Object.values(c)) client.close();
    await bus.drain();
    await lab.stop();
  }
}

// --- the table ---------------------------------------------------------------------------
const size = { load: DISK_MIB * 1024 * 1024, tftp: TFTP_KIB * 1024 };
const rate = (b, ms) => {
  const v = b / (ms / 1000);
  return v >= 1024 * 1024 ? `${(v / 1024 / 1024).toFixed(2)} MiB/s` : `${(v / 1024).toFixed(1)} KiB/s`;
};

const load0 = loadavg();
const q = ONLY === 'splitvisor' ? undefined : await qemu();
const s = ONLY === 'qemu' ? undefined : await splitvisor();
const load1 = loadavg();

console.log(`runs ${RUNS} (medians), load ${DISK_MIB} MiB from FAT, tftpboot ${TFTP_KIB} KiB; load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`);
console.log(`${'command'.padEnd(12)} ${'Splitvisor'.padStart(22)} ${'QEMU'.padStart(22)} ${'ratio'.padStart(8)}`);
for (const k of ['load', 'tftp']) {
  const sm = s && median(s[k].map((r) => r.ms));
  const qm = q && median(q[k].map((r) => r.ms));
  const cell = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s ${rate(size[k], ms)}`);
  console.log(`${k.padEnd(12)} ${cell(sm).padStart(22)} ${cell(qm).padStart(22)} ${(sm && qm ? `x${(sm / qm).toFixed(0)}` : '-').padStart(8)}`);
}
if (s) {
  console.log('\nSplitvisor, per command (median of the runs) and per request (blk requests for load, frames for tftp):');
  console.log(`  ${'counter'.padEnd(40)} ${'load'.padStart(10)} ${'/req'.padStart(8)} ${'tftp'.padStart(10)} ${'/frame'.padStart(8)}`);
  const keys = Object.keys(s.load[0].delta).filter((k) => s.load.some((r) => r.delta[k]) || s.tftp.some((r) => r.delta[k]));
  const per = (k, unit) => median(s[k].map((r) => r.delta[unit] || NaN));
  for (const key of keys) {
    const l = median(s.load.map((r) => r.delta[key]));
    const t = median(s.tftp.map((r) => r.delta[key]));
    const f = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
    console.log(`  ${key.padEnd(40)} ${f(l).padStart(10)} ${(l / per('load', 'blk requests')).toFixed(2).padStart(8)} ${f(t).padStart(10)} ${(t / per('tftp', 'net frames')).toFixed(2).padStart(8)}`);
  }
  const lat = (k) => median(s[k].map((r) => r.recallLatency.p50Us));
  const lat99 = (k) => median(s[k].map((r) => r.recallLatency.p99Us));
  console.log(`  ${'recall p50/p99 µs'.padEnd(40)} ${`${lat('load').toFixed(0)}/${lat99('load').toFixed(0)}`.padStart(19)} ${`${lat('tftp').toFixed(0)}/${lat99('tftp').toFixed(0)}`.padStart(19)}`);
  console.log(`  ${'empty recall (transport) p50/p99 µs'.padEnd(40)} ${`${s.probe.p50Us.toFixed(0)}/${s.probe.p99Us.toFixed(0)}`.padStart(19)}`);
  const ms = (k, unit) => median(s[k].map((r) => r.ms / r.delta[unit]));
  console.log(`  ${'ms per request'.padEnd(40)} ${ms('load', 'blk requests').toFixed(2).padStart(19)} ${ms('tftp', 'net frames').toFixed(2).padStart(19)}`);
}
images.remove();
