// The cpu's end of the VM's interrupt lines. Devices in io-backend publish each line's
// level as it changes (irqfd-like); core NATS may drop a message, so the lines are state:
// subscribe first, then ask for the current levels, and let sequence numbers decide which
// word is newer. The levels go to the exit channel (ExitChannelHost.setIrqLevel), which
// the vCPU thread feeds to its PLIC.
import type { EventsV1 } from '@splitvisor/proto';
import { PLIC_SOURCES } from '@splitvisor/platform';
import type { Logger } from '@splitvisor/log';
import type { IrqLineSource } from './ports/index.js';

/** Where a line's level goes (ExitChannelHost). */
export interface IrqLevelSink {
  setIrqLevel(irq: number, level: boolean): unknown;
}

export class IrqLineFollower {
  private lastSeq = 0;
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
    this.unsubscribe = unsubscribe;
    try {
      const lines = await this.source.current();
      // The snapshot is the state after change number `seq`: newer than or as new as what
      // we hold unless an event overtook it.
      const seq = lines[0]?.seq ?? 0;
      if (seq >= this.lastSeq) {
        for (const l of lines) this.set(l.irq, l.level);
        this.lastSeq = seq;
      }
    } catch (e) {
      // No device backend answered: the lines stay low until one publishes.
      this.log.warn({ err: (e as Error).message }, 'could not read the current IRQ levels');
    }
  }

  /** A line change heard from the device backend, by NATS or in an MMIO exit's reply;
   *  whichever copy comes second is not newer and is dropped. */
  apply(l: Pick<EventsV1.IrqLine__Output, 'irq' | 'level' | 'seq'>): void {
    if (l.seq <= this.lastSeq) return; // older than what we hold
    this.lastSeq = l.seq;
    this.set(l.irq, l.level);
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
