// The host side of one VM's vCPU: owns the worker thread and the VM's RAM cache, and serves
// the worker's exits through its ports (ports/: page fetches to the guest pages' home, MMIO
// to the device model), as a VMM's vCPU loop serves KVM_RUN's exits.
import { Worker } from 'node:worker_threads';
import type { IoV1 } from '@splitvisor/proto';
import { RpcError } from '@splitvisor/rpc';
import { vmLogger, type Logger } from '@splitvisor/log';
import { DEFAULT_ENGINE, hex, PAGE_SIZE, summarize, type LatencySummary, type VmMode } from '@splitvisor/platform';
import { fitsWasm, newWasmMemory, type Engine } from '@splitvisor/riscv';
import { IrqLineFollower } from './irq-lines.js';
import { HostPageCache } from './page-cache/host-cache.js';
import { PostedDelivery } from './posted-delivery.js';
import { ShadowGrants } from './read-shadow.js';
import type { VcpuPorts } from './ports/index.js';
import {
  ExitChannelHost,
  ExitStatus,
  type CodeCacheStats,
  type InitMessage,
  type VcpuExitCause,
  type WorkerInit,
  type WorkerRequest,
} from './exit-channel/index.js';
import { workerUrl, type SpareWorkers } from './spare-workers.js';

export interface VcpuOptions {
  /** Deadline of one exit's call: past it the VM fails rather than hangs. */
  exitDeadlineMs: number;
  log: Logger;
  /** Where the vCPU thread comes from (none: a new thread for each VM). */
  spares?: SpareWorkers;
}

export interface VcpuExit {
  cause: VcpuExitCause;
  reason: string;
  exitCode: number;
}

/** A VM's vCPU as the cpu reports it (CpuV1.VmStats with every field present). */
export interface VcpuStats {
  vmId: string;
  instret: number;
  runSeconds: number;
  running: boolean;
  paused: boolean;
  exits: { reason: string; count: number; totalMs: number }[];
  mmioLatency: LatencySummary;
  /** Exits, posted stores and shadowed loads per device region the guest touched. */
  devices: { device: string; reads: number; writes: number; totalMs: number; posted: number; shadowed: number }[];
  mode: VmMode;
  engine: Engine;
  /** The translator's code cache (CpuV1.CodeCache; zeros with the interpreter). */
  codeCache: CodeCacheStats;
}

export interface VmSpec {
  vmId: string;
  ramBase: number;
  ramSize: number;
  entry: number;
  dtbAddr: number;
  clock: 'host' | 'icount';
  /** How the guest kernel runs (validated by VmManager against the modes this cpu has). */
  mode: VmMode;
  /** The hart has the H extension (VmManager allows it with mode emulate only); absent: not. */
  h?: boolean;
  /** How the hart runs guest code (riscv Engine); absent: the interpreter. */
  engine?: Engine;
}

/** Instructions per batch: long enough to amortize the loop, short enough that a stop
 *  request is seen within a few milliseconds. */
const BATCH = 200_000;

export class VcpuHost {
  private readonly worker: Worker;
  private readonly ram: Uint8Array;
  /** The host's end of the exit channel: replies, requests, the exit table. */
  private readonly channel = new ExitChannelHost();
  /** This vCPU's cache of guest RAM under mmu's directory protocol. */
  readonly cache: HostPageCache;
  private readonly log: Logger;
  private readonly irq: IrqLineFollower;
  /** Stores the vCPU posted instead of exiting: coalesced MMIO and doorbells. */
  readonly posted: PostedDelivery;
  /** Device registers io-backend lets the vCPU read without an exit (read-shadow.ts). */
  readonly shadow: ShadowGrants;
  /** The thread said it stopped (or crashed): its exit is being finished. */
  private exitReported = false;
  private lastExitError = '';
  private faultsLogged = 0;
  readonly exited: Promise<VcpuExit>;
  private exitInfo: VcpuExit | undefined;
  private writtenBack: Promise<void> | undefined;
  /** Why the host asked the vCPU to stop, reported instead of the worker's generic words. */
  private stopRequest = '';

  constructor(
    readonly spec: VmSpec,
    private readonly ports: VcpuPorts,
    opts: VcpuOptions,
  ) {
    this.log = vmLogger(opts.log, spec.vmId, 0);
    // The translator emits WebAssembly for blocks whose RAM is in a WebAssembly memory
    // (riscv wasm-memory.ts): guest RAM first, the hart's tables after it.
    const ramMemory = (spec.engine ?? DEFAULT_ENGINE) === 'translate' && fitsWasm(spec.ramSize) ? newWasmMemory(spec.ramSize) : undefined;
    const ramBuf = ramMemory ? (ramMemory.buffer as SharedArrayBuffer) : new SharedArrayBuffer(spec.ramSize);
    this.ram = new Uint8Array(ramBuf, 0, spec.ramSize);
    this.cache = new HostPageCache({
      vmId: spec.vmId,
      ramBase: spec.ramBase,
      ram: this.ram,
      recallDoorbell: this.channel,
      pages: ports.pages,
      recalls: ports.recalls,
      log: this.log,
      exitDeadlineMs: opts.exitDeadlineMs,
    });
    this.posted = new PostedDelivery({
      vmId: spec.vmId,
      vcpu: 0,
      ring: this.channel.posted,
      mmio: ports.mmio,
      doorbells: ports.doorbells,
      deadlineMs: opts.exitDeadlineMs,
      log: this.log,
      onFailure: (why) => this.requestStop(why),
    });
    this.shadow = new ShadowGrants(this.channel.shadow, ports.shadowRevokes, this.log, () => this.channel.wakeIdle());
    const init: WorkerInit = {
      vmId: spec.vmId,
      hartId: 0,
      ramBase: spec.ramBase,
      ramSize: spec.ramSize,
      entry: spec.entry,
      dtbAddr: spec.dtbAddr,
      ram: ramBuf,
      ...(ramMemory && { ramMemory }),
      channel: this.channel.buffers,
      clock: spec.clock,
      mode: spec.mode,
      h: spec.h ?? false,
      engine: spec.engine ?? DEFAULT_ENGINE,
      batch: BATCH,
      recallPort: this.cache.workerPort,
    };
    const thread = opts.spares?.take() ?? { worker: new Worker(workerUrl()), spare: false };
    this.worker = thread.worker;
    const spares = opts.spares;
    if (spares) this.worker.once('exit', () => spares.threadEnded());
    const start: InitMessage = { kind: 'init', init };
    this.worker.postMessage(start, [this.cache.workerPort]);
    this.exited = new Promise<VcpuExit>((resolve) => {
      this.worker.on('message', (req: WorkerRequest) => {
        if (req.kind === 'exited') {
          this.exitReported = true;
          this.finishExit(() => this.exitOf(req), resolve);
          return;
        }
        void this.serve(req);
      });
      this.worker.on('error', (e) => {
        this.exitReported = true;
        this.log.error({ err: e.message }, 'vCPU thread crashed');
        this.finishExit(() => ({ cause: 'fatal', reason: `vCPU thread crashed: ${e.message}`, exitCode: 0 }), resolve);
      });
      this.worker.on('exit', (code) => {
        if (this.exitReported) return;
        this.finishExit(() => ({ cause: 'fatal', reason: `vCPU thread exited with code ${code}`, exitCode: 0 }), resolve);
      });
    });
    this.irq = new IrqLineFollower(ports.irqLines, this.channel, this.log);
    void this.irq.start();
    void this.shadow.start();
    void this.exited.then(() => {
      this.irq.stop();
      this.shadow.stop();
      ports.mmio.close();
    });
    this.log.info(
      { entry: hex(spec.entry), ram: `${spec.ramSize >> 20} MiB at ${hex(spec.ramBase)}`, clock: spec.clock, spareThread: thread.spare },
      'vCPU started',
    );
  }

  /** What the vCPU posted last reaches io-backend before anyone hears it stopped; then the
   *  exit is final. */
  private finishExit(info: () => VcpuExit, resolve: (e: VcpuExit) => void): void {
    void this.posted.flush().then(() => {
      if (this.exitInfo) return;
      this.exitInfo = info();
      this.cache.workerExited();
      resolve(this.exitInfo);
    });
  }

  private exitOf(req: Extract<WorkerRequest, { kind: 'exited' }>): VcpuExit {
    // A stop the host asked for because posted writes were lost is a failed exit.
    if (this.posted.failure !== undefined && req.cause === 'stopped') {
      return { cause: 'exit-failed', reason: `stopped: ${this.posted.failure}`, exitCode: req.exitCode };
    }
    const reason = req.cause === 'stopped' && this.stopRequest ? this.stopRequest : this.lastExitError ? `${req.reason}: ${this.lastExitError}` : req.reason;
    return { cause: req.cause, reason, exitCode: req.exitCode };
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  private async serve(req: WorkerRequest): Promise<void> {
    try {
      if (req.kind === 'mmio') await this.serveMmio(req);
      else if (req.kind === 'fetch') await this.serveFetch(req);
      else if (req.kind === 'posted') await this.posted.flush();
      else if (req.kind === 'log') this.log[req.level](req.fields, req.msg);
    } catch (e) {
      // Never leave the worker blocked: any failure is an answer too.
      this.lastExitError = e instanceof Error ? e.message : String(e);
      this.channel.reply(ExitStatus.Failed);
    }
  }

  private async serveMmio(req: Extract<WorkerRequest, { kind: 'mmio' }>): Promise<void> {
    const what = `MMIO ${req.write ? 'write' : 'read'} of ${req.size} bytes at ${hex(req.addr)}`;
    let res: IoV1.MmioReply__Output;
    let posted: IoV1.PostedWrite[];
    try {
      posted = await this.posted.beforeExit();
    } catch (e) {
      this.lastExitError = `${what} failed: ${(e as Error).message}`;
      this.channel.reply(ExitStatus.Failed);
      return;
    }
    // The reply says what the device is after this access: the old grant goes now.
    this.shadow.beforeExit(req.addr);
    try {
      res = await this.ports.mmio.access({ addr: req.addr, size: req.size, write: req.write, valueLo: req.lo >>> 0, valueHi: req.hi >>> 0, posted });
    } catch (e) {
      const err = e instanceof RpcError ? `${e.code}: ${e.message}` : String(e);
      this.lastExitError = `${what} failed: io-backend at ${this.ports.mmio.address} ${err}`;
      this.log.error({ addr: hex(req.addr), err }, 'MMIO exit failed; the VM cannot go on');
      this.channel.reply(ExitStatus.Failed);
      return;
    }
    if (res.status !== 'MMIO_OK') {
      if (this.faultsLogged++ < 20) this.log.warn({ addr: hex(req.addr), detail: res.detail }, `guest access fault: ${what}`);
      this.channel.reply(ExitStatus.AccessFault);
      return;
    }
    // Lines the access moved take effect before the guest's next instruction, and so does
    // the device's new grant.
    for (const l of res.irqLines) this.irq.apply(l);
    if (res.event !== 'SYSTEM_EVENT_NONE') this.shadow.dropAll();
    else this.shadow.take(res.shadow);
    if (res.event === 'SYSTEM_EVENT_POWEROFF') this.channel.reply(ExitStatus.Poweroff, res.exitCode);
    else if (res.event === 'SYSTEM_EVENT_RESET') this.channel.reply(ExitStatus.Reset);
    else this.channel.reply(ExitStatus.Ok, res.valueLo | 0, res.valueHi | 0);
  }

  private async serveFetch(req: Extract<WorkerRequest, { kind: 'fetch' }>): Promise<void> {
    // KVM drains the coalesced ring before it handles any exit. mmu cannot observe device
    // state, but one rule keeps the order argument simple (the ring is almost always empty
    // here, and then nothing is sent).
    await this.posted.flush();
    if (this.posted.failure !== undefined) {
      this.channel.reply(ExitStatus.Failed);
      return;
    }
    try {
      // The cache wakes the worker once the bytes are in RAM, before recalls that waited
      // for this grant go to it.
      await this.cache.fetch(req.pageIndex, req.count, req.write, () => this.channel.reply(ExitStatus.Ok));
    } catch (e) {
      const err = e instanceof RpcError ? `${e.code}: ${e.message}` : String(e);
      this.lastExitError = `fetching ${req.count} pages at ${hex(this.spec.ramBase + req.pageIndex * PAGE_SIZE)} from mmu at ${this.ports.pages.address} failed: ${err}`;
      this.log.error({ err }, 'page fetch failed; the VM cannot go on');
      this.channel.reply(ExitStatus.Failed);
    }
  }

  get paused(): boolean {
    return this.channel.parked;
  }

  /** Parks the vCPU at its next safepoint; resolves once it is parked (or has exited). */
  async pause(timeoutMs = 5000): Promise<void> {
    this.channel.requestPause(true);
    const end = Date.now() + timeoutMs;
    while (this.running && !this.paused) {
      if (Date.now() > end) throw new Error(`vCPU of ${this.spec.vmId} did not reach a safepoint within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
    // A parked vCPU has nothing in flight: what it posted is applied before pause returns.
    await this.posted.flush();
  }

  /** Lets a parked vCPU go on; resolves once it has left its safepoint. */
  async resume(timeoutMs = 5000): Promise<void> {
    this.channel.requestPause(false);
    const end = Date.now() + timeoutMs;
    while (this.running && this.paused) {
      if (Date.now() > end) throw new Error(`vCPU of ${this.spec.vmId} did not resume within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Asks the vCPU to stop at its next batch boundary, waits for it, writes pages back. */
  async stop(reason: string, timeoutMs = 5000): Promise<VcpuExit> {
    if (this.running) {
      this.requestStop(reason);
      const timer = setTimeout(() => {
        this.log.warn({ reason }, 'vCPU did not stop in time; terminating its thread');
        void this.worker.terminate();
      }, timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    await this.writeBack();
    await this.worker.terminate();
    return this.exitInfo!;
  }

  /** Asks the worker to stop at its next safepoint, giving `reason` as why. */
  private requestStop(reason: string): void {
    this.stopRequest ||= reason;
    this.channel.requestStop();
  }

  /** Every page the cache holds returns to mmu (Modified ones with their bytes), and the
   *  cache stops answering recalls: mmu has forgotten it. */
  writeBack(): Promise<void> {
    this.writtenBack ??= this.cache
      .writeBackAll()
      .catch((e: unknown) => {
        this.log.error({ err: (e as Error).message }, 'write-back to mmu failed');
      })
      .finally(() => this.cache.close());
    return this.writtenBack;
  }

  stats(): VcpuStats {
    const t = this.channel.stats();
    return {
      vmId: this.spec.vmId,
      instret: t.instret,
      runSeconds: t.runSeconds,
      running: this.running,
      paused: this.running && this.paused,
      exits: t.exits,
      mmioLatency: summarize(t.mmioLatencyUs),
      devices: t.devices.map(({ region, ...n }) => ({ device: `${region.name}@${hex(region.base)}`, ...n })),
      mode: this.spec.mode,
      engine: this.spec.engine ?? DEFAULT_ENGINE,
      codeCache: t.codeCache,
    };
  }
}
