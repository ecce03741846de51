// A vCPU thread: runs one hart in bounded batches. Accesses outside RAM, and RAM pages this
// cpu does not hold, leave through the exit channel and block until the host answers.
import { parentPort, workerData } from 'node:worker_threads';
import { GuestRam, Hart, type PhysBus } from '@splitvisor/riscv';
import { BOOT_ROM, MACHINE_REGIONS, PLIC_SOURCES, regionAt } from '@splitvisor/platform';
import { BootRom, Clint, cpuLocalBus, hostClock, IcountClock, Plic, bootRom, plicContextIrq } from '@splitvisor/machine';
import {
  CTRL_HI,
  CTRL_IRQ_DIRTY,
  CTRL_PARKED,
  CTRL_PAUSE,
  CTRL_LO,
  CTRL_REPLY,
  CTRL_STATUS,
  CTRL_STOP,
  CTRL_WAKE,
  EXIT_REASONS,
  ExitStatus,
  STATS_INSTRET,
  STATS_RUN_SECONDS,
  STATS_RING_COUNT,
  STATS_RING_SIZE,
  STATS_RING_START,
  STATS_DEVICE_START,
  STATS_DEVICE_WORDS,
  statsCountIndex,
  statsTimeIndex,
  type ExitReason,
  type VcpuExitCause,
  type WorkerInit,
  type WorkerRequest,
} from './exit-channel.js';
import { WorkerPageCache } from './page-cache/worker-cache.js';
import { PostedKind, PostedRingWriter, postedKindOf } from './posted-ring.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const ctrl = new Int32Array(init.ctrl);
const stats = new Float64Array(init.stats);
const reasonIndex = (r: ExitReason) => EXIT_REASONS.indexOf(r);
const PAGE = 4096;
/** Pages fetched per miss: the run amortizes one round trip over several pages. */
const FETCH_RUN = 16;

let stopCause: VcpuExitCause | undefined;
let stopReason = '';
let exitCode = 0;

/** Posts a request and blocks until the host replies; returns the ExitStatus. */
function exit(req: WorkerRequest, reason: ExitReason): number {
  const t0 = performance.now();
  Atomics.store(ctrl, CTRL_REPLY, 0);
  port.postMessage(req);
  cache.waitReply();
  // An exit is a safepoint too: a guest that exits on every few instructions would
  // otherwise see a stop request only after a whole batch of slow exits.
  if (Atomics.load(ctrl, CTRL_STOP) !== 0 || Atomics.load(ctrl, CTRL_PAUSE) !== 0) hart.stop();
  applyIrqLines();
  // Both kinds of exit take the posted ring with them before they are served.
  postedAsked = posted.posted;
  const ms = performance.now() - t0;
  const ri = reasonIndex(reason);
  stats[statsCountIndex(ri)]! += 1;
  stats[statsTimeIndex(ri)]! += ms;
  if (req.kind === 'mmio') {
    const d = deviceStatsIndex(req.addr);
    if (d >= 0) {
      stats[d + (req.write ? 1 : 0)]! += 1;
      stats[d + 2]! += ms;
    }
    const n = stats[STATS_RING_COUNT]!;
    stats[STATS_RING_START + (n % STATS_RING_SIZE)] = ms * 1000;
    stats[STATS_RING_COUNT] = n + 1;
  }
  return Atomics.load(ctrl, CTRL_STATUS);
}

/** Where the per-device counters of the region holding `pa` start in stats, or -1. */
function deviceStatsIndex(pa: number): number {
  const r = regionAt(pa);
  return r === undefined ? -1 : STATS_DEVICE_START + MACHINE_REGIONS.indexOf(r) * STATS_DEVICE_WORDS;
}

/** Stores that are not exits (posted-ring.ts): coalesced UART transmit, virtio doorbells. */
const posted = new PostedRingWriter(init.posted);
const COALESCED_COUNT = statsCountIndex(reasonIndex('mmio-coalesced'));
const DOORBELL_COUNT = statsCountIndex(reasonIndex('doorbell'));
/** Ring entries up to this count are delivered or asked for; the ones after are not yet. */
let postedAsked = posted.posted;
/** When the oldest entry not yet asked for was posted (ms, host clock). */
let postedSince = 0;
/** How long a posted write may wait while the guest goes on writing: console output is
 *  never stuck behind a guest that stays busy (a batch end asks for the rest). */
const POSTED_MAX_WAIT_MS = 5;
const DELIVER_POSTED: WorkerRequest = { kind: 'posted' };

/** Asks the host to deliver what the ring holds; the vCPU goes on meanwhile. */
function askDelivery(): void {
  if (posted.posted === postedAsked) return;
  postedAsked = posted.posted;
  port.postMessage(DELIVER_POSTED);
}

/** Posts a store instead of exiting, when it is one that may be posted and the ring has room. */
function tryPost(pa: number, size: number, lo: number, hi: number): boolean {
  const kind = postedKindOf(pa, size);
  if (kind === -1 || !posted.post(kind, pa, size, lo, hi)) return false;
  stats[deviceStatsIndex(pa) + 3]! += 1;
  if (kind === PostedKind.Doorbell) {
    stats[DOORBELL_COUNT]! += 1;
    // The device should hear it now; it stays behind the writes posted before it.
    askDelivery();
    return true;
  }
  stats[COALESCED_COUNT]! += 1;
  const now = performance.now();
  if (((posted.posted - postedAsked) | 0) === 1) postedSince = now;
  else if (now - postedSince >= POSTED_MAX_WAIT_MS) askDelivery();
  return true;
}

const ram = new GuestRam(init.ramBase, init.ramSize, init.ram);
/** The hart's side of mmu's directory protocol (page-cache/): fetches, recalls. */
const cache = new WorkerPageCache(ram, ctrl, init.recallPort);
ram.onMiss = (pageIndex, write) => {
  const count = cache.runLength(pageIndex, write, FETCH_RUN);
  const status = exit({ kind: 'fetch', pageIndex, count, write }, 'page-fetch');
  if (status !== ExitStatus.Ok) {
    if (status === ExitStatus.Failed) failVcpu(`page fetch of gpa 0x${(init.ramBase + pageIndex * PAGE).toString(16)} failed`);
    return false;
  }
  // Shared copies for a read, the only writable ones for a write. Recalls wait for the
  // next safepoint: never between a fetch and the access that needed it.
  cache.install(pageIndex, count, write);
  return true;
};

function failVcpu(why: string): void {
  stopCause ??= 'exit-failed';
  stopReason ||= why;
  hart.stop();
}

/** Only io-backend's regions leave the cpu; anything else that is not RAM is unmapped
 *  (the cpu knows the machine's memory map, as KVM knows its memslots). */
function isDeviceAddress(pa: number, size: number, write: boolean): boolean {
  const r = regionAt(pa);
  if (r !== undefined && r.home === 'io-backend' && pa + size <= r.base + r.size) return true;
  port.postMessage({
    kind: 'log',
    level: 'warn',
    msg: `guest access fault: ${write ? 'store' : 'load'} of ${size} bytes at unmapped 0x${pa.toString(16)}`,
    fields: { addr: '0x' + pa.toString(16), pc: '0x' + hart.getPc().toString(16) },
  } satisfies WorkerRequest);
  return false;
}

// The vCPU's own devices (the in-kernel irqchip and timer of KVM): accesses to them never
// leave this thread.
const icount = init.clock === 'icount' ? new IcountClock() : undefined;
const clint = new Clint({ harts: 1, clock: icount ? icount.now : hostClock(), onIrq: (_h, bit, level) => hart.setPendingInterrupt(bit, level) });
const plic = new Plic({ harts: 1, onIrq: (ctx, level) => hart.setPendingInterrupt(plicContextIrq(ctx), level) });
// QEMU's reset vector: a0 = mhartid, a1 = the DTB, a2 = fw_dynamic_info, then a jump to
// the entry (the firmware at 0x80000000, or the image when there is none).
const romImage = bootRom({ entry: init.entry, dtbAddr: init.dtbAddr });
const local = cpuLocalBus({ bootRom: new BootRom(romImage), clint, plic });
const irqLevels = new Int32Array(init.irqLevels);
const plicLevels = new Uint8Array(PLIC_SOURCES);

/** Feeds line levels the host saw change into the PLIC (a safepoint's work). */
function applyIrqLines(): void {
  if (Atomics.exchange(ctrl, CTRL_IRQ_DIRTY, 0) === 0) return;
  for (let i = 1; i < PLIC_SOURCES; i++) {
    const v = Atomics.load(irqLevels, i);
    if (v !== plicLevels[i]) {
      plicLevels[i] = v;
      plic.setLevel(i, v !== 0);
    }
  }
}

const bus: PhysBus = {
  load(pa, size, out) {
    const r = local.load(pa, size, out);
    if (r !== undefined) return r.ok;
    if (!isDeviceAddress(pa, size, false)) return false;
    const status = exit({ kind: 'mmio', addr: pa, size, write: false, lo: 0, hi: 0 }, 'mmio-read');
    return finishMmio(status, out);
  },
  store(pa, size, lo, hi) {
    const r = local.store(pa, size, lo, hi);
    if (r !== undefined) return r.ok;
    if (tryPost(pa, size, lo, hi)) return true;
    if (!isDeviceAddress(pa, size, true)) return false;
    const status = exit({ kind: 'mmio', addr: pa, size, write: true, lo, hi }, 'mmio-write');
    return finishMmio(status, undefined);
  },
};

function finishMmio(status: number, out: Int32Array | undefined): boolean {
  switch (status) {
    case ExitStatus.Ok:
      if (out) {
        out[0] = Atomics.load(ctrl, CTRL_LO);
        out[1] = Atomics.load(ctrl, CTRL_HI);
      }
      return true;
    case ExitStatus.AccessFault:
      return false;
    case ExitStatus.Poweroff:
      stopCause = 'poweroff';
      exitCode = Atomics.load(ctrl, CTRL_LO);
      stopReason = `guest powered off with code ${exitCode}`;
      hart.stop();
      if (out) out[0] = out[1] = 0;
      return true;
    case ExitStatus.Reset:
      stopCause = 'reset';
      stopReason = 'guest requested a reset';
      hart.stop();
      if (out) out[0] = out[1] = 0;
      return true;
    default:
      failVcpu('MMIO exit failed');
      if (out) out[0] = out[1] = 0;
      return true;
  }
}

const hart = new Hart({
  hartId: init.hartId,
  ram,
  bus,
  resetPc: BOOT_ROM.base,
  roms: [{ base: BOOT_ROM.base, bytes: romImage }],
  // The `time` CSR reads the CLINT's mtime, as on QEMU virt.
  timeSource: () => clint.mtime(),
});
// Power-on state of the local devices: every line announced (MTIP is high, mtimecmp = 0).
local.reset();
applyIrqLines();

const started = performance.now();
// Batches are bounded in instructions, but exits cost wall time: a guest that exits every
// few instructions would take seconds per batch. Keep each batch near 2-10 ms so stats,
// stop requests and (later) interrupts are seen promptly.
let budget = Math.min(init.batch, 10_000);
/** Longest WFI sleep without a timer deadline: an idle VM costs one wake-up a second. */
const IDLE_CAP_MS = 1000;

/** Parks the vCPU while the host holds it paused; returns when resumed or stopped. */
function parkWhilePaused(): void {
  if (Atomics.load(ctrl, CTRL_PAUSE) === 0) return;
  Atomics.store(ctrl, CTRL_PARKED, 1);
  Atomics.notify(ctrl, CTRL_PARKED);
  while (Atomics.load(ctrl, CTRL_PAUSE) !== 0 && Atomics.load(ctrl, CTRL_STOP) === 0) {
    // A paused VM's pages are still recalled (DMA, snapshots). CTRL_WAKE is read before
    // looking for orders: one posted after the look has bumped it, so the wait returns.
    const wake = Atomics.load(ctrl, CTRL_WAKE);
    cache.safepoint();
    Atomics.wait(ctrl, CTRL_WAKE, wake, 1000);
  }
  Atomics.store(ctrl, CTRL_PARKED, 0);
}

for (;;) {
  cache.safepoint();
  parkWhilePaused();
  if (Atomics.load(ctrl, CTRL_STOP) !== 0) {
    stopCause ??= 'stopped';
    stopReason ||= 'stopped by the host';
    break;
  }
  const t0 = performance.now();
  const before = hart.stats.instret;
  const e = hart.run(cache.budget(budget)); // short while recalls come: see WorkerPageCache.budget
  const now = performance.now();
  icount?.advance(hart.stats.instret - before);
  clint.tick();
  applyIrqLines();
  if (now - t0 > 10) budget = Math.max(1000, budget >> 1);
  else if (now - t0 < 2) budget = Math.min(init.batch, budget * 2);
  stats[STATS_INSTRET] = hart.stats.instret;
  stats[STATS_RUN_SECONDS] = (now - started) / 1000;
  // Whatever the guest posted goes out at the end of a batch at the latest, before it
  // sleeps in WFI, and before it parks or stops (the host also delivers then).
  askDelivery();
  if (e.kind === 'budget') continue;
  if (e.kind === 'wfi') {
    // Idle without burning the host core until the next timer deadline, an IRQ line
    // change (the host bumps CTRL_WAKE) or a stop request. In icount mode time jumps to
    // the deadline instead: nothing else could happen meanwhile but an IRQ line.
    const t0 = performance.now();
    const ticks = clint.nextDeadline(0);
    if (icount && Number.isFinite(ticks) && Atomics.load(ctrl, CTRL_IRQ_DIRTY) === 0) {
      icount.skip(ticks);
    } else {
      const wake = Atomics.load(ctrl, CTRL_WAKE);
      // Everything that could end the idle (IRQ lines, recalls, pause, stop) bumps
      // CTRL_WAKE, so the cap only bounds how stale the stats of an idle vCPU get.
      const ms = Math.min(IDLE_CAP_MS, Math.max(0, ticks / 10_000));
      if (Atomics.load(ctrl, CTRL_IRQ_DIRTY) === 0 && !cache.ordersWaiting()) Atomics.wait(ctrl, CTRL_WAKE, wake, ms);
    }
    clint.tick();
    applyIrqLines();
    const wi = reasonIndex('wfi');
    stats[statsCountIndex(wi)]! += 1;
    stats[statsTimeIndex(wi)]! += performance.now() - t0;
    continue;
  }
  if (e.kind === 'fatal') {
    stopCause ??= 'fatal';
    stopReason ||= e.reason;
  } else if (stopCause === undefined && Atomics.load(ctrl, CTRL_STOP) === 0) {
    // stop() at an exit safepoint because the host asked for a pause: park at the loop top.
    continue;
  } else if (stopCause === undefined) {
    // stop() from an exit safepoint on the host's request.
    stopCause = 'stopped';
    stopReason = 'stopped by the host';
  }
  break;
}
stats[STATS_INSTRET] = hart.stats.instret;
port.postMessage({ kind: 'exited', reason: stopReason, exitCode, cause: stopCause ?? 'stopped' } satisfies WorkerRequest);
