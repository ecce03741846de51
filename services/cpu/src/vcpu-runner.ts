// A vCPU: one hart run in bounded batches, with the devices KVM keeps in the kernel (CLINT,
// PLIC, boot ROM) and the worker's half of the page cache. Accesses outside RAM, and RAM
// pages this cpu does not hold, leave through the exit channel and block until the host
// answers. worker.ts runs one in a worker thread; specs run one in their own thread, with a
// link that answers each exit before it blocks.
//
// Where the mode monitors hook in (monitor/): in hw and trap the hart ends its run at every
// trap into a mode the monitor plays ('monitor-trap'), and the monitor serves it in this
// thread: a privileged instruction to emulate, an SBI call, a shadow or guest-page fault, a
// virtual interrupt to inject, each counted by reason with ExitChannelWorker.recordLocalExit.
// What must leave the process (MMIO, page fetches) goes through this runner's device path
// and `exit()`, as in emulate.
//
// The hot path: nothing here runs per instruction. The bus callbacks run per device
// access, exits and batch ends allocate at most their request message. A device load first
// looks in the read shadow (exit-channel/read-shadow.ts): a register io-backend granted is
// served there, with no exit, no message and no allocation.
import { GuestRam, Hart, REGISTER_SNAPSHOT_WORDS, type HartExit, type PhysBus } from '@splitvisor/riscv';
import { BOOT_ROM, CLINT, DEFAULT_ENGINE, regionAt } from '@splitvisor/platform';
import { BootRom, Clint, cpuLocalBus, hostClock, IcountClock, Plic, bootRom, plicContextIrq, type LocalBus } from '@splitvisor/machine';
import {
  ExitChannelWorker,
  ExitStatus,
  PostedKind,
  Reason,
  postedKindOf,
  type ReasonIndex,
  type VcpuExitCause,
  type WorkerInit,
  type WorkerRequest,
  shadowClock,
} from './exit-channel/index.js';
import { WorkerPageCache } from './page-cache/worker-cache.js';
import { HwMonitor, type MonitorHost } from './monitor/hw-monitor.js';
import { PvMonitor } from './monitor/pv-monitor.js';
import { TrapMonitor } from './monitor/trap-monitor.js';
import { PollDetector } from './poll-idle.js';
import { RamSpinProbe, CAP_MS as RAM_SPIN_CAP_MS } from './ram-spin.js';

const PAGE = 4096;
/** Pages fetched per miss: the run amortizes one round trip over several pages. */
const FETCH_RUN = 16;
/** How long a posted write may wait while the guest goes on writing: console output is
 *  never stuck behind a guest that stays busy (a batch end asks for the rest). */
const POSTED_MAX_WAIT_MS = 5;
/** Longest WFI sleep without a timer deadline: an idle VM costs one wake-up a second. */
const IDLE_CAP_MS = 1000;
/** Longest sleep of a vCPU spinning on a shadowed register (poll-idle.ts) in a loop that
 *  reads the clock: what it waits for wakes it at once (a revoke, an IRQ line, a recall);
 *  time passing, which such a loop may wait for too (U-Boot's `sleep`, its autoboot
 *  countdown), is this late at most. A loop that does not read the clock sleeps until its
 *  grant's lease runs out (io-backend's --shadow-lease-ms, 1 s by default). */
const POLL_IDLE_CAP_MS = 20;
const DELIVER_POSTED: WorkerRequest = { kind: 'posted' };
/** mie (priv spec 3.1.9): with mip, whether an interrupt waits to be taken. */
const CSR_MIE = 0x304;

/** The worker's way to its host thread (the worker's parentPort). */
export interface WorkerLink {
  postMessage(req: WorkerRequest): void;
}

export type ExitedMessage = Extract<WorkerRequest, { kind: 'exited' }>;

export class VcpuRunner {
  readonly channel: ExitChannelWorker;
  readonly hart: Hart;
  private readonly cache: WorkerPageCache;
  private readonly clint: Clint;
  private readonly plic: Plic;
  private readonly icount: IcountClock | undefined;
  private readonly local: LocalBus;
  private readonly setPlicLevel = (irq: number, level: boolean) => this.plic.setLevel(irq, level);
  /** The monitor the guest runs under (hw: HS-mode; trap: M-mode, the guest in real U);
   *  undefined in emulate, where the guest owns the hart. */
  private readonly monitor: HwMonitor | TrapMonitor | undefined;

  private stopCause: VcpuExitCause | undefined;
  private stopReason = '';
  private exitCode = 0;
  /** Ring entries up to this count are delivered or asked for; the ones after are not yet. */
  private postedAsked: number;
  /** When the oldest entry not yet asked for was posted (ms, host clock). */
  private postedSince = 0;
  /** Instructions of the next batch (see run). */
  private budget: number;
  /** Spin loops on shadowed registers (poll-idle.ts). Undefined in icount mode, where time
   *  is instructions and a spinning guest must spin for its clock to move, and in trap and
   *  pv, whose monitors inject the guest's interrupts in software at a batch end (the hart's
   *  own mip, which pollIdle looks at, does not show them). */
  private readonly polls: PollDetector | undefined;
  /** The batch ended on a spin loop: idle before the next. */
  private pollIdleDue = false;
  /** Spin loops on RAM while a device works (ram-spin.ts); undefined where polls is. */
  private readonly ramSpins: RamSpinProbe | undefined;
  /** Exits and posted writes so far: whether a batch or a probe left the vCPU. */
  private sideEffects = 0;
  private readonly countSideEffects = (): number => this.sideEffects;
  private readonly countClockReads = (): number => this.hart.timeReads + this.clintReads;
  /** The register the loop spins on, and whether its grant still stands (no revoke yet). */
  private pollPa = 0;
  private pollSize: 1 | 2 | 4 | 8 = 1;
  private readonly pollScratch = new Int32Array(2);
  /** Loads of the CLINT (mtime, mtimecmp) the guest made: with the `time` CSR's reads,
   *  whether a polling loop looks at the clock. */
  private clintReads = 0;
  /** The hart's registers at the last poll-idle (Hart.registersUnchanged). */
  private readonly pollRegs = new Int32Array(REGISTER_SNAPSHOT_WORDS);
  private readonly pollStillGranted = (): boolean => this.channel.shadow.serve(this.pollPa, this.pollSize, this.pollScratch);

  constructor(
    private readonly init: WorkerInit,
    private readonly link: WorkerLink,
  ) {
    this.channel = new ExitChannelWorker(init.channel);
    this.postedAsked = this.channel.posted.posted;
    this.budget = Math.min(init.batch, 10_000);
    const ram = new GuestRam(init.ramBase, init.ramSize, init.ramMemory ?? init.ram);
    // The hart's side of mmu's directory protocol (page-cache/): fetches, recalls.
    this.cache = new WorkerPageCache(ram, this.channel, init.recallPort);
    ram.onMiss = (pageIndex, write) => this.pageMiss(pageIndex, write) > 0;
    // The vCPU's own devices (the in-kernel irqchip and timer of KVM): accesses to them
    // never leave this thread.
    this.icount = init.clock === 'icount' ? new IcountClock() : undefined;
    this.polls = this.icount || init.mode === 'trap' || init.mode === 'pv' ? undefined : new PollDetector();
    this.ramSpins = this.polls && new RamSpinProbe(REGISTER_SNAPSHOT_WORDS);
    this.clint = new Clint({
      harts: 1,
      clock: this.icount ? this.icount.now : hostClock(),
      onIrq: (_h, bit, level) => this.hart.setPendingInterrupt(bit, level),
    });
    const hw = init.mode === 'hw';
    const monitored = hw || init.mode === 'trap' || init.mode === 'pv';
    // Under a monitor the PLIC's S-context is the guest's: its output is the guest's virtual
    // SEIP (hvip.VSEIP in hw, the virtual sip in trap), not the hart's own SEIP.
    this.plic = new Plic({
      harts: 1,
      onIrq: (ctx, level) => (monitored && ctx === 1 ? this.monitor!.setExternal(level) : this.hart.setPendingInterrupt(plicContextIrq(ctx), level)),
    });
    // QEMU's reset vector: a0 = mhartid, a1 = the DTB, a2 = fw_dynamic_info, then a jump
    // to the entry (the firmware at 0x80000000, or the image when there is none).
    const romImage = bootRom({ entry: init.entry, dtbAddr: init.dtbAddr });
    this.local = cpuLocalBus({ bootRom: new BootRom(romImage), clint: this.clint, plic: this.plic });
    const bus: PhysBus = {
      load: (pa, size, out) => this.load(pa, size, out),
      store: (pa, size, lo, hi) => this.store(pa, size, lo, hi),
    };
    this.hart = new Hart({
      hartId: init.hartId,
      ram,
      bus,
      resetPc: BOOT_ROM.base,
      roms: [{ base: BOOT_ROM.base, bytes: romImage }],
      // The `time` CSR reads the CLINT's mtime, as on QEMU virt.
      timeSource: () => this.clint.mtime(),
      // hw: H with the monitor in HS; emulate: H only when the VM asks for it (cpu.h).
      ...(hw ? { h: true } : { h: init.h ?? false }),
      ...(monitored && { monitorTraps: true }),
      engine: init.engine ?? DEFAULT_ENGINE,
    });
    if (monitored) {
      const host: MonitorHost = {
        load: (pa, size, out) => this.load(pa, size, out),
        store: (pa, size, lo, hi) => this.store(pa, size, lo, hi),
        fetch: (page, write) => this.pageMiss(page, write),
        idle: (deadline) => this.idle(deadline),
        now: () => this.clint.mtime(),
        recordLocalExit: (reason, ms) => this.channel.recordLocalExit(reason, ms),
        poweroff: (code) => this.end('poweroff', `guest powered off with code ${code} (SBI)`, code),
        reset: () => this.end('reset', 'guest requested a reset (SBI)', 0),
        fail: (why) => this.failVcpu(why),
        log: (msg, fields) => this.link.postMessage({ kind: 'log', level: 'warn', msg, fields }),
      };
      const at = { hartId: init.hartId, ramBase: init.ramBase, ramSize: init.ramSize, entry: init.entry, dtbAddr: init.dtbAddr };
      if (hw) {
        const m = new HwMonitor(this.hart, ram, host, at);
        this.cache.onLowered = (pages) => m.pagesLowered(pages);
        this.monitor = m;
      } else {
        // trap: the shadow maps RAM whatever this cpu holds; a page not held is fetched by
        // the hart's own miss path when the guest touches it, as in emulate.
        // pv: the same until the guest registers for paravirtualization (pv-monitor.ts).
        this.monitor = init.mode === 'pv' ? new PvMonitor(this.hart, ram, host, at) : new TrapMonitor(this.hart, ram, host, at);
      }
    }
    // Power-on state of the local devices: every line announced (MTIP is high, mtimecmp = 0).
    this.local.reset();
    this.channel.applyIrqLines(this.setPlicLevel);
    // hw, trap: no boot ROM, no firmware: the monitor enters the kernel (in VS-mode in hw,
    // KVM's way; in real U-mode, virtual S, in trap).
    this.monitor?.start();
  }

  /** Runs until the guest powers off or resets, the host stops it, or it fails; tells the
   *  host why and returns that. */
  run(): ExitedMessage {
    const ch = this.channel;
    const started = performance.now();
    for (;;) {
      this.cache.safepoint();
      this.parkWhilePaused();
      if (ch.stopRequested) {
        this.stopCause ??= 'stopped';
        this.stopReason ||= 'stopped by the host';
        break;
      }
      const t0 = performance.now();
      const before = this.hart.stats.instret;
      const fx = this.sideEffects;
      let e = this.hart.run(this.cache.budget(this.budget)); // short while recalls come: see WorkerPageCache.budget
      const now = performance.now();
      this.icount?.advance(this.hart.stats.instret - before);
      this.clint.tick();
      ch.applyIrqLines(this.setPlicLevel);
      // Batches are bounded in instructions, but exits cost wall time: a guest that exits
      // every few instructions would take seconds per batch. Keep each batch near 2-10 ms
      // so stats, stop requests and interrupts are seen promptly.
      if (now - t0 > 10) this.budget = Math.max(1000, this.budget >> 1);
      else if (now - t0 < 2) this.budget = Math.min(this.init.batch, this.budget * 2);
      ch.progress(this.hart.stats.instret, (now - started) / 1000, this.hart.translationStats());
      // Whatever the guest posted goes out at the end of a batch at the latest, before it
      // sleeps in WFI, and before it parks or stops (the host also delivers then).
      this.askDelivery();
      if (e.kind === 'budget' && this.sideEffects === fx && this.ramSpins?.due()) {
        const p = this.ramSpins.probe(this.hart, this.countSideEffects, this.countClockReads);
        if (p.kind === 'spin') {
          this.ramSpinIdle();
          continue;
        }
        if (p.kind === 'exit') e = p.exit;
      }
      if (e.kind === 'monitor-trap') {
        this.monitor!.handleTrap();
        continue;
      }
      // At an instruction boundary in the guest: the monitor's timers and injections.
      this.monitor?.tick();
      if (this.pollIdleDue) {
        this.pollIdleDue = false;
        this.pollIdle();
        if (e.kind === 'stopped' && this.stopCause === undefined && !ch.stopRequested) continue;
      }
      if (e.kind === 'budget' || this.localExit(e)) continue;
      if (e.kind === 'fatal') {
        this.stopCause ??= 'fatal';
        this.stopReason ||= e.reason;
      } else if (this.stopCause === undefined && !ch.stopRequested) {
        // stop() at an exit safepoint because the host asked for a pause: park at the loop top.
        continue;
      } else if (this.stopCause === undefined) {
        // stop() from an exit safepoint on the host's request.
        this.stopCause = 'stopped';
        this.stopReason = 'stopped by the host';
      }
      break;
    }
    ch.progress(this.hart.stats.instret, undefined, this.hart.translationStats());
    const exited: ExitedMessage = { kind: 'exited', reason: this.stopReason, exitCode: this.exitCode, cause: this.stopCause ?? 'stopped' };
    this.link.postMessage(exited);
    return exited;
  }

  /**
   * The exits handled inside this thread (see the header): true when `e` was one, and the
   * vCPU goes on. WFI: idle without burning the host core until the next timer deadline, an
   * IRQ line change or any other host request. In icount mode time jumps to the deadline
   * instead: nothing else could happen meanwhile but an IRQ line.
   */
  private localExit(e: HartExit): boolean {
    if (e.kind !== 'wfi') return false;
    const t0 = performance.now();
    // The earlier of the CLINT's mtimecmp and the hart's own stimecmp (Sstc): a kernel that
    // sees Sstc in the device tree arms stimecmp, and so does OpenSBI's set_timer on a hart
    // that has it; sleeping past it would make every timer of an idle guest up to a second late.
    this.idle(this.hart.timerDeadline());
    this.channel.recordLocalExit(Reason.Wfi, performance.now() - t0);
    return true;
  }

  /** The guest spins on a shadowed register: idle as in WFI, but for at most
   *  POLL_IDLE_CAP_MS, since the loop may be waiting for time too. A revoke of the grant
   *  (the register is about to change) wakes it like an IRQ line does. */
  private pollIdle(): void {
    // An interrupt pending and enabled (it came with this batch) is taken first: the loop
    // may be over already.
    if ((this.hart.getPendingInterrupts() & Number(this.hart.readCsr(CSR_MIE) ?? 0n)) !== 0) return;
    const t0 = performance.now();
    // A loop that did not look at the clock, and left the hart's registers as they were at
    // the last sighting, waits for the register alone: while the grant stands, only a
    // revoke (or an interrupt, a recall, a timer) can end it. When the grant runs out the
    // next read exits and io-backend answers with the register as it is. A loop that
    // changed a register between two sightings may be counting towards a timeout of its
    // own: it gets the short cap (and so does the first sighting).
    const unchanged = this.hart.registersUnchanged(this.pollRegs);
    const cap =
      this.polls!.loopReadClock || !unchanged
        ? POLL_IDLE_CAP_MS
        : Math.max(0, Math.min(IDLE_CAP_MS, this.channel.shadow.expiresAt(this.pollPa) - shadowClock()));
    this.idle(this.hart.timerDeadline(), cap, this.pollStillGranted);
    this.channel.recordLocalExit(Reason.PollIdle, performance.now() - t0);
  }

  /** The guest spins on RAM while a device works (ram-spin.ts): idle as in WFI, but for at
   *  most RAM_SPIN_CAP_MS; a recall of the page it reads (the device's answer), an interrupt,
   *  a pause or a stop wakes it. Counted as a poll-idle: a spin loop the vCPU slept through. */
  private ramSpinIdle(): void {
    const t0 = performance.now();
    this.idle(this.hart.timerDeadline(), RAM_SPIN_CAP_MS);
    this.channel.recordLocalExit(Reason.PollIdle, performance.now() - t0);
  }

  /** Idles until the CLINT's next deadline or `deadline` (time ticks, e.g. an Sstc or SBI
   *  timer), an IRQ line change or any other host request, or `capMs`; then feeds the PLIC. */
  private idle(deadline: number, capMs = IDLE_CAP_MS, stillIdle?: () => boolean): void {
    const ch = this.channel;
    const sstc = deadline - this.clint.mtime();
    const ticks = Math.min(this.clint.nextDeadline(0), Math.max(0, sstc));
    if (this.icount && Number.isFinite(ticks) && !ch.irqDirty) {
      this.icount.skip(ticks);
    } else {
      const wake = ch.wakeSeq;
      // Everything that could end the idle (IRQ lines, recalls, pause, stop, a revoke of
      // the read shadow) bumps the wake counter, so in WFI the cap only bounds how stale the
      // stats of an idle vCPU get. A poll loop's grant revoked before the counter was read
      // is seen by `stillIdle`.
      const ms = Math.min(capMs, Math.max(0, ticks / 10_000));
      if (!ch.irqDirty && !this.cache.ordersWaiting() && (stillIdle === undefined || stillIdle())) ch.sleep(wake, ms);
    }
    this.clint.tick();
    ch.applyIrqLines(this.setPlicLevel);
  }

  /** Posts a request and blocks until the host replies; returns the ExitStatus. */
  private exit(req: WorkerRequest, reason: ReasonIndex): number {
    const ch = this.channel;
    const t0 = performance.now();
    this.sideEffects++;
    ch.beginExit();
    this.link.postMessage(req);
    this.cache.waitReply();
    // An exit is a safepoint too: a guest that exits on every few instructions would
    // otherwise see a stop request only after a whole batch of slow exits.
    if (ch.stopRequested || ch.pauseRequested) this.hart.stop();
    ch.applyIrqLines(this.setPlicLevel);
    // Both kinds of exit take the posted ring with them before they are served.
    this.postedAsked = ch.posted.posted;
    const ms = performance.now() - t0;
    ch.recordExit(reason, ms);
    if (req.kind === 'mmio') ch.recordMmio(req.addr, req.write, ms);
    return ch.replyStatus;
  }

  /** Fetches `pageIndex` and the Invalid run after it; the pages installed (0: failed). */
  private pageMiss(pageIndex: number, write: boolean): number {
    const count = this.cache.runLength(pageIndex, write, FETCH_RUN);
    const status = this.exit({ kind: 'fetch', pageIndex, count, write }, Reason.PageFetch);
    if (status !== ExitStatus.Ok) {
      if (status === ExitStatus.Failed) this.failVcpu(`page fetch of gpa 0x${(this.init.ramBase + pageIndex * PAGE).toString(16)} failed`);
      return 0;
    }
    // Shared copies for a read, the only writable ones for a write. Recalls wait for the
    // next safepoint: never between a fetch and the access that needed it.
    this.cache.install(pageIndex, count, write);
    return count;
  }

  /** The guest ended the VM itself without a device (hw: SBI SRST). */
  private end(cause: 'poweroff' | 'reset', reason: string, exitCode: number): void {
    this.stopCause ??= cause;
    this.stopReason ||= reason;
    this.exitCode = exitCode;
    this.hart.stop();
  }

  private load(pa: number, size: 1 | 2 | 4 | 8, out: Int32Array): boolean {
    const r = this.local.load(pa, size, out);
    if (r !== undefined) {
      if (pa >= CLINT.base && pa < CLINT.base + CLINT.size) this.clintReads++;
      return r.ok;
    }
    // A register io-backend granted (its read has no side effect now): no exit.
    if (this.channel.shadow.serve(pa, size, out)) {
      this.channel.recordShadowed(pa);
      // The load completes; the batch ends after it, and the vCPU idles (run).
      if (this.polls?.read(pa, out[0]!, out[1]!, this.hart.timeReads + this.clintReads)) {
        this.pollIdleDue = true;
        this.pollPa = pa;
        this.pollSize = size;
        this.hart.stop();
      }
      return true;
    }
    this.polls?.reset();
    if (!this.isDeviceAddress(pa, size, false)) return false;
    const status = this.exit({ kind: 'mmio', addr: pa, size, write: false, lo: 0, hi: 0 }, Reason.MmioRead);
    return this.finishMmio(status, out);
  }

  private store(pa: number, size: 1 | 2 | 4 | 8, lo: number, hi: number): boolean {
    this.polls?.reset();
    const r = this.local.store(pa, size, lo, hi);
    if (r !== undefined) return r.ok;
    if (this.tryPost(pa, size, lo, hi)) return true;
    if (!this.isDeviceAddress(pa, size, true)) return false;
    const status = this.exit({ kind: 'mmio', addr: pa, size, write: true, lo, hi }, Reason.MmioWrite);
    return this.finishMmio(status, undefined);
  }

  private finishMmio(status: number, out: Int32Array | undefined): boolean {
    const ch = this.channel;
    switch (status) {
      case ExitStatus.Ok:
        if (out) {
          out[0] = ch.replyLo;
          out[1] = ch.replyHi;
        }
        return true;
      case ExitStatus.AccessFault:
        return false;
      case ExitStatus.Poweroff:
        this.stopCause = 'poweroff';
        this.exitCode = ch.replyLo;
        this.stopReason = `guest powered off with code ${this.exitCode}`;
        this.hart.stop();
        break;
      case ExitStatus.Reset:
        this.stopCause = 'reset';
        this.stopReason = 'guest requested a reset';
        this.hart.stop();
        break;
      default:
        this.failVcpu('MMIO exit failed');
    }
    if (out) out[0] = out[1] = 0;
    return true;
  }

  private failVcpu(why: string): void {
    this.stopCause ??= 'exit-failed';
    this.stopReason ||= why;
    this.hart.stop();
  }

  /** Only io-backend's regions leave the cpu; anything else that is not RAM is unmapped
   *  (the cpu knows the machine's memory map, as KVM knows its memslots). */
  private isDeviceAddress(pa: number, size: number, write: boolean): boolean {
    const r = regionAt(pa);
    if (r !== undefined && r.home === 'io-backend' && pa + size <= r.base + r.size) return true;
    this.link.postMessage({
      kind: 'log',
      level: 'warn',
      msg: `guest access fault: ${write ? 'store' : 'load'} of ${size} bytes at unmapped 0x${pa.toString(16)}`,
      fields: { addr: '0x' + pa.toString(16), pc: '0x' + this.hart.getPc().toString(16) },
    });
    return false;
  }

  /** Asks the host to deliver what the ring holds; the vCPU goes on meanwhile. */
  private askDelivery(): void {
    const posted = this.channel.posted.posted;
    if (posted === this.postedAsked) return;
    this.postedAsked = posted;
    this.link.postMessage(DELIVER_POSTED);
  }

  /** Posts a store instead of exiting (posted-ring.ts: coalesced UART transmit, virtio
   *  doorbells), when it is one that may be posted and the ring has room. */
  private tryPost(pa: number, size: number, lo: number, hi: number): boolean {
    const ch = this.channel;
    const kind = postedKindOf(pa, size);
    if (kind === -1 || !ch.posted.post(kind, pa, size, lo, hi)) return false;
    ch.recordPosted(pa, kind);
    this.sideEffects++;
    if (kind === PostedKind.Doorbell) {
      this.ramSpins?.doorbell();
      // The device should hear it now; it stays behind the writes posted before it.
      this.askDelivery();
      return true;
    }
    const now = performance.now();
    if (((ch.posted.posted - this.postedAsked) | 0) === 1) this.postedSince = now;
    else if (now - this.postedSince >= POSTED_MAX_WAIT_MS) this.askDelivery();
    return true;
  }

  /** Parks the vCPU while the host holds it paused; returns when resumed or stopped. */
  private parkWhilePaused(): void {
    const ch = this.channel;
    if (!ch.pauseRequested) return;
    ch.setParked(true);
    while (ch.pauseRequested && !ch.stopRequested) {
      // A paused VM's pages are still recalled (DMA, snapshots). The wake counter is read
      // before looking for orders: one posted after the look has bumped it.
      const wake = ch.wakeSeq;
      this.cache.safepoint();
      ch.sleep(wake, 1000);
    }
    ch.setParked(false);
  }
}
