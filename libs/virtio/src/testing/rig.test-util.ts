// A guest, a transport and a device wired together for specs (excluded from the build).
import type { VirtioDevice } from '../device.js';
import { FlatMemory, type GuestMemory, type GuestRange, type GuestWrite } from '../memory.js';
import { VirtioMmioTransport } from '../mmio/transport.js';
import { VirtioRng } from '../rng/rng.js';
import { MockDriver } from './mock-driver.js';

export const RAM_BASE = 0x8000_0000;

/**
 * Guest memory that takes a write's bytes only 20 ms after the call, as a transport
 * that serializes later would: a device that reuses a buffer before the write it handed
 * over is answered corrupts what lands in the guest.
 */
class LateWrites implements GuestMemory {
  constructor(private readonly inner: FlatMemory) {}
  read(addr: number, length: number): Promise<Uint8Array> {
    return this.inner.read(addr, length);
  }
  readv(ranges: readonly GuestRange[]): Promise<Uint8Array[]> {
    return this.inner.readv(ranges);
  }
  async write(addr: number, data: Uint8Array): Promise<void> {
    await new Promise((r) => setTimeout(r, 20));
    await this.inner.write(addr, data);
  }
  async writev(writes: readonly GuestWrite[]): Promise<void> {
    await new Promise((r) => setTimeout(r, 20));
    await this.inner.writev(writes);
  }
}

export function rig<D extends VirtioDevice = VirtioRng>(opts: { device?: D; ramSize?: number; lateWrites?: boolean } = {}) {
  const mem = new FlatMemory(RAM_BASE, opts.ramSize ?? 1 << 20);
  const deviceMem = opts.lateWrites ? new LateWrites(mem) : mem;
  const device = (opts.device ?? new VirtioRng()) as D;
  const irqs: boolean[] = [];
  const logs: string[] = [];
  const transport = new VirtioMmioTransport({ name: 'virtio0', device, mem: deviceMem, onIrq: (l) => irqs.push(l), log: (m) => logs.push(m) });
  const driver = new MockDriver({ transport, mem });
  return { mem, device, transport, driver, irqs, logs };
}
