// The cpu's end of the VM's interrupt lines. Devices in io-backend publish each line's
// level as it changes (irqfd-like); core NATS may drop a message, so the lines are state:
// subscribe first, then ask for the current levels, and let sequence numbers decide which
// word is newer. After a gap (NATS restarted, the link dropped) the levels are read again:
// a change sent meanwhile is lost, and a guest waiting for it would hang. The levels go to the exit channel (ExitChannelHost.setIrqLevel), which
// the vCPU thread feeds to its PLIC.
import type { EventsV1 } from '@splitvisor/proto';
import { PLIC_SOURCES } from '@splitvisor/platform';
import type { Logger } from '@splitvisor/log';
import type { IrqLineSource } from './ports/index.js';

/** Where a line's level goes (ExitChannelHost). */
export interface IrqLevelSink {
  setIrqLevel(irq: number, level: boolean): unknown;
}

/** How long the levels are asked for again after a gap while no device backend answers. */
const RESYNC_RETRY_MS = 30_000;

export class IrqLineFollower {
  /** Per line, the sequence number of the change its level came from. The numbers are the
   *  VM's (one counter for all its lines), but newer is a question about one line: a
   *  change of the UART's line carried back in an MMIO reply must not make a virtio
   *  line's rise, still on its way by NATS with a smaller number, look stale. Dropped,
   *  that rise is lost for good (the device holds the line high and never sends it again),
   *  and the guest's disk requests hang. */
  private readonly lastSeq = new Float64Array(PLIC_SOURCES);
  private unsubscribe: () => void = () => undefined;
  private stopped = false;

  /** @param lines where levels go (the exit channel: it wakes the vCPU on a change) */
  constructor(
    private readonly source: IrqLineSource,
    private readonly lines: IrqLevelSink,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const unsubscribe = await this.source.follow((l) => this.apply(l));
    // Stopped while subscribing: the subscription made meanwhile goes too.
    if (this.stopped) return unsubscribe();
    const stopGaps = this.source.onGap(() => void this.resync('after a gap'));
    this.unsubscribe = () => {
      stopGaps();
      unsubscribe();
    };
    await this.resync('at start');
  }

  /** The resync under way: a newer one (another gap) replaces it. */
  private resyncs = 0;

  /**
   * Reads every line's level and applies it unless a newer change already came. After a
   * gap the device backend may not be back on NATS yet (all services reconnect after a
   * NATS restart, in any order): a change it published while this end was away is gone,
   * and the device holds its line where it is without sending it again, so the question
   * is asked again until someone answers (RESYNC_RETRY_MS), not given up.
   */
  private async resync(when: string): Promise<void> {
    const mine = ++this.resyncs;
    const until = Date.now() + (when === 'at start' ? 0 : RESYNC_RETRY_MS);
    for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
      try {
        const lines = await this.source.current();
        if (this.stopped || mine !== this.resyncs) return;
        // The snapshot is the state after change number `seq`: for each line, newer than or
        // as new as what we hold unless an event for that line overtook it.
        const seq = lines[0]?.seq ?? 0;
        for (const l of lines) if (this.newer(l.irq, seq, true)) this.set(l.irq, l.level);
        if (when !== 'at start') this.log.info({ seq, high: lines.filter((l) => l.level).map((l) => l.irq) }, `IRQ levels read again ${when}`);
        return;
      } catch (e) {
        if (this.stopped || mine !== this.resyncs) return;
        if (Date.now() + wait > until) {
          // No device backend answered: the lines stay as they are until one publishes.
          this.log.warn({ err: (e as Error).message }, `could not read the current IRQ levels ${when}`);
          return;
        }
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** A line change heard from the device backend, by NATS or in an MMIO exit's reply;
   *  whichever copy comes second is not newer and is dropped. */
  apply(l: Pick<EventsV1.IrqLine__Output, 'irq' | 'level' | 'seq'>): void {
    if (this.newer(l.irq, l.seq, false)) this.set(l.irq, l.level);
  }

  /** Whether change `seq` of line `irq` is newer than the one its level came from (or as
   *  new, for a snapshot); if so it becomes that one. */
  private newer(irq: number, seq: number, orEqual: boolean): boolean {
    if (!(irq >= 1 && irq < PLIC_SOURCES)) return true; // set() refuses it, with a warning
    const last = this.lastSeq[irq]!;
    if (seq < last || (seq === last && !orEqual)) return false;
    this.lastSeq[irq] = seq;
    return true;
  }

  private set(irq: number, level: boolean): void {
    if (irq < 1 || irq >= PLIC_SOURCES) {
      this.log.warn({ irq }, `ignoring IRQ line ${irq}: the PLIC has sources 1..${PLIC_SOURCES - 1}`);
      return;
    }
    this.lines.setIrqLevel(irq, level);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }
}
