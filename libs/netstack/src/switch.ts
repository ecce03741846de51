// A learning Ethernet switch (IEEE 802.1D in its simplest form): each port is a function
// that takes frames; a source MAC is learned on the port it came from; a frame to a known
// unicast MAC goes to that port alone, broadcast, multicast and unknown unicast go to every
// other port. Pure: the io-backend wires ports to devices, the gateway or NATS subjects.
import { ETH_HEADER_LEN, ETH_MAX_FRAME, isMulticastMac, macToString, type Mac } from './ethernet.js';
import type { NetLog } from './parse.js';

export interface SwitchPortStats {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  /** Frames this port received that went to every other port. */
  flooded: number;
  dropped: Record<string, number>;
}

export interface SwitchOptions {
  /** Learned entries kept at most; static port MACs do not count. Default 1024. */
  maxAddresses?: number;
  log?: NetLog;
}

interface Port {
  id: string;
  send: (frame: Uint8Array) => void;
  macs: string[];
  stats: SwitchPortStats;
}

export class Switch {
  private readonly ports = new Map<string, Port>();
  /** MAC -> port id; static entries (a port's own MACs) are never relearned. */
  private readonly table = new Map<string, { port: string; fixed: boolean }>();
  private readonly maxAddresses: number;

  constructor(private readonly opts: SwitchOptions = {}) {
    this.maxAddresses = opts.maxAddresses ?? 1024;
  }

  /** Adds a port; `macs` are the addresses behind it that are known before any traffic. */
  addPort(id: string, send: (frame: Uint8Array) => void, macs: Mac[] = []): void {
    if (this.ports.has(id)) throw new Error(`switch: port "${id}" already exists`);
    const keys = macs.map(macToString);
    for (const k of keys) {
      const owner = this.table.get(k);
      if (owner?.fixed) throw new Error(`switch: mac ${k} is already port "${owner.port}"'s`);
    }
    for (const k of keys) this.table.set(k, { port: id, fixed: true });
    this.ports.set(id, { id, send, macs: keys, stats: { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, flooded: 0, dropped: {} } });
  }

  removePort(id: string): void {
    if (!this.ports.delete(id)) throw new Error(`switch: no port "${id}"`);
    for (const [mac, e] of this.table) if (e.port === id) this.table.delete(mac);
  }

  portIds(): string[] {
    return [...this.ports.keys()];
  }

  /** Which port a MAC was learned or declared on. */
  lookup(mac: Mac): string | undefined {
    return this.table.get(macToString(mac))?.port;
  }

  stats(id: string): SwitchPortStats {
    const p = this.ports.get(id);
    if (!p) throw new Error(`switch: no port "${id}"`);
    return { ...p.stats, dropped: { ...p.stats.dropped } };
  }

  /** A frame arriving from port `id`. Never throws for a bad frame; counts it instead. */
  receive(id: string, frame: Uint8Array): void {
    const from = this.ports.get(id);
    if (!from) throw new Error(`switch: no port "${id}"`);
    from.stats.framesIn++;
    from.stats.bytesIn += frame.length;
    if (frame.length < ETH_HEADER_LEN) return this.drop(from, 'truncated', `switch: frame length=${frame.length} from "${id}"`);
    if (frame.length > ETH_MAX_FRAME) return this.drop(from, 'oversized', `switch: frame length=${frame.length} from "${id}"`);
    const dst = frame.subarray(0, 6);
    const src = frame.subarray(6, 12);
    if (isMulticastMac(src)) return this.drop(from, 'srcMulticast', `switch: src=${macToString(src)} from "${id}"`);
    this.learn(from, macToString(src));
    if (!isMulticastMac(dst)) {
      const entry = this.table.get(macToString(dst));
      if (entry !== undefined) {
        if (entry.port === id) return this.drop(from, 'samePort', `switch: dst=${macToString(dst)} is on "${id}" itself`);
        const to = this.ports.get(entry.port);
        if (to) return this.deliver(to, frame);
      }
    }
    from.stats.flooded++;
    for (const p of this.ports.values()) if (p !== from) this.deliver(p, frame);
  }

  private learn(port: Port, mac: string): void {
    const e = this.table.get(mac);
    if (e?.fixed) {
      if (e.port !== port.id) this.drop(port, 'spoofedSrc', `switch: src=${mac} belongs to port "${e.port}" (frame still forwarded)`);
      return;
    }
    if (e === undefined && this.table.size >= this.maxAddresses) {
      return this.drop(port, 'tableFull', `switch: src=${mac} not learned, ${this.maxAddresses} entries`);
    }
    this.table.set(mac, { port: port.id, fixed: false });
  }

  private deliver(to: Port, frame: Uint8Array): void {
    try {
      to.send(frame);
      to.stats.framesOut++;
      to.stats.bytesOut += frame.length;
    } catch (err) {
      this.drop(to, 'sendError', `switch: port "${to.id}" send threw: ${String(err)}`);
    }
  }

  private drop(port: Port, reason: string, detail: string): void {
    port.stats.dropped[reason] = (port.stats.dropped[reason] ?? 0) + 1;
    this.opts.log?.debug({ port: port.id, reason }, detail);
  }
}
