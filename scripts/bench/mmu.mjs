// mmu: what guest memory as a service costs, beside the transports under it, in one run.
// A real lab (nats-server, mmu, io-backend, cpu; no dom0, the VMs are made by hand):
//  - page fetches over gRPC for runs of 1, 16 and 64 pages (written pages: 4 KiB each
//    on the wire; never-written pages: no bytes), one call at a time as a vCPU makes them;
//  - recalls, timed inside mmu: beside an empty recall from mmu to the same page cache
//    (ProbeRecall, on the transport recalls take: the cache's stream, NATS without one) and
//    a bare NATS request/reply between two clients of the same server; for a vCPU parked
//    at a safepoint and for one running a guest (which answers at its next batch
//    boundary);
//  - bulk DMA, 16 MiB written and read back through io-backend's DMA stream;
//  - guests/memcheck first-touching 64 MiB, timed by the guest with the CLINT.
import { Lab, REPO_ROOT } from '@splitvisor/lab';
import { protos } from '@splitvisor/proto';
import { RpcClient, deadlineIn } from '@splitvisor/rpc';
import { summarize } from '@splitvisor/platform';
import { loadAverage, median } from './stats.mjs';
import { connect } from '@nats-io/transport-node';
import * as grpc from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
// io-backend's DMA path as it is (not exported by the service: its DMA stream is internal).
import { MmuGuestMemory } from '../../services/io-backend/dist/virtio/guest-memory.js';

const MIB = 1024 * 1024;
const RAM = 0x80000000;
const PAGE = 4096;
const FETCH_PAGES = Number(process.env.BENCH_FETCH_PAGES ?? 16384); // 64 MiB per sweep
const RECALLS = Number(process.env.BENCH_RECALLS ?? 2000);
const TOUCH_MIB = Number(process.env.BENCH_TOUCH_MIB ?? 64);
const STATUS = 0x80002000;
const TOUCH = 0x80100000;
const DMA_MIB = 16;
const DMA_CHUNK = 256 * 1024;
const DMA_IN_FLIGHT = 4;
const DMA_PASSES = Number(process.env.BENCH_DMA_PASSES ?? 7);

const lab = await Lab.start({ logLevel: 'warn', secure: false, only: ['mmu', 'io-backend', 'cpu'] });
const p = protos();
const mmu = new RpcClient(p.mmu.Mmu, lab.addresses.mmu, { deadlineMs: 120_000 });
const cpu = new RpcClient(p.cpu.Cpu, lab.addresses.cpu, { deadlineMs: 120_000 });
const device = new grpc.Metadata();
device.set('x-splitvisor-caller', 'io-backend');
const nc = await connect({ servers: lab.natsUrl });

const fmt = (n, d = 0) => n.toFixed(d).padStart(9);
const latRow = (name, s) => `${name.padEnd(56)} ${String(s.samples).padStart(7)} ${fmt(s.p50Us)} ${fmt(s.p99Us)} ${fmt(s.meanUs)}`;
const latHead = () => console.log(`${'path'.padEnd(56)} ${'samples'.padStart(7)} ${'p50 µs'.padStart(9)} ${'p99 µs'.padStart(9)} ${'mean µs'.padStart(9)}`);

function loadImage(vmId, chunks) {
  return new Promise((resolve, reject) => {
    const call = mmu.raw.LoadImage(new grpc.Metadata(), { deadline: deadlineIn(30_000) }, (err) => (err ? reject(err) : resolve()));
    chunks.forEach((c, i) => call.write({ vmId: i === 0 ? vmId : '', addr: c.addr, data: c.data }));
    call.end();
  });
}

async function status(vmId) {
  const { data } = await mmu.call('DmaRead', { vmId, segments: [{ addr: STATUS, length: 64 }] }, { metadata: device });
  const b = data[0];
  return {
    passes: Number(b.readBigUInt64LE(0)),
    errors: Number(b.readBigUInt64LE(8)),
    touchTicks: Number(b.readBigUInt64LE(40)),
    phase: Number(b.readBigUInt64LE(48)),
  };
}

try {
  // --- page fetches -------------------------------------------------------------------
  const base = RAM / PAGE;
  await mmu.call('CreateVm', { vmId: 'fetch', ramBase: RAM, ramSize: 2 * FETCH_PAGES * PAGE + MIB });
  for (let g = 0; g < FETCH_PAGES; g += 64) {
    const pages = [];
    for (let i = g; i < g + 64 && i < FETCH_PAGES; i++) pages.push({ gfn: base + i, data: Buffer.alloc(PAGE, (i % 251) + 1) });
    await mmu.call('WriteBack', { vmId: 'fetch', pages });
  }
  console.log(`page fetches, one FetchPages call at a time, ${FETCH_PAGES} pages (${(FETCH_PAGES * PAGE) / MIB} MiB) per row`);
  console.log(
    `${'run'.padEnd(22)} ${'calls'.padStart(7)} ${'pages/s'.padStart(9)} ${'MB/s'.padStart(9)} ${'call p50 µs'.padStart(12)} ${'call p99 µs'.padStart(12)}`,
  );
  const sweep = async (label, run, first) => {
    const holder = `bench-${run}-${first ? 'z' : 'd'}`;
    const lat = [];
    const t0 = performance.now();
    let bytes = 0;
    for (let off = 0; off + run <= FETCH_PAGES; off += run) {
      const c0 = performance.now();
      const res = await mmu.call('FetchPages', { vmId: 'fetch', gfn: base + first + off, count: run, holder });
      lat.push((performance.now() - c0) * 1000);
      for (const pg of res.pages) bytes += pg.data.length;
    }
    const s = (performance.now() - t0) / 1000;
    const pages = Math.floor(FETCH_PAGES / run) * run;
    const l = summarize(lat);
    console.log(
      `${label.padEnd(22)} ${String(lat.length).padStart(7)} ${fmt(pages / s)} ${fmt(bytes / s / 1e6, 1)} ${l.p50Us.toFixed(0).padStart(12)} ${l.p99Us.toFixed(0).padStart(12)}`,
    );
    await mmu.call('WriteBack', { vmId: 'fetch', holder, pages: [], releaseAll: true });
  };
  for (const run of [1, 16, 64]) await sweep(`run ${run}, written pages`, run, 0);
  await sweep('run 64, never written', 64, FETCH_PAGES);
  await mmu.call('ReleaseVm', { vmId: 'fetch' });

  // --- bulk DMA -----------------------------------------------------------------------
  // What a virtio-blk read or write of 16 MiB moves: io-backend's own DMA path (its
  // MmuGuestMemory, on the VM's DMA stream), writes of 256 KiB with four in flight as
  // virtio-blk makes them, then reads of 1 MiB. Bytes both ways, so HTTP/2's flow-control
  // windows (libs/rpc flow-control.ts) are part of what is timed.
  {
    await mmu.call('CreateVm', { vmId: 'dma', ramBase: RAM, ramSize: DMA_MIB * MIB + MIB });
    await mmu.call('AttachDevice', { vmId: 'dma', backend: 'io-backend' });
    const mem = new MmuGuestMemory(mmu, 'dma', 'io-backend');
    const chunk = Buffer.alloc(DMA_CHUNK, 0xa5);
    const writes = [];
    const reads = [];
    for (let pass = 0; pass < DMA_PASSES; pass++) {
      const w0 = performance.now();
      const slots = [];
      for (let off = 0, i = 0; off < DMA_MIB * MIB; off += DMA_CHUNK, i++) {
        await slots[i % DMA_IN_FLIGHT];
        slots[i % DMA_IN_FLIGHT] = mem.write(RAM + off, chunk);
      }
      await Promise.all(slots);
      writes.push(performance.now() - w0);
      const r0 = performance.now();
      for (let off = 0; off < DMA_MIB * MIB; off += MIB) {
        const got = await mem.read(RAM + off, MIB);
        if (got.length !== MIB || got[0] !== 0xa5 || got[MIB - 1] !== 0xa5) throw new Error(`bulk DMA: read back at +${off} is not what was written`);
      }
      reads.push(performance.now() - r0);
    }
    mem.close();
    await mmu.call('ReleaseVm', { vmId: 'dma' });
    const rate = (ms) => ((DMA_MIB * 1000) / ms).toFixed(0);
    console.log(`\nbulk DMA of ${DMA_MIB} MiB over io-backend's DMA stream, ${DMA_PASSES} passes (median; the first pass, cold, beside it)`);
    console.log(`  write, ${DMA_CHUNK / 1024} KiB a call, ${DMA_IN_FLIGHT} in flight: ${rate(median(writes))} MiB/s (first pass ${rate(writes[0])} MiB/s)`);
    console.log(`  read, 1 MiB a call, one at a time: ${rate(median(reads))} MiB/s (first pass ${rate(reads[0])} MiB/s)`);
  }

  // --- first touch --------------------------------------------------------------------
  const image = await readFile(join(REPO_ROOT, 'guests/memcheck/memcheck.bin'));
  const config = Buffer.alloc(8);
  config.writeBigUInt64LE(BigInt(TOUCH_MIB * MIB));
  const ramSize = (TOUCH_MIB + 16) * MIB;
  await mmu.call('CreateVm', { vmId: 'touch', ramBase: RAM, ramSize });
  await loadImage('touch', [
    { addr: RAM, data: image },
    { addr: 0x80001000, data: config },
  ]);
  await mmu.call('AttachDevice', { vmId: 'touch', backend: 'io-backend' });
  const t0 = performance.now();
  await cpu.call('StartVm', { vmId: 'touch', ramBase: RAM, ramSize, entry: RAM, dtbAddr: 0, vcpus: 1 });
  let st;
  for (;;) {
    st = await status('touch');
    if (st.phase >= 1) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const wall = (performance.now() - t0) / 1000;
  const guestS = st.touchTicks / 10e6;
  const mem = await mmu.call('GetVmStats', { vmId: 'touch' });
  const vcpu = await cpu.call('GetVmStats', { vmId: 'touch' });
  const fetchRow = vcpu.exits.find((e) => e.reason === 'page-fetch');
  console.log(`\nfirst touch of ${TOUCH_MIB} MiB by guests/memcheck (one store per page; runs of 16 pages per miss, doubling to 256 on a stream)`);
  console.log(
    `  guest-timed (CLINT): ${guestS.toFixed(3)} s = ${((TOUCH_MIB * MIB) / PAGE / guestS).toFixed(0)} pages/s; ` +
      `StartVm to done, seen from outside: ${wall.toFixed(3)} s`,
  );
  console.log(
    `  page-fetch exits ${fetchRow?.count ?? 0} (mean ${((fetchRow?.totalMs ?? 0) / Math.max(1, fetchRow?.count ?? 1)).toFixed(3)} ms); ` +
      `mmu: ${mem.fetches} pages granted, ${mem.firstTouchFaults} first-touch faults, ${mem.residentPages} frames taken`,
  );

  // --- recalls ------------------------------------------------------------------------
  // Floors: mmu -> the same page cache with an empty recall; two clients of one server.
  const floor = await mmu.call('ProbeRecall', { vmId: 'touch', holder: 'cpu', count: RECALLS });
  const echo = nc.subscribe('bench.echo', { callback: (_e, m) => m.respond(m.data) });
  const bare = [];
  for (let i = 0; i < RECALLS; i++) {
    const r0 = performance.now();
    await nc.request('bench.echo', new Uint8Array(8), { timeout: 5000 });
    bare.push((performance.now() - r0) * 1000);
  }
  echo.unsubscribe();

  // Each DMA read of a touched page (held Modified by the vCPU) is one recall of 1 page.
  const recallPages = async (from, n) => {
    await mmu.call('GetVmStats', { vmId: 'touch', resetLatency: true });
    const dma = [];
    for (let i = from; i < from + n; i++) {
      const d0 = performance.now();
      await mmu.call('DmaRead', { vmId: 'touch', segments: [{ addr: TOUCH + i * PAGE, length: 8 }] }, { metadata: device });
      dma.push((performance.now() - d0) * 1000);
    }
    const s = await mmu.call('GetVmStats', { vmId: 'touch', resetLatency: true });
    return { recall: s.recallLatency, dma: summarize(dma), recalls: s.recalls, streamed: s.streamedRecalls };
  };
  await cpu.call('PauseVm', { vmId: 'touch' });
  const parked = await recallPages(0, RECALLS);
  await cpu.call('ResumeVm', { vmId: 'touch' });
  const running = await recallPages(RECALLS, Math.min(RECALLS, 500));
  const end = await status('touch');

  console.log(
    `\nrecalls (1 page, downgrade Modified -> Shared, timed in mmu around the request); ` +
      `${running.streamed} of ${running.recalls} on the cpu's RecallStream, the rest over NATS; load average ${loadAverage()}`,
  );
  latHead();
  console.log(latRow('bare NATS request/reply, two clients of one server', summarize(bare)));
  console.log(latRow('empty recall, mmu -> cpu page cache (ProbeRecall)', floor));
  console.log(latRow('recall, vCPU parked (served at once)', parked.recall));
  console.log(latRow('recall, vCPU running a guest (next batch boundary)', running.recall));
  console.log(latRow('DMA read 8 B of a page held Modified, parked vCPU', parked.dma));
  console.log(latRow('DMA read 8 B of a page held Modified, running vCPU', running.dma));
  console.log(
    `recall over its floor (parked): p50 ${(parked.recall.p50Us - floor.p50Us).toFixed(0)} µs (x${(parked.recall.p50Us / floor.p50Us).toFixed(2)}), ` +
      `p99 ${(parked.recall.p99Us - floor.p99Us).toFixed(0)} µs; memcheck: ${end.passes} passes, ${end.errors} wrong words`,
  );
  await cpu.call('StopVm', { vmId: 'touch', reason: 'bench over' });
} finally {
  mmu.close();
  cpu.close();
  await nc.close();
  await lab.stop();
}
