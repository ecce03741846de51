// From the parameters dom0 wrote for a device (its xenbus backend entry) to a live virtio
// device behind a virtio-mmio transport: validated first, each refusal naming the device,
// the parameter and the value, since they arrive over the store and are not ours.
import {
  VirtioBlk,
  VirtioMmioTransport,
  VirtioNet,
  VirtioRng,
  decodeTransportState,
  encodeTransportState,
  type GuestMemory,
  type VirtioDevice,
} from '@splitvisor/virtio';
import { VIRTIO_MMIO_SLOTS, isVmId } from '@splitvisor/platform';
import type { Logger } from '@splitvisor/log';
import { parseMac } from '@splitvisor/netstack';
import type { NetworkHub, PortHandle } from './network-hub.js';
import type { PluggedDevice, PluggedStats } from './virtio-socket.js';

export type VirtioParams =
  | { kind: 'virtio-blk'; slot: number; path: string; readOnly: boolean; serial?: string }
  | { kind: 'virtio-net'; slot: number; network: string; mac: Uint8Array; tftp?: string; bootFile?: string }
  | { kind: 'virtio-rng'; slot: number };

/** The params as a device description, or an Error naming what is wrong. */
export function parseVirtioParams(id: string, p: Readonly<Record<string, string>>): VirtioParams {
  const bad = (field: string, why: string) => new Error(`device ${id}: param ${field}=${JSON.stringify(p[field] ?? null)}: ${why}`);
  const slot = Number(p['slot']);
  if (p['slot'] === undefined || !/^\d+$/.test(p['slot']) || slot >= VIRTIO_MMIO_SLOTS)
    throw bad('slot', `must be a virtio-mmio slot 0..${VIRTIO_MMIO_SLOTS - 1}`);
  switch (p['kind']) {
    case 'virtio-blk': {
      const path = p['path'];
      if (!path || !path.startsWith('/')) throw bad('path', 'must be an absolute path to a raw disk image');
      const mode = p['mode'] ?? 'w';
      if (mode !== 'r' && mode !== 'w') throw bad('mode', "must be 'r' (read-only) or 'w'");
      const serial = p['serial'];
      if (serial !== undefined && !/^[\x20-\x7e]{1,20}$/.test(serial)) throw bad('serial', 'must be 1-20 printable ASCII characters');
      return { kind: 'virtio-blk', slot, path, readOnly: mode === 'r', ...(serial !== undefined && { serial }) };
    }
    case 'virtio-net': {
      const network = p['network'] ?? '';
      // It becomes a subject token, as a VM id does.
      if (!isVmId(network)) throw bad('network', "must be 1-63 characters of a-z, 0-9 and '-'");
      let mac: Uint8Array;
      try {
        mac = parseMac(p['mac'] ?? '');
      } catch {
        throw bad('mac', 'must be a MAC address like 52:54:00:12:34:56');
      }
      if (mac[0]! & 1) throw bad('mac', 'is a multicast address');
      const tftp = p['tftp'];
      if (tftp !== undefined && !tftp.startsWith('/')) throw bad('tftp', 'must be an absolute directory path');
      return { kind: 'virtio-net', slot, network, mac, ...(tftp !== undefined && { tftp }), ...(p['bootfile'] !== undefined && { bootFile: p['bootfile'] }) };
    }
    case 'virtio-rng':
      return { kind: 'virtio-rng', slot };
    default:
      throw bad('kind', 'is not one of virtio-blk, virtio-net, virtio-rng');
  }
}

export interface PlugContext {
  mem: GuestMemory;
  hub: NetworkHub;
  /** This slot's PLIC source follows the transport's interrupt line. */
  irq(level: boolean): void;
  /** The guest changed the transport's setup: its saved state is due. */
  setupChanged?(): void;
  log: Logger;
}

/** Opens what the device needs (its image file, its switch port) and wraps it in a transport. */
export async function createVirtioDevice(id: string, params: VirtioParams, ctx: PlugContext): Promise<PluggedDevice> {
  let device: VirtioDevice;
  let close: () => Promise<void>;
  let extra: () => Record<string, number> = () => ({});
  switch (params.kind) {
    case 'virtio-blk': {
      const blk = await VirtioBlk.open(params.path, { readOnly: params.readOnly, ...(params.serial !== undefined && { serial: params.serial }) });
      device = blk;
      close = () => blk.close();
      break;
    }
    case 'virtio-net': {
      let port: PortHandle | undefined;
      const net = new VirtioNet({
        name: id,
        mac: params.mac,
        send: (frame) => port?.send(frame),
        log: (msg, fields) => ctx.log.debug({ device: id, ...fields }, msg),
      });
      port = ctx.hub.join(
        params.network,
        { mac: params.mac, deliver: (frame) => net.receive(frame) },
        { ...(params.tftp !== undefined && { tftpRoot: params.tftp }), ...(params.bootFile !== undefined && { bootFile: params.bootFile }) },
      );
      device = net;
      close = () => {
        port?.leave();
        port = undefined;
        return Promise.resolve();
      };
      extra = (): Record<string, number> => {
        const s = ctx.hub.stats(params.network);
        return s ? { 'switch.ports': s.ports, 'switch.framesOut': s.framesOut, 'switch.framesIn': s.framesIn, 'switch.framesIgnored': s.framesIgnored } : {};
      };
      break;
    }
    case 'virtio-rng':
      device = new VirtioRng();
      close = () => Promise.resolve();
      break;
  }
  const transport = new VirtioMmioTransport({
    name: id,
    device,
    mem: ctx.mem,
    onIrq: ctx.irq,
    log: (msg, fields) => ctx.log.warn({ device: id, ...fields }, msg),
    ...(ctx.setupChanged && { onSetupChange: ctx.setupChanged }),
  });
  return {
    id,
    kind: params.kind,
    transport,
    stats: (): PluggedStats => {
      const t = transport.stats();
      const counters: Record<string, number> = {};
      for (const [k, v] of Object.entries(t)) if (typeof v === 'number') counters[`transport.${k}`] = v;
      return { counters: { ...counters, ...device.stats?.(), ...extra() }, lastError: t.lastError };
    },
    save: () => encodeTransportState(transport.saveState()),
    restore: async (text) => {
      if (text === undefined) return undefined;
      let saved;
      try {
        saved = decodeTransportState(text);
      } catch (e) {
        return transport.failRestore((e as Error).message);
      }
      return transport.restoreState(saved);
    },
    close: async () => {
      device.reset();
      await close();
    },
  };
}
