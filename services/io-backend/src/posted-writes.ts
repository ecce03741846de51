// Writes a vCPU did not wait for, applied through the VM's device bus like any other
// access: coalesced MMIO (a batch of stores, oldest first, that arrives with the vCPU's next
// exit or on its own in PostWrites) and virtio doorbells (QueueNotify stores that arrive
// as NATS events, ioeventfd-like). The cpu keeps them in program order (its
// posted-delivery.ts); here they are applied in the order they arrive.
import { subjects, type Bus, type Unsubscribe } from '@splitvisor/bus';
import { DoorbellCodec, type EventsV1, type IoV1 } from '@splitvisor/proto';
import type { BusResult } from '@splitvisor/devices';
import { gpa, hex, VIRTIO_MMIO_BASE, VIRTIO_MMIO_SLOTS, VIRTIO_MMIO_STRIDE, type GuestPhysAddr } from '@splitvisor/platform';
import type { Logger } from '@splitvisor/log';

/** virtio-mmio QueueNotify (virtio 1.2 §4.2.2): the only register a doorbell may write. */
export const QUEUE_NOTIFY = 0x050;

export interface PostedWriteStats {
  /** Posted writes applied (each also counts as a write of its device). */
  coalescedWrites: number;
  /** Doorbells applied as QueueNotify writes. */
  doorbells: number;
  /** Posted writes or doorbells the device refused or nobody answers (the guest cannot be
   *  told: it did not wait), and doorbells for an address that is no QueueNotify register. */
  postedRefused: number;
}

/** The device bus of one VM, as VmDevices counts every access. */
export interface DeviceAccess {
  access(addr: GuestPhysAddr, size: number, write: boolean, lo: number, hi: number): BusResult;
}

/** True when `addr` is the QueueNotify register of one of the virtio-mmio slots. */
export function isQueueNotify(addr: number): boolean {
  const off = addr - VIRTIO_MMIO_BASE;
  return off >= 0 && off < VIRTIO_MMIO_SLOTS * VIRTIO_MMIO_STRIDE && off % VIRTIO_MMIO_STRIDE === QUEUE_NOTIFY;
}

export class PostedWrites {
  readonly stats: PostedWriteStats = { coalescedWrites: 0, doorbells: 0, postedRefused: 0 };
  private refusalsLogged = 0;

  constructor(
    private readonly vmId: string,
    private readonly devices: DeviceAccess,
    private readonly log: Logger,
  ) {}

  /** A vCPU's coalesced writes, oldest first. */
  apply(writes: readonly IoV1.PostedWrite__Output[]): void {
    for (const w of writes) {
      this.stats.coalescedWrites++;
      this.check(this.devices.access(gpa(w.addr), w.size, true, w.valueLo, w.valueHi), w.addr, 'posted write');
    }
  }

  /** One doorbell: a 4-byte write of the queue index at a slot's QueueNotify. */
  ring(msg: EventsV1.Doorbell__Output): void {
    if (msg.vmId !== this.vmId || !isQueueNotify(msg.addr)) {
      this.refused(`doorbell for vm "${msg.vmId}" at ${hex(msg.addr)}: not a QueueNotify register of this vm`);
      return;
    }
    this.stats.doorbells++;
    this.check(this.devices.access(gpa(msg.addr), 4, true, msg.value, 0), msg.addr, 'doorbell');
  }

  /** Hears this VM's doorbells until the returned function is called. While `gate` gives
   *  a promise (the VM's devices are being taken over) a doorbell is applied once it
   *  resolves; it is acknowledged at once either way (a restored device serves every ready
   *  queue anyway). */
  follow(bus: Bus, gate: () => Promise<void> | undefined = () => undefined): Unsubscribe {
    return bus.subscribe(subjects.doorbell(this.vmId), DoorbellCodec, (msg) => {
      const g = gate();
      if (g) void g.then(() => this.ring(msg));
      else this.ring(msg);
    });
  }

  private check(r: BusResult, addr: number, what: string): void {
    if (!r.ok) this.refused(`${what} at ${hex(addr)}: ${r.reason}`);
    // Only UART THR and QueueNotify are posted; neither powers the machine off. Should a
    // device ever answer one with a system event, nobody is waiting to stop the vCPU.
    else if (r.event) this.refused(`${what} at ${hex(addr)} asked for ${r.event.kind}, which a posted write cannot carry`);
  }

  private refused(why: string): void {
    this.stats.postedRefused++;
    if (this.refusalsLogged++ < 20) this.log.warn({ vm: this.vmId }, why);
  }
}
