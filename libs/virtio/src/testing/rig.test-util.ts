// A guest, a transport and a device wired together for specs (excluded from the build).
import type { VirtioDevice } from '../device.js';
import { FlatMemory } from '../memory.js';
import { VirtioMmioTransport } from '../mmio/transport.js';
import { VirtioRng } from '../rng/rng.js';
import { MockDriver } from './mock-driver.js';

export const RAM_BASE = 0x8000_0000;

export function rig<D extends VirtioDevice = VirtioRng>(opts: { device?: D; ramSize?: number } = {}) {
  const mem = new FlatMemory(RAM_BASE, opts.ramSize ?? 1 << 20);
  const device = (opts.device ?? new VirtioRng()) as D;
  const irqs: boolean[] = [];
  const logs: string[] = [];
  const transport = new VirtioMmioTransport({ name: 'virtio0', device, mem, onIrq: (l) => irqs.push(l), log: (m) => logs.push(m) });
  const driver = new MockDriver({ transport, mem });
  return { mem, device, transport, driver, irqs, logs };
}
