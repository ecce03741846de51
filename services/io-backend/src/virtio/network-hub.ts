// The virtual switches this io-backend has ports on. A switch is one NATS subject per
// network (subjects.netFrames): a port sends by publishing a raw Ethernet frame there and
// hears every frame on it, keeping those addressed to its MAC, to broadcast or to a
// multicast group, and never its own. Ports on other io-backends join the same switch by
// subscribing to the same subject. Each network with a port here also gets the gateway
// (libs/netstack), as QEMU's user-mode networking puts one on every -netdev user: it answers
// ARP, ping, DHCP and TFTP at 10.0.2.2. The gateway serves this hub's ports alone, each with
// its own TFTP directory and boot file (a NIC's `tftp:` is that VM's, never its neighbours'),
// and gives nothing to a MAC that is not one of them (frames on the subject can come from
// anyone with publish rights).
import type { Subscription } from '@nats-io/nats-core';
import { subjects, type Bus } from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';
import { Gateway, macToString, type GatewayClient, type GatewayStats } from '@splitvisor/netstack';

export interface Port {
  readonly mac: Uint8Array;
  /** A frame for this port (already filtered by destination). */
  deliver(frame: Uint8Array): void;
}

export interface PortHandle {
  /** Puts one frame on the switch. */
  send(frame: Uint8Array): void;
  leave(): void;
}

/** What the gateway serves one port: its TFTP directory and DHCP boot file name. */
export type GatewayOptions = GatewayClient;

export interface NetworkStats {
  ports: number;
  framesOut: number;
  framesIn: number;
  /** Frames on the switch no local port wanted. */
  framesIgnored: number;
  gateway?: GatewayStats;
  /** The TFTP directories the gateway serves, one per port that named one. */
  tftpRoots: string[];
}

interface Network {
  readonly name: string;
  readonly sub: Subscription;
  /** Each port here, with what the gateway serves it. */
  readonly ports: Map<Port, GatewayOptions>;
  readonly gateway: Gateway;
  readonly stats: { framesOut: number; framesIn: number; framesIgnored: number };
}

export class NetworkHub {
  private readonly networks = new Map<string, Network>();

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /** Plugs a port into `network`, creating the switch (and its gateway) on first use. */
  join(network: string, port: Port, gw: GatewayOptions = {}): PortHandle {
    const net = this.networks.get(network) ?? this.open(network);
    net.ports.set(port, { ...gw });
    this.log.info({ network, mac: macToString(port.mac), tftp: gw.tftpRoot ?? null }, 'port joined the switch');
    const subject = subjects.netFrames(network);
    return {
      send: (frame) => {
        net.stats.framesOut++;
        this.bus.publishBytes(subject, frame);
      },
      leave: () => {
        net.ports.delete(port);
        if (net.ports.size === 0) this.close(net);
      },
    };
  }

  stats(network: string): NetworkStats | undefined {
    const n = this.networks.get(network);
    if (!n) return undefined;
    return {
      ports: n.ports.size,
      ...n.stats,
      gateway: n.gateway.stats,
      tftpRoots: [...new Set([...n.ports.values()].flatMap((g) => (g.tftpRoot !== undefined ? [g.tftpRoot] : [])))],
    };
  }

  /** Every switch closed (SIGTERM). */
  stop(): void {
    for (const n of [...this.networks.values()]) this.close(n);
  }

  private open(name: string): Network {
    const subject = subjects.netFrames(name);
    const log = this.log.child({ network: name });
    const gateway = new Gateway({
      client: (mac) => {
        for (const [p, g] of net.ports) if (sameMac(mac, 0, p.mac)) return g;
        return undefined;
      },
      send: (frame) => {
        net.stats.framesOut++;
        this.bus.publishBytes(subject, frame);
      },
      log,
    });
    const net: Network = {
      name,
      sub: this.bus.nc.subscribe(subject, {
        callback: (err, msg) => (err ? log.warn({ err: err.message }, 'switch subscription failed') : this.forward(net, msg.data)),
      }),
      ports: new Map(),
      gateway,
      stats: { framesOut: 0, framesIn: 0, framesIgnored: 0 },
    };
    this.networks.set(name, net);
    log.info({ gateway: '10.0.2.2' }, 'network switch up');
    return net;
  }

  private close(net: Network): void {
    net.sub.unsubscribe();
    net.gateway.close();
    this.networks.delete(net.name);
    this.log.info({ network: net.name, ...net.stats }, 'network switch down');
  }

  /** One frame from the switch to every local port it is for (the gateway is a port too). */
  private forward(net: Network, frame: Uint8Array): void {
    if (frame.length < 14) {
      net.stats.framesIgnored++;
      return;
    }
    net.stats.framesIn++;
    const group = (frame[0]! & 1) === 1; // broadcast or multicast
    let taken = false;
    // The gateway answers for two addresses (10.0.2.2 and the DNS address 10.0.2.3).
    const gw = net.gateway;
    if (!sameMac(frame, 6, gw.mac) && !sameMac(frame, 6, gw.dnsMac) && (group || sameMac(frame, 0, gw.mac) || sameMac(frame, 0, gw.dnsMac))) {
      taken = true;
      gw.receive(frame);
    }
    for (const p of net.ports.keys()) {
      if (sameMac(frame, 6, p.mac)) continue; // its own frame, back from the subject
      if (group || sameMac(frame, 0, p.mac)) {
        taken = true;
        p.deliver(frame);
      }
    }
    if (!taken) net.stats.framesIgnored++;
  }
}

function sameMac(frame: Uint8Array, at: number, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (frame[at + i] !== mac[i]) return false;
  return true;
}
