// The cpu's end of the VM's interrupt lines. Devices in io-backend publish each line's
// level as it changes (irqfd-like); core NATS may drop a message, so the lines are state:
// subscribe first, then ask for the current levels, and let sequence numbers decide which
// word is newer. The levels go to the exit channel (ExitChannelHost.setIrqLevel), which
// the vCPU thread feeds to its PLIC.
import { IrqLevelsCodec, IrqLineCodec, IrqQueryCodec, type EventsV1 } from '@splitvisor/proto';
import { subjects, type Bus, type Unsubscribe } from '@splitvisor/bus';
import { PLIC_SOURCES } from '@splitvisor/platform';
import type { Logger } from '@splitvisor/log';

/** Where a line's level goes (ExitChannelHost). */
export interface IrqLevelSink {
  setIrqLevel(irq: number, level: boolean): unknown;
}

export class IrqLineFollower {
  private lastSeq = 0;
  private unsubscribe: Unsubscribe = () => undefined;

  /** @param lines where levels go (the exit channel: it wakes the vCPU on a change) */
  constructor(
    private readonly bus: Bus,
    private readonly vmId: string,
    private readonly lines: IrqLevelSink,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = this.bus.subscribe(subjects.irq(this.vmId), IrqLineCodec, (l) => this.apply(l));
    await this.bus.nc.flush();
    try {
      const now = await this.bus.request(subjects.irqQuery(this.vmId), IrqQueryCodec, { vmId: this.vmId }, IrqLevelsCodec, 2000);
      // The snapshot is the state after change number `seq`: newer than or as new as what
      // we hold unless an event overtook it.
      const seq = now.lines[0]?.seq ?? 0;
      if (seq >= this.lastSeq) {
        for (const l of now.lines) this.set(l.irq, l.level);
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
    this.unsubscribe();
  }
}
