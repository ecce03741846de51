// The host thread's end of a vCPU's exit channel: it answers the exit the worker is blocked
// in, asks it to stop, park or go on, rings it for recalls and IRQ line changes, and reads
// its exit table. Nothing else on the host side touches the shared words.
import { MACHINE_REGIONS, PLIC_SOURCES, type MachineRegion } from '@splitvisor/platform';
import {
  CTRL_HI,
  CTRL_IRQ_DIRTY,
  CTRL_LO,
  CTRL_PARKED,
  CTRL_PAUSE,
  CTRL_RECALL,
  CTRL_REPLY,
  CTRL_STATUS,
  CTRL_STOP,
  CTRL_WAKE,
  CTRL_WORDS,
  DEVICE_MS,
  DEVICE_POSTED,
  DEVICE_READS,
  DEVICE_WRITES,
  DOORBELL,
  REPLIED,
  STATS_DEVICE_START,
  STATS_DEVICE_WORDS,
  STATS_INSTRET,
  STATS_RING_COUNT,
  STATS_RING_SIZE,
  STATS_RING_START,
  STATS_RUN_SECONDS,
  STATS_WORDS,
  statsCountIndex,
  statsTimeIndex,
} from './layout.js';
import { EXIT_REASONS, type ExitChannelBuffers, type ExitReason, type ExitStatusValue } from './messages.js';
import { POSTED_BYTES, PostedRingReader } from './posted-ring.js';

/** The worker's exit table as the host reads it. */
export interface ExitTable {
  instret: number;
  runSeconds: number;
  exits: { reason: ExitReason; count: number; totalMs: number }[];
  /** The latest MMIO exit round trips in µs (a view of the shared ring: copy to keep). */
  mmioLatencyUs: Float64Array;
  /** Regions the guest touched, with their exits and posted stores. */
  devices: { region: MachineRegion; reads: number; writes: number; totalMs: number; posted: number }[];
}

/** Makes the shared blocks of a new channel (zeroed: no request, every line low). */
export function allocateExitChannel(): ExitChannelBuffers {
  return {
    ctrl: new SharedArrayBuffer(CTRL_WORDS * 4),
    stats: new SharedArrayBuffer(STATS_WORDS * 8),
    irqLevels: new SharedArrayBuffer(PLIC_SOURCES * 4),
    posted: new SharedArrayBuffer(POSTED_BYTES),
  };
}

export class ExitChannelHost {
  private readonly ctrl: Int32Array;
  private readonly statsView: Float64Array;
  private readonly levels: Int32Array;
  /** The host's end of the posted-write ring. */
  readonly posted: PostedRingReader;

  constructor(readonly buffers: ExitChannelBuffers = allocateExitChannel()) {
    this.ctrl = new Int32Array(buffers.ctrl);
    this.statsView = new Float64Array(buffers.stats);
    this.levels = new Int32Array(buffers.irqLevels);
    this.posted = new PostedRingReader(buffers.posted);
  }

  /** Answers the exit the worker is blocked in (lo/hi: the data read, or a poweroff's code). */
  reply(status: ExitStatusValue, lo = 0, hi = 0): void {
    const c = this.ctrl;
    Atomics.store(c, CTRL_LO, lo);
    Atomics.store(c, CTRL_HI, hi);
    Atomics.store(c, CTRL_STATUS, status);
    // The answer is published last: the worker reads the words above only after it.
    Atomics.store(c, CTRL_REPLY, REPLIED);
    Atomics.notify(c, CTRL_REPLY);
  }

  /** Asks the worker to stop at its next safepoint (a batch boundary or an exit). */
  requestStop(): void {
    Atomics.store(this.ctrl, CTRL_STOP, 1);
    this.wake();
  }

  /** Asks the worker to park at its next safepoint (true), or to go on (false). */
  requestPause(pause: boolean): void {
    Atomics.store(this.ctrl, CTRL_PAUSE, pause ? 1 : 0);
    this.wake();
  }

  /** The worker is parked (it has nothing in flight). */
  get parked(): boolean {
    return Atomics.load(this.ctrl, CTRL_PARKED) === 1;
  }

  /** Sets an IRQ line's level; when it changed, the worker feeds it to its PLIC at the next
   *  safepoint and is woken from WFI. True when it changed. */
  setIrqLevel(irq: number, level: boolean): boolean {
    const v = level ? 1 : 0;
    if (Atomics.exchange(this.levels, irq, v) === v) return false;
    Atomics.store(this.ctrl, CTRL_IRQ_DIRTY, 1);
    this.wake();
    return true;
  }

  /** The recall doorbell: a recall order was posted on the recall port. It is counted, it
   *  rings a worker waiting for an exit's answer (which may itself wait for that order),
   *  and it wakes one idle or parked. */
  ringRecall(): void {
    const c = this.ctrl;
    Atomics.add(c, CTRL_RECALL, 1);
    Atomics.compareExchange(c, CTRL_REPLY, 0, DOORBELL);
    Atomics.notify(c, CTRL_REPLY);
    this.wake();
  }

  private wake(): void {
    Atomics.add(this.ctrl, CTRL_WAKE, 1);
    Atomics.notify(this.ctrl, CTRL_WAKE);
  }

  /** The exit table as the worker left it last (it writes at each exit and batch end). */
  stats(): ExitTable {
    const s = this.statsView;
    return {
      instret: s[STATS_INSTRET]!,
      runSeconds: s[STATS_RUN_SECONDS]!,
      exits: EXIT_REASONS.map((reason, i) => ({ reason, count: s[statsCountIndex(i)]!, totalMs: s[statsTimeIndex(i)]! })),
      mmioLatencyUs: s.subarray(STATS_RING_START, STATS_RING_START + Math.min(s[STATS_RING_COUNT]!, STATS_RING_SIZE)),
      devices: MACHINE_REGIONS.flatMap((region, i) => {
        const at = STATS_DEVICE_START + i * STATS_DEVICE_WORDS;
        const [reads, writes, totalMs, posted] = [s[at + DEVICE_READS]!, s[at + DEVICE_WRITES]!, s[at + DEVICE_MS]!, s[at + DEVICE_POSTED]!];
        return reads + writes + posted === 0 ? [] : [{ region, reads, writes, totalMs, posted }];
      }),
    };
  }
}
