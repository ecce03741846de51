// One VM's device set, at the machine table's addresses (platform UART0, SIFIVE_TEST), on
// its own MMIO bus, with per-device counters. Knows nothing of gRPC or NATS: the console and
// the IRQ line are sinks the caller plugs in.
import { GoldfishRtc, MmioBus, SifiveTest, Uart16550, type BusResult } from '@splitvisor/devices';
import { GOLDFISH_RTC, SIFIVE_TEST, UART0, VIRTIO_MMIO_SLOTS, hex, virtioMmioSlot, type GuestPhysAddr } from '@splitvisor/platform';
import { VirtioSocket } from './virtio/virtio-socket.js';

export interface VmDeviceSinks {
  /** A byte the guest transmitted on UART0. */
  consoleByte(byte: number): void;
  /** A PLIC source changed level (UART0 is source 10). */
  irq(source: number, level: boolean): void;
  /** The guest changed the setup of device `dev` (saved-state.ts); never per byte. */
  setupChanged?(dev: string): void;
}

export interface DeviceCounters {
  reads: number;
  writes: number;
}

export interface VmDeviceStats {
  /** MMIO accesses that reached each device, by device name (refused ones included). */
  mmio: Record<string, DeviceCounters>;
  unmapped: number;
  badAccess: number;
  consoleBytesOut: number;
  consoleBytesIn: number;
  /** Console input lost because the UART receive queue was full. */
  consoleBytesDropped: number;
  systemEvents: number;
}

export class VmDevices {
  readonly bus = new MmioBus();
  readonly uart: Uart16550;
  readonly test: SifiveTest;
  readonly rtc: GoldfishRtc;
  /** The eight virtio-mmio slots, by index; empty until a device is plugged in. */
  readonly virtio: readonly VirtioSocket[];
  readonly stats: VmDeviceStats;

  constructor(sinks: VmDeviceSinks) {
    this.uart = new Uart16550({
      name: 'uart0',
      onTransmit: (b) => {
        this.stats.consoleBytesOut++;
        sinks.consoleByte(b);
      },
      onIrq: (level) => sinks.irq(UART0.irq!, level),
      onSetupChange: () => sinks.setupChanged?.('uart0'),
    });
    this.test = new SifiveTest({ name: 'sifive_test' });
    this.rtc = new GoldfishRtc({ name: 'rtc', onIrq: (level) => sinks.irq(GOLDFISH_RTC.irq!, level) });
    this.bus.add(UART0.base, UART0.size, this.uart);
    this.bus.add(SIFIVE_TEST.base, SIFIVE_TEST.size, this.test);
    this.bus.add(GOLDFISH_RTC.base, GOLDFISH_RTC.size, this.rtc);
    // Every virtio-mmio slot answers as an empty transport until a device is plugged in.
    const sockets: VirtioSocket[] = [];
    for (let i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
      const slot = virtioMmioSlot(i);
      const socket = new VirtioSocket(`virtio_mmio@${hex(slot.base).slice(2)}`);
      this.bus.add(slot.base, slot.size, socket);
      sockets.push(socket);
    }
    this.virtio = sockets;
    const mmio: Record<string, DeviceCounters> = {};
    for (const m of this.bus.mappings()) mmio[m.device.name] = { reads: 0, writes: 0 };
    this.stats = { mmio, unmapped: 0, badAccess: 0, consoleBytesOut: 0, consoleBytesIn: 0, consoleBytesDropped: 0, systemEvents: 0 };
  }

  /** One guest access, counted. */
  access(addr: GuestPhysAddr, size: number, write: boolean, lo: number, hi: number): BusResult {
    const r = write ? this.bus.write(addr, size, lo, hi) : this.bus.read(addr, size);
    const device = r.ok ? r.device : r.kind === 'bad-access' ? r.device : undefined;
    if (device !== undefined) {
      const c = this.stats.mmio[device];
      if (c) {
        if (write) c.writes++;
        else c.reads++;
      }
    }
    if (!r.ok) {
      if (r.kind === 'unmapped') this.stats.unmapped++;
      else this.stats.badAccess++;
    } else if (r.event) this.stats.systemEvents++;
    return r;
  }

  /** Console input for the guest's UART; returns the bytes queued (the rest overran). */
  consoleInput(bytes: Uint8Array): number {
    const queued = this.uart.receive(bytes);
    this.stats.consoleBytesIn += queued;
    this.stats.consoleBytesDropped += bytes.length - queued;
    return queued;
  }

  /** A system reset: every device back to its power-on state. */
  reset(): void {
    this.bus.reset();
  }
}
