// virtio-net (virtio 1.2 §5.1) on an injected port: frames the guest transmits go to
// `send`, frames from the switch arrive by `receive`. No offloads, no control queue, one
// queue pair: what U-Boot's drivers/virtio/virtio_net.c negotiates (MAC only; it reads the
// 12-byte header size from VERSION_1) and what Linux falls back to without offloads.
//
// Receive is push-driven: a frame that finds no posted buffer waits in a bounded backlog
// and is delivered when the driver posts buffers and kicks the receive queue.
import { readConfigLe } from '../config-space.js';
import { DEVICE_ID, featureBit } from '../constants.js';
import type { VirtioContext, VirtioDevice } from '../device.js';
import { GuestMemoryError } from '../memory.js';
import { QueueError } from '../queue/queue-error.js';
import { QueueRunners } from '../queue/runner.js';
import { readSegments, segmentWrites } from '../queue/segments.js';
import type { DescriptorChain, SplitQueue, UsedChain } from '../queue/split-queue.js';
import {
  CONFIG,
  HDR,
  MAX_FRAME_BYTES,
  MIN_FRAME_BYTES,
  NET_HDR_BYTES,
  RX_QUEUE,
  TX_QUEUE,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_S_LINK_UP,
} from './layout.js';

/** Frame bytes given back in one pushUsedMany at most (but always one frame): a DMA write
 *  of 32 KiB stays under mmu's 64 KiB limit for updating the vCPU's copy (RECALL_UPDATE). */
const RX_BATCH_BYTES = 32 * 1024;

export interface VirtioNetOptions {
  /** The MAC the guest reads from config space (VIRTIO_NET_F_MAC). */
  mac: Uint8Array;
  /** A frame the guest transmitted (without the virtio header). */
  send(frame: Uint8Array): void;
  /** Default "net0". */
  name?: string;
  /** QueueNumMax of both queues (default 256). */
  queueSize?: number;
  /** Frames held while the guest has no receive buffer posted (default 256); more are dropped. */
  rxBacklog?: number;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export interface NetStats {
  txFrames: number;
  txBytes: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames waiting for a receive buffer now. */
  rxBacklog: number;
  txDroppedOversized: number;
  txDroppedBadHeader: number;
  txDroppedRunt: number;
  /** Frames whose source MAC was not this NIC's: a guest posing as another host. */
  txDroppedSpoofedSrc: number;
  txSendErrors: number;
  rxDroppedBacklogFull: number;
  rxDroppedInactive: number;
  rxDroppedBadFrame: number;
  rxDroppedBufferTooSmall: number;
  rxDroppedReset: number;
}

type Counter = Exclude<keyof NetStats, 'rxBacklog'>;

export class VirtioNet implements VirtioDevice {
  readonly name: string;
  readonly deviceId = DEVICE_ID.NET;
  readonly queueMaxSizes: readonly number[];
  readonly features = featureBit(VIRTIO_NET_F_MAC) | featureBit(VIRTIO_NET_F_STATUS);
  readonly configSize = CONFIG.SIZE;
  // No servesDriverWithoutVersion1: a driver without VERSION_1 expects a 10-byte
  // virtio_net_hdr (virtio 1.2 §5.1.6.1), which QEMU serves; this device knows only the
  // 12-byte one, so such a driver is refused FEATURES_OK rather than fed shifted frames.
  readonly mac: Uint8Array;
  private readonly config = new Uint8Array(CONFIG.SIZE);
  private readonly send: (frame: Uint8Array) => void;
  private readonly log: (msg: string, fields: Record<string, unknown>) => void;
  private readonly maxBacklog: number;
  private readonly backlog: Uint8Array[] = [];
  private readonly counters: Record<Counter, number> = {
    txFrames: 0,
    txBytes: 0,
    rxFrames: 0,
    rxBytes: 0,
    txDroppedOversized: 0,
    txDroppedBadHeader: 0,
    txDroppedRunt: 0,
    txDroppedSpoofedSrc: 0,
    txSendErrors: 0,
    rxDroppedBacklogFull: 0,
    rxDroppedInactive: 0,
    rxDroppedBadFrame: 0,
    rxDroppedBufferTooSmall: 0,
    rxDroppedReset: 0,
  };
  private ctx: VirtioContext | undefined;
  private tx: QueueRunners | undefined;
  private rxRun: Promise<void> | undefined;
  private rxAgain = false;
  /** Bumped by reset: a receive drain of an older activation stops at its next step. */
  private epoch = 0;

  constructor(opts: VirtioNetOptions) {
    if (opts.mac.length !== 6) throw new Error(`virtio-net: mac has ${opts.mac.length} bytes, expected 6`);
    if ((opts.mac[0]! & 1) !== 0)
      throw new Error(`virtio-net: mac ${Array.from(opts.mac, (b) => b.toString(16).padStart(2, '0')).join(':')} is a multicast address`);
    this.name = opts.name ?? 'net0';
    this.mac = opts.mac.slice();
    this.send = opts.send;
    this.log = opts.log ?? (() => undefined);
    this.maxBacklog = opts.rxBacklog ?? 256;
    const size = opts.queueSize ?? 256;
    this.queueMaxSizes = [size, size];
    this.config.set(this.mac, CONFIG.MAC);
    // Link always up: the port is a switch that never goes away.
    new DataView(this.config.buffer).setUint16(CONFIG.STATUS, VIRTIO_NET_S_LINK_UP, true);
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    return readConfigLe(this.config, offset, size);
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): string | undefined {
    // §5.1.4: mac is driver-writable only in legacy devices; a modern one sets it through
    // the control queue (U-Boot's write_hwaddr knows, and returns -ENOSYS).
    return `${this.name}: config space is read-only (${size}-byte write of ${value} at ${offset})`;
  }

  activate(ctx: VirtioContext): void {
    this.tx?.stop();
    this.ctx = ctx;
    this.tx = new QueueRunners(ctx, (q) => (chain) => (q === TX_QUEUE ? this.transmit(ctx, chain) : Promise.resolve(0)), {
      onRequestError: (err) => this.log(`${this.name}: transmit failed: ${err instanceof Error ? err.message : String(err)}`, {}),
    });
  }

  notify(queue: number): void {
    if (queue === TX_QUEUE) void this.tx?.kick(TX_QUEUE);
    else if (queue === RX_QUEUE) this.pumpRx();
  }

  reset(): void {
    this.epoch++;
    this.tx?.stop();
    this.tx = undefined;
    this.ctx?.queues[RX_QUEUE]?.kill();
    this.ctx = undefined;
    this.counters.rxDroppedReset += this.backlog.length;
    this.backlog.length = 0;
  }

  /** A frame from the switch for the guest. Never throws; a frame that cannot be taken is counted. */
  receive(frame: Uint8Array): void {
    if (frame.length < MIN_FRAME_BYTES || frame.length > MAX_FRAME_BYTES) {
      this.counters.rxDroppedBadFrame++;
      this.log(`${this.name}: receive: frame length=${frame.length} outside ${MIN_FRAME_BYTES}..${MAX_FRAME_BYTES}`, { length: frame.length });
      return;
    }
    // A driver that has not brought the device up has no ring to receive into: link down.
    if (this.ctx === undefined) {
      this.counters.rxDroppedInactive++;
      return;
    }
    if (this.backlog.length >= this.maxBacklog) {
      this.counters.rxDroppedBacklogFull++;
      return;
    }
    this.backlog.push(frame.slice());
    this.pumpRx();
  }

  /** Resolves when no transmit or receive work is running (tests, orderly shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const rx = this.rxRun;
      if (rx) {
        await rx;
        continue;
      }
      await this.tx?.idle();
      if (!this.rxRun) return;
    }
  }

  stats(): Record<string, number> & NetStats {
    return { ...this.counters, rxBacklog: this.backlog.length };
  }

  /** One transmitted chain (§5.1.6.2): the header then the frame, all device-readable. */
  private async transmit(ctx: VirtioContext, chain: DescriptorChain): Promise<number> {
    const total = chain.readableBytes;
    if (total > NET_HDR_BYTES + MAX_FRAME_BYTES) {
      this.counters.txDroppedOversized++;
      this.log(`${this.name}: transmit: chain of ${total} bytes > ${NET_HDR_BYTES}-byte header + ${MAX_FRAME_BYTES}-byte frame`, { readableBytes: total });
      return 0;
    }
    if (total < NET_HDR_BYTES) {
      this.counters.txDroppedBadHeader++;
      this.log(`${this.name}: transmit: chain of ${total} bytes has no ${NET_HDR_BYTES}-byte virtio_net_hdr`, { readableBytes: total });
      return 0;
    }
    const bytes = await readSegments(ctx.mem, chain.readable);
    const flags = bytes[HDR.FLAGS]!;
    const gso = bytes[HDR.GSO_TYPE]!;
    // No CSUM and no HOST_TSO/UFO offered: the driver may ask for neither (§5.1.6.2.1).
    if (flags !== 0 || gso !== VIRTIO_NET_HDR_GSO_NONE) {
      this.counters.txDroppedBadHeader++;
      this.log(`${this.name}: transmit: virtio_net_hdr flags=${flags} gso_type=${gso}, no offload was negotiated`, { flags, gso });
      return 0;
    }
    const frame = bytes.slice(NET_HDR_BYTES);
    if (frame.length < MIN_FRAME_BYTES) {
      this.counters.txDroppedRunt++;
      this.log(`${this.name}: transmit: frame length=${frame.length} < ${MIN_FRAME_BYTES}`, { length: frame.length });
      return 0;
    }
    // As a switch port with source-MAC filtering (QEMU has none; Xen's vif scripts and
    // cloud NICs do): a frame may only leave with the NIC's own address as its source.
    if (!sameMac(frame, 6, this.mac)) {
      this.counters.txDroppedSpoofedSrc++;
      this.log(`${this.name}: transmit: source MAC is not the NIC's`, {
        src: Array.from(frame.subarray(6, 12), (b) => b.toString(16).padStart(2, '0')).join(':'),
      });
      return 0;
    }
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
    try {
      this.send(frame);
    } catch (err) {
      this.counters.txSendErrors++;
      this.log(`${this.name}: transmit: send threw: ${err instanceof Error ? err.message : String(err)}`, {});
    }
    return 0;
  }

  /** Starts a receive drain, or asks the running one to look again. */
  private pumpRx(): void {
    if (this.rxRun) {
      this.rxAgain = true;
      return;
    }
    const run = this.drainRx().finally(() => {
      if (this.rxRun === run) this.rxRun = undefined;
    });
    this.rxRun = run;
  }

  private async drainRx(): Promise<void> {
    const epoch = this.epoch;
    do {
      this.rxAgain = false;
      const ctx = this.ctx;
      const queue = ctx?.queues[RX_QUEUE];
      if (!ctx || !queue || queue.isKilled) return;
      try {
        await this.fill(ctx, queue, epoch);
      } catch (e) {
        if (epoch !== this.epoch) return;
        if (e instanceof QueueError || e instanceof GuestMemoryError) {
          queue.kill();
          ctx.needsReset(e.message);
          return;
        }
        this.log(`${this.name}: receive failed: ${e instanceof Error ? e.message : String(e)}`, {});
        return;
      }
    } while (this.rxAgain && epoch === this.epoch);
  }

  /**
   * Moves backlog frames into posted buffers until one of the two runs out. The frames
   * waiting now (up to RX_BATCH_BYTES of them) go back in one pushUsedMany: frames that
   * arrive together (a TFTP window, a burst behind a slow DMA call) cost one DMA call and
   * one update of the vCPU's copy, not one each.
   */
  private async fill(ctx: VirtioContext, queue: SplitQueue, epoch: number): Promise<void> {
    let delivered = 0;
    while (this.backlog.length > 0 && epoch === this.epoch) {
      const batch: UsedChain[] = [];
      let bytes = 0;
      while (this.backlog.length > 0 && (batch.length === 0 || bytes + NET_HDR_BYTES + this.backlog[0]!.length <= RX_BATCH_BYTES)) {
        const chain = await queue.pop();
        if (!chain || epoch !== this.epoch) break;
        const frame = this.backlog.shift()!;
        batch.push(this.frameInto(chain, frame));
        bytes += NET_HDR_BYTES + frame.length;
      }
      if (batch.length === 0) break;
      await queue.pushUsedMany(batch);
      delivered += batch.length;
    }
    if (delivered > 0 && epoch === this.epoch) await ctx.signalUsed(RX_QUEUE);
  }

  /** What receiving `frame` into `chain` writes, as a used chain (empty when it does not fit). */
  private frameInto(chain: DescriptorChain, frame: Uint8Array): UsedChain {
    if (chain.writableBytes < NET_HDR_BYTES + frame.length) {
      // The driver posted less than §5.1.6.3.1 asks (1526 bytes): the frame is lost, the
      // buffer goes back empty.
      this.counters.rxDroppedBufferTooSmall++;
      this.log(`${this.name}: receive: buffer of ${chain.writableBytes} bytes < ${NET_HDR_BYTES + frame.length} needed`, {
        writableBytes: chain.writableBytes,
      });
      return { head: chain.head, written: 0 };
    }
    const packet = new Uint8Array(NET_HDR_BYTES + frame.length);
    // §5.1.6.4: no MRG_RXBUF, so num_buffers is 1; flags 0, gso_type NONE.
    packet[HDR.NUM_BUFFERS] = 1;
    packet.set(frame, NET_HDR_BYTES);
    const { writes, written } = segmentWrites(chain.writable, packet);
    this.counters.rxFrames++;
    this.counters.rxBytes += frame.length;
    return { head: chain.head, written, data: writes };
  }
}

function sameMac(frame: Uint8Array, at: number, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (frame[at + i] !== mac[i]) return false;
  return true;
}
