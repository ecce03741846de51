// The host thread's end of a vCPU's exit channel: it answers the exit the worker is blocked
// in, asks it to stop, park or go on, rings it for recalls and IRQ line changes, and reads
// its exit table. Nothing else on the host side touches the shared words.
import { MACHINE_REGIONS, PLIC_SOURCES, type MachineRegion } from '@splitvisor/platform';
// The host end is off the hot path: the word map by name.
import * as words from './layout.js';
import { EXIT_REASONS, type ExitChannelBuffers, type ExitReason, type ExitStatusValue } from './messages.js';
import { POSTED_BYTES, PostedRingReader } from './posted-ring.js';
import { ReadShadowWriter, SHADOW_BYTES } from './read-shadow.js';

/** The worker's exit table as the host reads it. */
export interface ExitTable {
  instret: number;
  runSeconds: number;
  exits: { reason: ExitReason; count: number; totalMs: number }[];
  /** The latest MMIO exit round trips in µs (a view of the shared ring: copy to keep). */
  mmioLatencyUs: Float64Array;
  /** Regions the guest touched, with their exits, posted stores and shadowed loads. */
  devices: { region: MachineRegion; reads: number; writes: number; totalMs: number; posted: number; shadowed: number }[];
  /** The translate engine's code cache (zeros with the interpreter). */
  codeCache: CodeCacheStats;
}

export type CodeCacheStats = Record<(typeof words.CODE_CACHE_FIELDS)[number], number>;

/** Makes the shared blocks of a new channel (zeroed: no request, every line low). */
export function allocateExitChannel(): ExitChannelBuffers {
  return {
    ctrl: new SharedArrayBuffer(words.CTRL_WORDS * 4),
    stats: new SharedArrayBuffer(words.STATS_WORDS * 8),
    irqLevels: new SharedArrayBuffer(PLIC_SOURCES * 4),
    posted: new SharedArrayBuffer(POSTED_BYTES),
    shadow: new SharedArrayBuffer(SHADOW_BYTES),
  };
}

export class ExitChannelHost {
  private readonly ctrl: Int32Array;
  private readonly statsView: Float64Array;
  private readonly levels: Int32Array;
  /** The host's end of the posted-write ring. */
  readonly posted: PostedRingReader;
  /** The host's end of the read shadow: grants installed and dropped. */
  readonly shadow: ReadShadowWriter;

  constructor(readonly buffers: ExitChannelBuffers = allocateExitChannel()) {
    this.ctrl = new Int32Array(buffers.ctrl);
    this.statsView = new Float64Array(buffers.stats);
    this.levels = new Int32Array(buffers.irqLevels);
    this.posted = new PostedRingReader(buffers.posted);
    this.shadow = new ReadShadowWriter(buffers.shadow);
  }

  /** Answers the exit the worker is blocked in (lo/hi: the data read, or a poweroff's code). */
  reply(status: ExitStatusValue, lo = 0, hi = 0): void {
    const c = this.ctrl;
    Atomics.store(c, words.CTRL_LO, lo);
    Atomics.store(c, words.CTRL_HI, hi);
    Atomics.store(c, words.CTRL_STATUS, status);
    // The answer is published last: the worker reads the words above only after it.
    Atomics.store(c, words.CTRL_REPLY, words.REPLIED);
    Atomics.notify(c, words.CTRL_REPLY);
  }

  /** Asks the worker to stop at its next safepoint (a batch boundary or an exit). */
  requestStop(): void {
    Atomics.store(this.ctrl, words.CTRL_STOP, 1);
    this.wake();
  }

  /** Asks the worker to park at its next safepoint (true), or to go on (false). */
  requestPause(pause: boolean): void {
    Atomics.store(this.ctrl, words.CTRL_PAUSE, pause ? 1 : 0);
    this.wake();
  }

  /** The worker is parked (it has nothing in flight). */
  get parked(): boolean {
    return Atomics.load(this.ctrl, words.CTRL_PARKED) === 1;
  }

  /** Sets an IRQ line's level; when it changed, the worker feeds it to its PLIC at the next
   *  safepoint and is woken from WFI. True when it changed. */
  setIrqLevel(irq: number, level: boolean): boolean {
    const v = level ? 1 : 0;
    if (Atomics.exchange(this.levels, irq, v) === v) return false;
    Atomics.store(this.ctrl, words.CTRL_IRQ_DIRTY, 1);
    this.wake();
    return true;
  }

  /** The recall doorbell: a recall order was posted on the recall port. It is counted, it
   *  rings a worker waiting for an exit's answer (which may itself wait for that order),
   *  and it wakes one idle or parked. */
  ringRecall(): void {
    const c = this.ctrl;
    Atomics.add(c, words.CTRL_RECALL, 1);
    Atomics.compareExchange(c, words.CTRL_REPLY, 0, words.DOORBELL);
    Atomics.notify(c, words.CTRL_REPLY);
    this.wake();
  }

  /** Wakes a worker idling (WFI, a poll loop on a shadowed register) to look again: the
   *  read shadow's grant was revoked, so the register it spins on is about to change. */
  wakeIdle(): void {
    this.wake();
  }

  private wake(): void {
    Atomics.add(this.ctrl, words.CTRL_WAKE, 1);
    Atomics.notify(this.ctrl, words.CTRL_WAKE);
  }

  /** The exit table as the worker left it last (it writes at each exit and batch end). */
  stats(): ExitTable {
    const s = this.statsView;
    return {
      instret: s[words.STATS_INSTRET]!,
      runSeconds: s[words.STATS_RUN_SECONDS]!,
      exits: EXIT_REASONS.map((reason, i) => ({ reason, count: s[words.statsCountIndex(i)]!, totalMs: s[words.statsTimeIndex(i)]! })),
      mmioLatencyUs: s.subarray(words.STATS_RING_START, words.STATS_RING_START + Math.min(s[words.STATS_RING_COUNT]!, words.STATS_RING_SIZE)),
      devices: MACHINE_REGIONS.flatMap((region, i) => {
        const at = words.STATS_DEVICE_START + i * words.STATS_DEVICE_WORDS;
        const [reads, writes, totalMs, posted, shadowed] = [
          s[at + words.DEVICE_READS]!,
          s[at + words.DEVICE_WRITES]!,
          s[at + words.DEVICE_MS]!,
          s[at + words.DEVICE_POSTED]!,
          s[at + words.DEVICE_SHADOWED]!,
        ];
        return reads + writes + posted + shadowed === 0 ? [] : [{ region, reads, writes, totalMs, posted, shadowed }];
      }),
      codeCache: Object.fromEntries(words.CODE_CACHE_FIELDS.map((f, i) => [f, s[words.STATS_CODE_START + i]!])) as CodeCacheStats,
    };
  }
}
