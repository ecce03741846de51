// The DHCP server half of the gateway, as pure logic: a request in, a decision out. Leases
// are per client MAC and never move while the gateway lives (slirp keeps a table the same
// way), so a guest that reboots gets the address it had.
import {
  BOOTREPLY, BOOTREQUEST, DHCPACK, DHCPDECLINE, DHCPDISCOVER, DHCPINFORM, DHCPNAK, DHCPOFFER, DHCPRELEASE, DHCPREQUEST,
  OPT_BOOTFILE_NAME, OPT_DNS, OPT_LEASE_TIME, OPT_MESSAGE, OPT_MESSAGE_TYPE, OPT_REQUESTED_IP, OPT_ROUTER, OPT_SERVER_ID,
  OPT_SUBNET_MASK, ipOption, messageType, optionIp, u32Option, type DhcpMessage,
} from './dhcp.js';
import { BROADCAST_MAC, macToString, type Mac } from './ethernet.js';
import { IP_BROADCAST, ipToString } from './ipv4.js';

export interface DhcpServerConfig {
  network: number;
  mask: number;
  serverIp: number;
  dnsIp: number;
  poolStart: number;
  leaseSeconds?: number;
  /** Set with `nextServer` when the gateway serves TFTP. */
  bootFile?: string;
  nextServer?: number;
}

export type DhcpDecision =
  | { kind: 'reply'; type: number; message: DhcpMessage; dstIp: number; dstMac: Mac }
  /** Understood and acted on, nothing to send (RELEASE, DECLINE). */
  | { kind: 'done'; what: string }
  | { kind: 'refused'; reason: string; detail: string };

const BROADCAST_FLAG = 0x8000;
export const DEFAULT_LEASE_SECONDS = 86400;

export class DhcpServer {
  private readonly leases = new Map<string, number>();
  private readonly declined = new Set<number>();
  private readonly cfg: Required<Omit<DhcpServerConfig, 'bootFile' | 'nextServer'>> & DhcpServerConfig;

  constructor(cfg: DhcpServerConfig) {
    this.cfg = { leaseSeconds: DEFAULT_LEASE_SECONDS, ...cfg };
    if (!this.inPool(cfg.poolStart)) {
      throw new Error(`dhcp: dhcpStart=${ipToString(cfg.poolStart)} is not a host address of the network`);
    }
  }

  /** Current leases, client MAC (aa:bb:..) -> address. */
  get leaseTable(): ReadonlyMap<string, number> {
    return this.leases;
  }

  leaseOf(mac: Mac): number | undefined {
    return this.leases.get(macToString(mac));
  }

  handle(req: DhcpMessage): DhcpDecision {
    if (req.op !== BOOTREQUEST) return refused('dhcp.op', `dhcp: op=${req.op} is not BOOTREQUEST`);
    if (req.giaddr !== 0) return refused('dhcp.relayed', `dhcp: giaddr=${ipToString(req.giaddr)}; relays are not served`);
    const type = messageType(req);
    const mac = macToString(req.chaddr);
    switch (type) {
      case DHCPDISCOVER: {
        const ip = this.allocate(mac, optionIp(req, OPT_REQUESTED_IP));
        if (ip === undefined) return refused('dhcp.poolExhausted', `dhcp: no free address for chaddr=${mac}`);
        return this.reply(req, DHCPOFFER, ip);
      }
      case DHCPREQUEST: {
        const serverId = optionIp(req, OPT_SERVER_ID);
        if (serverId !== undefined && serverId !== this.cfg.serverIp) {
          // RFC 2131 §4.3.2: the client chose another server's offer.
          return refused('dhcp.otherServer', `dhcp: REQUEST server id=${ipToString(serverId)} is not ours`);
        }
        const wanted = optionIp(req, OPT_REQUESTED_IP) ?? req.ciaddr;
        const ip = this.allocate(mac, wanted);
        if (wanted === 0 || ip !== wanted) {
          return this.nak(req, `requested address ${ipToString(wanted)} is not yours (lease ${ip === undefined ? 'none' : ipToString(ip)})`);
        }
        return this.reply(req, DHCPACK, ip);
      }
      case DHCPINFORM:
        // §4.3.5: configuration only, no lease, no yiaddr, sent to ciaddr.
        return this.reply(req, DHCPACK, 0);
      case DHCPRELEASE:
        // The lease stays this MAC's: addresses are stable per client.
        return { kind: 'done', what: 'release' };
      case DHCPDECLINE: {
        const ip = optionIp(req, OPT_REQUESTED_IP);
        if (ip !== undefined && this.leases.get(mac) === ip) {
          this.declined.add(ip);
          this.leases.delete(mac);
        }
        return { kind: 'done', what: 'decline' };
      }
      case undefined:
        return refused('dhcp.bootp', `dhcp: no message type option from chaddr=${mac}; plain BOOTP is not served`);
      default:
        return refused('dhcp.type', `dhcp: message type=${type} from chaddr=${mac}`);
    }
  }

  private inPool(ip: number): boolean {
    const { network, mask, serverIp, dnsIp, poolStart } = this.cfg;
    const broadcast = (network | ~mask) >>> 0;
    return ((ip & mask) >>> 0) === network && ip >= poolStart && ip !== network && ip !== broadcast &&
      ip !== serverIp && ip !== dnsIp;
  }

  /** This MAC's lease; else `hint` if free; else the lowest free pool address. */
  private allocate(mac: string, hint?: number): number | undefined {
    const have = this.leases.get(mac);
    if (have !== undefined) return have;
    const used = new Set(this.leases.values());
    const free = (ip: number) => this.inPool(ip) && !used.has(ip) && !this.declined.has(ip);
    let ip: number | undefined = hint !== undefined && hint !== 0 && free(hint) ? hint : undefined;
    if (ip === undefined) {
      const broadcast = (this.cfg.network | ~this.cfg.mask) >>> 0;
      for (let a = this.cfg.poolStart; a < broadcast; a++) {
        if (free(a)) {
          ip = a;
          break;
        }
      }
    }
    if (ip !== undefined) this.leases.set(mac, ip);
    return ip;
  }

  private reply(req: DhcpMessage, type: number, yiaddr: number): DhcpDecision {
    const { serverIp, mask, dnsIp, leaseSeconds, bootFile, nextServer } = this.cfg;
    const options = new Map<number, Uint8Array>([
      [OPT_MESSAGE_TYPE, Uint8Array.of(type)],
      [OPT_SERVER_ID, ipOption(serverIp)],
    ]);
    if (type !== DHCPACK || yiaddr !== 0) options.set(OPT_LEASE_TIME, u32Option(leaseSeconds));
    options.set(OPT_SUBNET_MASK, ipOption(mask));
    options.set(OPT_ROUTER, ipOption(serverIp));
    options.set(OPT_DNS, ipOption(dnsIp));
    if (bootFile !== undefined) options.set(OPT_BOOTFILE_NAME, new TextEncoder().encode(bootFile));
    const message: DhcpMessage = {
      op: BOOTREPLY, xid: req.xid, secs: 0, flags: req.flags, ciaddr: req.ciaddr, yiaddr,
      siaddr: nextServer ?? 0, giaddr: 0, chaddr: req.chaddr, file: bootFile ?? '', options,
    };
    // §4.1: a configured client (ciaddr) gets unicast; one without an address gets the IP
    // broadcast, on the wire to its own MAC unless it asked for a broadcast.
    if (req.ciaddr !== 0) return { kind: 'reply', type, message, dstIp: req.ciaddr, dstMac: req.chaddr };
    const dstMac = (req.flags & BROADCAST_FLAG) !== 0 ? BROADCAST_MAC : req.chaddr;
    return { kind: 'reply', type, message, dstIp: IP_BROADCAST, dstMac };
  }

  private nak(req: DhcpMessage, why: string): DhcpDecision {
    const options = new Map<number, Uint8Array>([
      [OPT_MESSAGE_TYPE, Uint8Array.of(DHCPNAK)],
      [OPT_SERVER_ID, ipOption(this.cfg.serverIp)],
      [OPT_MESSAGE, new TextEncoder().encode(why)],
    ]);
    const message: DhcpMessage = {
      op: BOOTREPLY, xid: req.xid, secs: 0, flags: req.flags, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
      chaddr: req.chaddr, file: '', options,
    };
    // §4.3.2: a NAK is broadcast.
    return { kind: 'reply', type: DHCPNAK, message, dstIp: IP_BROADCAST, dstMac: BROADCAST_MAC };
  }
}

function refused(reason: string, detail: string): DhcpDecision {
  return { kind: 'refused', reason, detail };
}
