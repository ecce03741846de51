// The gateway of one virtual network, behaving as QEMU's user-mode networking (slirp) does
// with its defaults: 10.0.2.0/24, the host at .2, DNS advertised at .3, DHCP from .15,
// TFTP from a directory. It is the network's only host besides the guests: it answers ARP
// for its two addresses, echo requests to them, DHCP, and TFTP reads. It forwards nothing
// (no NAT): a datagram to a port it does not serve gets ICMP port unreachable, DNS queries
// to .3 included, so a guest's resolver fails at once instead of timing out.
import { ARP_REPLY, ARP_REQUEST, buildArp, parseArp } from './arp.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DHCPACK, DHCPNAK, DHCPOFFER, buildDhcp, parseDhcp } from './dhcp.js';
import { DhcpServer } from './dhcp-server.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, buildEthernet, isBroadcastMac, macEquals, macToString, parseEthernet, parseMac, type Mac } from './ethernet.js';
import { ICMP_DEST_UNREACHABLE, ICMP_ECHO_REQUEST, UNREACHABLE_PORT, UNREACHABLE_PROTOCOL, buildEchoReply, buildUnreachable, parseIcmp } from './icmp.js';
import { IP_BROADCAST, PROTO_ICMP, PROTO_UDP, buildIpv4, ipToString, parseCidr, parseIp, parseIpv4, type Ipv4Packet } from './ipv4.js';
import type { NetLog } from './parse.js';
import { TftpServer, type TftpStats } from './tftp-server.js';
import { TFTP_PORT } from './tftp.js';
import { buildUdp, parseUdp } from './udp.js';

/** slirp's MAXTTL, the TTL of the echo replies it reflects. */
const ECHO_REPLY_TTL = 255;

export interface GatewayOptions {
  /** Default "10.0.2.0/24". */
  net?: string;
  /** Default: host .2 of the network. */
  gatewayIp?: string;
  /** Advertised by DHCP, answered by ARP and ping; default host .3. */
  dnsIp?: string;
  /** First DHCP address; default host .15. */
  dhcpStart?: string;
  /** Default 52:55 followed by the gateway's address, as slirp derives it. */
  gatewayMac?: string;
  /** Directory served read-only over TFTP; no TFTP without it. */
  tftpRoot?: string;
  /** DHCP `file` field and option 67. */
  bootFile?: string;
  /**
   * The clients this gateway serves, by the source MAC of their frames: each its own TFTP
   * directory and boot file (in place of `tftpRoot`/`bootFile`). A MAC it does not know gets
   * no lease and no files. Without it, every client is served alike.
   */
  client?: (mac: Mac) => GatewayClient | undefined;
  send(frame: Uint8Array): void;
  log?: NetLog;
}

/** What the gateway serves one client (one NIC). */
export interface GatewayClient {
  tftpRoot?: string;
  bootFile?: string;
}

export interface GatewayStats {
  framesIn: number;
  framesOut: number;
  arpReplies: number;
  icmpEchoReplies: number;
  icmpUnreachables: number;
  dhcpOffers: number;
  dhcpAcks: number;
  dhcpNaks: number;
  dhcpLeases: number;
  tftp: TftpStats;
  /** Exceptions caught inside receive() (bugs, or a send() that threw). */
  errors: number;
  /** Refused input by reason code ("ipv4.checksum", "tftp.notFound", ...). */
  dropped: Record<string, number>;
}

/** slirp's convention: a special address answers ARP with 52:55 and its four octets. */
export function slirpMac(ip: number): Mac {
  return Uint8Array.of(0x52, 0x55, ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff);
}

export class Gateway {
  readonly network: number;
  readonly mask: number;
  readonly ip: number;
  readonly dnsIp: number;
  readonly mac: Mac;
  readonly dnsMac: Mac;
  private readonly dhcp: DhcpServer;
  private readonly tftp: TftpServer;
  private readonly pending = new Set<Promise<void>>();
  private ipId = 0;
  private readonly counters = {
    framesIn: 0,
    framesOut: 0,
    arpReplies: 0,
    icmpEchoReplies: 0,
    icmpUnreachables: 0,
    dhcpOffers: 0,
    dhcpAcks: 0,
    dhcpNaks: 0,
    errors: 0,
  };
  private readonly dropped: Record<string, number> = {};

  constructor(private readonly opts: GatewayOptions) {
    const { network, mask } = parseCidr(opts.net ?? '10.0.2.0/24');
    this.network = network;
    this.mask = mask;
    const host = (n: number) => (network + n) >>> 0;
    this.ip = opts.gatewayIp !== undefined ? parseIp(opts.gatewayIp) : host(2);
    this.dnsIp = opts.dnsIp !== undefined ? parseIp(opts.dnsIp) : host(3);
    for (const [name, ip] of [
      ['gatewayIp', this.ip],
      ['dnsIp', this.dnsIp],
    ] as const) {
      if ((ip & mask) >>> 0 !== network) throw new Error(`gateway: ${name}=${ipToString(ip)} is outside net ${opts.net ?? '10.0.2.0/24'}`);
    }
    this.mac = opts.gatewayMac !== undefined ? parseMac(opts.gatewayMac) : slirpMac(this.ip);
    this.dnsMac = slirpMac(this.dnsIp);
    this.dhcp = new DhcpServer({
      network,
      mask,
      serverIp: this.ip,
      dnsIp: this.dnsIp,
      poolStart: opts.dhcpStart !== undefined ? parseIp(opts.dhcpStart) : host(15),
    });
    this.tftp = new TftpServer({
      // Also called from retransmission timers, outside receive()'s guard.
      send: (to, srcPort, payload) => {
        try {
          this.sendUdp(this.ip, srcPort, to.ip, to.port, to.mac, payload);
        } catch (err) {
          this.fault(err);
        }
      },
      drop: (reason, detail) => this.drop(reason, detail),
      ...(opts.log ? { log: opts.log } : {}),
    });
  }

  /** What this client is served; undefined for a MAC the gateway does not serve. */
  private clientOf(mac: Mac): GatewayClient | undefined {
    if (this.opts.client) return this.opts.client(mac);
    return {
      ...(this.opts.tftpRoot !== undefined && { tftpRoot: this.opts.tftpRoot }),
      ...(this.opts.bootFile !== undefined && { bootFile: this.opts.bootFile }),
    };
  }

  get stats(): GatewayStats {
    return {
      ...this.counters,
      dhcpLeases: this.dhcp.leaseTable.size,
      tftp: { ...this.tftp.stats },
      dropped: { ...this.dropped },
    };
  }

  /** The address leased to a client MAC, if any. */
  leaseOf(mac: Mac): string | undefined {
    const ip = this.dhcp.leaseOf(mac);
    return ip === undefined ? undefined : ipToString(ip);
  }

  /** Takes one frame from the network. Never throws; file reads finish later (settled()). */
  receive(frame: Uint8Array): void {
    this.counters.framesIn++;
    try {
      this.frame(frame);
    } catch (err) {
      this.fault(err);
    }
  }

  /** Resolves when the asynchronous work started by receive() so far has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Stops TFTP retransmission timers. */
  close(): void {
    this.tftp.closeAll();
  }

  private fault(err: unknown): void {
    this.counters.errors++;
    this.opts.log?.error({ err }, 'gateway: error while handling a frame');
  }

  private drop(reason: string, detail: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
    this.opts.log?.debug({ reason }, detail);
  }

  private frame(bytes: Uint8Array): void {
    const eth = parseEthernet(bytes);
    if (!eth.ok) return this.drop(eth.reason, eth.detail);
    const { dst, src, etherType, payload } = eth.value;
    if (!isBroadcastMac(dst) && !macEquals(dst, this.mac) && !macEquals(dst, this.dnsMac)) {
      return this.drop('ethernet.notForUs', `ethernet: dst=${macToString(dst)} is not ours`);
    }
    if (etherType === ETHERTYPE_ARP) return this.arp(src, payload);
    if (etherType === ETHERTYPE_IPV4) return this.ipv4(src, payload);
    this.drop('ethernet.etherType', `ethernet: etherType=0x${etherType.toString(16).padStart(4, '0')} is not served`);
  }

  private arp(src: Mac, payload: Uint8Array): void {
    const parsed = parseArp(payload);
    if (!parsed.ok) return this.drop(parsed.reason, parsed.detail);
    const a = parsed.value;
    if (a.operation !== ARP_REQUEST) return this.drop('arp.reply', `arp: reply from ${ipToString(a.senderIp)}; we never ask`);
    const mac = a.targetIp === this.ip ? this.mac : a.targetIp === this.dnsIp ? this.dnsMac : undefined;
    if (mac === undefined) return this.drop('arp.notForUs', `arp: target=${ipToString(a.targetIp)} is not ours`);
    this.counters.arpReplies++;
    const reply = buildArp({ operation: ARP_REPLY, senderMac: mac, senderIp: a.targetIp, targetMac: a.senderMac, targetIp: a.senderIp });
    this.emit(buildEthernet(src, mac, ETHERTYPE_ARP, reply));
  }

  private ipv4(src: Mac, payload: Uint8Array): void {
    const parsed = parseIpv4(payload);
    if (!parsed.ok) return this.drop(parsed.reason, parsed.detail);
    const ip = parsed.value;
    const subnetBroadcast = (this.network | ~this.mask) >>> 0;
    const broadcast = ip.dst === IP_BROADCAST || ip.dst === subnetBroadcast;
    if (!broadcast && ip.dst !== this.ip && ip.dst !== this.dnsIp) {
      return this.drop('ipv4.notForUs', `ipv4: dst=${ipToString(ip.dst)}; the gateway routes nowhere`);
    }
    if (ip.protocol === PROTO_UDP) return this.udp(src, ip, broadcast);
    if (ip.protocol === PROTO_ICMP) return this.icmp(src, ip, broadcast);
    if (broadcast) return this.drop('ipv4.protocol', `ipv4: protocol=${ip.protocol} to broadcast`);
    this.drop('ipv4.protocol', `ipv4: protocol=${ip.protocol} to ${ipToString(ip.dst)} is not served`);
    this.unreachable(src, ip, UNREACHABLE_PROTOCOL);
  }

  private icmp(src: Mac, ip: Ipv4Packet, broadcast: boolean): void {
    const parsed = parseIcmp(ip.payload);
    if (!parsed.ok) return this.drop(parsed.reason, parsed.detail);
    const m = parsed.value;
    if (m.type !== ICMP_ECHO_REQUEST) return this.drop('icmp.type', `icmp: type=${m.type} code=${m.code} is not an echo request`);
    // RFC 1122 §3.2.2.6 lets a host ignore broadcast echo; slirp does.
    if (broadcast) return this.drop('icmp.broadcast', `icmp: echo request to ${ipToString(ip.dst)}`);
    this.counters.icmpEchoReplies++;
    // slirp answers an echo to its own addresses by reflecting the request (icmp_reflect),
    // which sets the TTL to MAXTTL: a guest's ping shows ttl=255 on QEMU, and so here.
    this.sendIp(ip.dst, ip.src, src, PROTO_ICMP, buildEchoReply(m), ECHO_REPLY_TTL);
  }

  private udp(src: Mac, ip: Ipv4Packet, broadcast: boolean): void {
    const parsed = parseUdp(ip.src, ip.dst, ip.payload);
    if (!parsed.ok) return this.drop(parsed.reason, parsed.detail);
    const u = parsed.value;
    if (u.dstPort === DHCP_SERVER_PORT) return this.dhcpRequest(src, u.payload);
    const root = u.dstPort === TFTP_PORT ? this.clientOf(src)?.tftpRoot : undefined;
    if (!broadcast && ip.dst === this.ip && (root !== undefined || (u.dstPort !== TFTP_PORT && this.tftp.ownsPort(u.dstPort)))) {
      const peer = { ip: ip.src, port: u.srcPort, mac: src.slice() };
      const work = this.tftp.handle(peer, u.dstPort, u.payload, root).catch((err: unknown) => this.fault(err));
      this.pending.add(work);
      void work.finally(() => this.pending.delete(work));
      return;
    }
    if (broadcast) return this.drop('udp.broadcast', `udp: dstPort=${u.dstPort} to broadcast is not served`);
    this.drop('udp.port', `udp: dstPort=${u.dstPort} at ${ipToString(ip.dst)} is not served`);
    this.unreachable(src, ip, UNREACHABLE_PORT);
  }

  private dhcpRequest(src: Mac, payload: Uint8Array): void {
    const parsed = parseDhcp(payload);
    if (!parsed.ok) return this.drop(parsed.reason, parsed.detail);
    const client = this.clientOf(src);
    if (client === undefined) return this.drop('dhcp.unknownClient', `dhcp: ${macToString(src)} is not a port this gateway serves`);
    const boot = {
      ...(client.bootFile !== undefined && { bootFile: client.bootFile }),
      ...(client.tftpRoot !== undefined && { nextServer: this.ip }),
    };
    const d = this.dhcp.handle(parsed.value, src, boot);
    if (d.kind === 'refused') return this.drop(d.reason, d.detail);
    if (d.kind === 'done') return;
    if (d.type === DHCPOFFER) this.counters.dhcpOffers++;
    else if (d.type === DHCPACK) this.counters.dhcpAcks++;
    else if (d.type === DHCPNAK) this.counters.dhcpNaks++;
    this.opts.log?.debug({ type: d.type, chaddr: macToString(d.message.chaddr), yiaddr: ipToString(d.message.yiaddr) }, 'dhcp: reply');
    this.sendUdp(this.ip, DHCP_SERVER_PORT, d.dstIp, DHCP_CLIENT_PORT, d.dstMac, buildDhcp(d.message));
  }

  private unreachable(src: Mac, ip: Ipv4Packet, code: number): void {
    // Never about an ICMP error, nor to an unspecified source (RFC 1122 §3.2.2).
    if (ip.src === 0) return;
    if (ip.protocol === PROTO_ICMP && ip.payload.length > 0 && ip.payload[0] === ICMP_DEST_UNREACHABLE) return;
    this.counters.icmpUnreachables++;
    this.sendIp(ip.dst, ip.src, src, PROTO_ICMP, buildUnreachable(code, ip.header, ip.payload));
  }

  private sendUdp(srcIp: number, srcPort: number, dstIp: number, dstPort: number, dstMac: Mac, payload: Uint8Array): void {
    this.sendIp(srcIp, dstIp, dstMac, PROTO_UDP, buildUdp(srcIp, dstIp, srcPort, dstPort, payload));
  }

  private sendIp(srcIp: number, dstIp: number, dstMac: Mac, protocol: number, payload: Uint8Array, ttl?: number): void {
    this.ipId = (this.ipId + 1) & 0xffff;
    const packet = buildIpv4({ src: srcIp, dst: dstIp, protocol, id: this.ipId, ...(ttl === undefined ? {} : { ttl }) }, payload);
    this.emit(buildEthernet(dstMac, srcIp === this.dnsIp ? this.dnsMac : this.mac, ETHERTYPE_IPV4, packet));
  }

  private emit(frame: Uint8Array): void {
    this.counters.framesOut++;
    this.opts.send(frame);
  }
}
