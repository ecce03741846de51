// The vCPU worker's end of its exit channel: it blocks in an exit until the host answers,
// sees the host's requests (stop, pause, IRQ lines, recalls) at its safepoints, sleeps in
// WFI until woken, and keeps the exit table. Called at exits and batch ends only, never
// per instruction; nothing here allocates.
import { MACHINE_REGIONS, PLIC_SOURCES, regionAt } from '@splitvisor/platform';
import type { TranslationStats } from '@splitvisor/riscv';
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
  DEVICE_MS,
  DEVICE_POSTED,
  DEVICE_READS,
  DEVICE_SHADOWED,
  DEVICE_WRITES,
  DOORBELL,
  REPLIED,
  CODE_CACHE_FIELDS,
  STATS_CODE_START,
  STATS_DEVICE_START,
  STATS_DEVICE_WORDS,
  STATS_INSTRET,
  STATS_RING_COUNT,
  STATS_RING_SIZE,
  STATS_RING_START,
  STATS_RUN_SECONDS,
  statsCountIndex,
  statsTimeIndex,
} from './layout.js';
import { Reason, type ExitChannelBuffers, type ExitStatusValue, type ReasonIndex } from './messages.js';
import { PostedKind, PostedRingWriter, type PostedKindValue } from './posted-ring.js';
import { ReadShadowReader } from './read-shadow.js';

export class ExitChannelWorker {
  private readonly ctrl: Int32Array;
  private readonly stats: Float64Array;
  private readonly levels: Int32Array;
  /** The levels this worker's PLIC was last given. */
  private readonly applied = new Uint8Array(PLIC_SOURCES);
  /** The worker's end of the posted-write ring. */
  readonly posted: PostedRingWriter;
  /** The worker's end of the read shadow: loads served without an exit. */
  readonly shadow: ReadShadowReader;

  constructor(buffers: ExitChannelBuffers) {
    this.ctrl = new Int32Array(buffers.ctrl);
    this.stats = new Float64Array(buffers.stats);
    this.levels = new Int32Array(buffers.irqLevels);
    this.posted = new PostedRingWriter(buffers.posted);
    this.shadow = new ReadShadowReader(buffers.shadow);
  }

  // --- an exit: post, block, read the answer -------------------------------------------

  /** Call before posting an exit's request: the answer to the one before is consumed. */
  beginExit(): void {
    Atomics.store(this.ctrl, CTRL_REPLY, 0);
  }

  /** The host has answered the exit posted last. */
  get answered(): boolean {
    return Atomics.load(this.ctrl, CTRL_REPLY) === REPLIED;
  }

  /** Takes the recall doorbell, if it rang, leaving the exit unanswered. */
  takeDoorbell(): void {
    Atomics.compareExchange(this.ctrl, CTRL_REPLY, DOORBELL, 0);
  }

  /** Recall orders the host has rung for so far (a count, modulo 2^32). */
  get recallsRung(): number {
    return Atomics.load(this.ctrl, CTRL_RECALL);
  }

  /** Blocks until the answer or the recall doorbell (or `timeoutMs`). */
  waitForAnswer(timeoutMs?: number): void {
    Atomics.wait(this.ctrl, CTRL_REPLY, 0, timeoutMs);
  }

  get replyStatus(): ExitStatusValue {
    return Atomics.load(this.ctrl, CTRL_STATUS) as ExitStatusValue;
  }

  get replyLo(): number {
    return Atomics.load(this.ctrl, CTRL_LO);
  }

  get replyHi(): number {
    return Atomics.load(this.ctrl, CTRL_HI);
  }

  // --- the host's requests, seen at safepoints ------------------------------------------

  get stopRequested(): boolean {
    return Atomics.load(this.ctrl, CTRL_STOP) !== 0;
  }

  get pauseRequested(): boolean {
    return Atomics.load(this.ctrl, CTRL_PAUSE) !== 0;
  }

  /** Says the worker is parked (or no longer); the host's pause() waits for it. */
  setParked(parked: boolean): void {
    Atomics.store(this.ctrl, CTRL_PARKED, parked ? 1 : 0);
    Atomics.notify(this.ctrl, CTRL_PARKED);
  }

  /** The wake counter. Read it before looking at what could end a sleep, then sleep on it:
   *  a request made in between has bumped it, and the sleep returns at once. */
  get wakeSeq(): number {
    return Atomics.load(this.ctrl, CTRL_WAKE);
  }

  /** Sleeps until woken (any host request) or `ms` passed. */
  sleep(wakeSeq: number, ms: number): void {
    Atomics.wait(this.ctrl, CTRL_WAKE, wakeSeq, ms);
  }

  /** An IRQ line changed since the worker last applied them. */
  get irqDirty(): boolean {
    return Atomics.load(this.ctrl, CTRL_IRQ_DIRTY) !== 0;
  }

  /** Gives `setLevel` every line whose level changed since the last call. */
  applyIrqLines(setLevel: (irq: number, level: boolean) => void): void {
    if (Atomics.exchange(this.ctrl, CTRL_IRQ_DIRTY, 0) === 0) return;
    for (let i = 1; i < PLIC_SOURCES; i++) {
      const v = Atomics.load(this.levels, i);
      if (v !== this.applied[i]) {
        this.applied[i] = v;
        setLevel(i, v !== 0);
      }
    }
  }

  // --- the exit table --------------------------------------------------------------------

  /** Counts an exit that left the process, with the time the vCPU waited for it. */
  recordExit(reason: ReasonIndex, ms: number): void {
    this.stats[statsCountIndex(reason)]! += 1;
    this.stats[statsTimeIndex(reason)]! += ms;
  }

  /** Counts an exit handled inside the worker (messages.ts LOCAL_EXIT_REASONS). */
  recordLocalExit(reason: ReasonIndex, ms: number): void {
    this.recordExit(reason, ms);
  }

  /** An MMIO exit's device row and round trip (recordExit counts its reason). */
  recordMmio(pa: number, write: boolean, ms: number): void {
    const d = deviceStatsIndex(pa);
    if (d >= 0) {
      this.stats[d + (write ? DEVICE_WRITES : DEVICE_READS)]! += 1;
      this.stats[d + DEVICE_MS]! += ms;
    }
    const n = this.stats[STATS_RING_COUNT]!;
    this.stats[STATS_RING_START + (n % STATS_RING_SIZE)] = ms * 1000;
    this.stats[STATS_RING_COUNT] = n + 1;
  }

  /** A store posted instead of exiting: its device row and its reason row. */
  recordPosted(pa: number, kind: PostedKindValue): void {
    const d = deviceStatsIndex(pa);
    if (d >= 0) this.stats[d + DEVICE_POSTED]! += 1;
    this.stats[statsCountIndex(kind === PostedKind.Doorbell ? Reason.Doorbell : Reason.MmioCoalesced)]! += 1;
  }

  /** A load served from the read shadow: its device row and its reason row. */
  recordShadowed(pa: number): void {
    const d = deviceStatsIndex(pa);
    if (d >= 0) this.stats[d + DEVICE_SHADOWED]! += 1;
    this.stats[statsCountIndex(Reason.MmioShadowed)]! += 1;
  }

  /** Instructions retired and time run so far (at each batch end). */
  progress(instret: number, runSeconds?: number, code?: Readonly<TranslationStats> | null): void {
    this.stats[STATS_INSTRET] = instret;
    if (runSeconds !== undefined) this.stats[STATS_RUN_SECONDS] = runSeconds;
    if (code) for (let i = 0; i < CODE_CACHE_FIELDS.length; i++) this.stats[STATS_CODE_START + i] = code[CODE_CACHE_FIELDS[i]!];
  }
}

/** Where the per-device counters of the region holding `pa` start in stats, or -1. */
function deviceStatsIndex(pa: number): number {
  const r = regionAt(pa);
  return r === undefined ? -1 : STATS_DEVICE_START + MACHINE_REGIONS.indexOf(r) * STATS_DEVICE_WORDS;
}
