// The DHCP server half of the gateway, as pure logic: a request in, a decision out. Leases
// are per client MAC, and the MAC is the frame's Ethernet source, never only the chaddr a
// guest writes into the packet (a guest could name any MAC there and drain the pool, or
// DECLINE another client's lease). An offer holds its address for `offerSeconds`, a lease
// for `leaseSeconds` from its last ACK, a declined address for `offerSeconds`; an expired
// lease keeps its address until the pool needs it, so a guest that reboots gets the address
// it had (as slirp's table does) and a flood of made-up clients cannot hold the pool.
import {
  BOOTREPLY,
  BOOTREQUEST,
  DHCPACK,
  DHCPDECLINE,
  DHCPDISCOVER,
  DHCPINFORM,
  DHCPNAK,
  DHCPOFFER,
  DHCPRELEASE,
  DHCPREQUEST,
  OPT_BOOTFILE_NAME,
  OPT_DNS,
  OPT_LEASE_TIME,
  OPT_MESSAGE,
  OPT_MESSAGE_TYPE,
  OPT_REQUESTED_IP,
  OPT_ROUTER,
  OPT_SERVER_ID,
  OPT_SUBNET_MASK,
  ipOption,
  messageType,
  optionIp,
  u32Option,
  type DhcpMessage,
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
  /** How long an offer not yet requested, and a declined address, are held. Default 60. */
  offerSeconds?: number;
  /** Live leases (offered or bound, not expired) at the most. Default 128. */
  maxLeases?: number;
  /** Milliseconds; the tests move it. Default Date.now. */
  now?: () => number;
}

/** Per client, what DHCP tells it about booting (the gateway's TFTP for that port). */
export interface DhcpBoot {
  bootFile?: string;
  nextServer?: number;
}

interface Lease {
  ip: number;
  /** Date.now() after which the address may go to someone else. */
  expires: number;
}

export type DhcpDecision =
  | { kind: 'reply'; type: number; message: DhcpMessage; dstIp: number; dstMac: Mac }
  /** Understood and acted on, nothing to send (RELEASE, DECLINE). */
  | { kind: 'done'; what: string }
  | { kind: 'refused'; reason: string; detail: string };

const BROADCAST_FLAG = 0x8000;
export const DEFAULT_LEASE_SECONDS = 86400;
export const DEFAULT_OFFER_SECONDS = 60;
export const DEFAULT_MAX_LEASES = 128;
/** Addresses one client may hold out of the pool by DECLINE at once. */
const MAX_DECLINES_PER_CLIENT = 4;

export class DhcpServer {
  private readonly leases = new Map<string, Lease>();
  /** Address -> until when it stays out of the pool (a client said it is in use), and who said so. */
  private readonly declined = new Map<number, { until: number; by: string }>();
  private readonly cfg: Required<Omit<DhcpServerConfig, 'bootFile' | 'nextServer'>> & DhcpServerConfig;

  constructor(cfg: DhcpServerConfig) {
    this.cfg = { leaseSeconds: DEFAULT_LEASE_SECONDS, offerSeconds: DEFAULT_OFFER_SECONDS, maxLeases: DEFAULT_MAX_LEASES, now: () => Date.now(), ...cfg };
    if (!this.inPool(cfg.poolStart)) {
      throw new Error(`dhcp: dhcpStart=${ipToString(cfg.poolStart)} is not a host address of the network`);
    }
  }

  /** Live leases (offered or bound, not expired), client MAC (aa:bb:..) -> address. */
  get leaseTable(): ReadonlyMap<string, number> {
    const now = this.cfg.now();
    return new Map([...this.leases].filter(([, l]) => l.expires > now).map(([mac, l]) => [mac, l.ip]));
  }

  leaseOf(mac: Mac): number | undefined {
    return this.leases.get(macToString(mac))?.ip;
  }

  /**
   * One request that arrived in a frame from `from` (its Ethernet source). `boot` is what
   * this client is told about booting; the server's own `bootFile`/`nextServer` otherwise.
   */
  handle(req: DhcpMessage, from: Mac, boot?: DhcpBoot): DhcpDecision {
    if (req.op !== BOOTREQUEST) return refused('dhcp.op', `dhcp: op=${req.op} is not BOOTREQUEST`);
    if (req.giaddr !== 0) return refused('dhcp.relayed', `dhcp: giaddr=${ipToString(req.giaddr)}; relays are not served`);
    const type = messageType(req);
    const mac = macToString(req.chaddr);
    if (mac !== macToString(from)) {
      return refused('dhcp.chaddr', `dhcp: chaddr=${mac} in a frame from ${macToString(from)}; a client speaks for its own MAC only`);
    }
    const now = this.cfg.now();
    switch (type) {
      case DHCPDISCOVER: {
        const ip = this.allocate(mac, optionIp(req, OPT_REQUESTED_IP), now);
        if (typeof ip === 'string')
          return refused(ip, `dhcp: no address for chaddr=${mac}: ${ip === 'dhcp.leaseLimit' ? `${this.cfg.maxLeases} live leases` : 'the pool is exhausted'}`);
        return this.reply(req, DHCPOFFER, ip, boot);
      }
      case DHCPREQUEST: {
        const serverId = optionIp(req, OPT_SERVER_ID);
        if (serverId !== undefined && serverId !== this.cfg.serverIp) {
          // RFC 2131 §4.3.2: the client chose another server's offer.
          return refused('dhcp.otherServer', `dhcp: REQUEST server id=${ipToString(serverId)} is not ours`);
        }
        const wanted = optionIp(req, OPT_REQUESTED_IP) ?? req.ciaddr;
        const ip = this.allocate(mac, wanted, now);
        if (wanted === 0 || ip !== wanted) {
          return this.nak(req, `requested address ${ipToString(wanted)} is not yours (lease ${typeof ip === 'string' ? 'none' : ipToString(ip)})`);
        }
        this.leases.get(mac)!.expires = now + this.cfg.leaseSeconds * 1000;
        return this.reply(req, DHCPACK, ip, boot);
      }
      case DHCPINFORM:
        // §4.3.5: configuration only, no lease, no yiaddr, sent to ciaddr.
        return this.reply(req, DHCPACK, 0, boot);
      case DHCPRELEASE:
        // The lease stays this MAC's: addresses are stable per client.
        return { kind: 'done', what: 'release' };
      case DHCPDECLINE: {
        // RFC 2131 §4.3.3: the client found its address in use. Only its own lease goes,
        // and the address comes back after a while, so DECLINEs cannot burn the pool.
        const ip = optionIp(req, OPT_REQUESTED_IP);
        if (ip !== undefined && this.leases.get(mac)?.ip === ip) {
          let mine = 0;
          for (const d of this.declined.values()) if (d.by === mac && d.until > now) mine++;
          if (mine >= MAX_DECLINES_PER_CLIENT) {
            return refused('dhcp.declineLimit', `dhcp: DECLINE of ${ipToString(ip)} from ${mac}, which has declined ${mine} addresses already`);
          }
          this.declined.set(ip, { until: now + this.cfg.offerSeconds * 1000, by: mac });
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
    return (ip & mask) >>> 0 === network && ip >= poolStart && ip !== network && ip !== broadcast && ip !== serverIp && ip !== dnsIp;
  }

  /**
   * This MAC's lease (renewed as an offer if it had expired); else `hint` if free; else the
   * lowest free pool address, taking back expired leases and declines only when none is.
   */
  private allocate(mac: string, hint: number | undefined, now: number): number | 'dhcp.poolExhausted' | 'dhcp.leaseLimit' {
    const have = this.leases.get(mac);
    if (have !== undefined) {
      have.expires = Math.max(have.expires, now + this.cfg.offerSeconds * 1000);
      return have.ip;
    }
    let live = 0;
    for (const l of this.leases.values()) if (l.expires > now) live++;
    if (live >= this.cfg.maxLeases) return 'dhcp.leaseLimit';
    let ip = this.pick(hint);
    if (ip === undefined) {
      for (const [m, l] of this.leases) if (l.expires <= now) this.leases.delete(m);
      for (const [a, d] of this.declined) if (d.until <= now) this.declined.delete(a);
      ip = this.pick(hint);
    }
    if (ip === undefined) return 'dhcp.poolExhausted';
    this.leases.set(mac, { ip, expires: now + this.cfg.offerSeconds * 1000 });
    return ip;
  }

  private pick(hint: number | undefined): number | undefined {
    const used = new Set<number>();
    for (const l of this.leases.values()) used.add(l.ip);
    const free = (ip: number) => this.inPool(ip) && !used.has(ip) && !this.declined.has(ip);
    if (hint !== undefined && hint !== 0 && free(hint)) return hint;
    const broadcast = (this.cfg.network | ~this.cfg.mask) >>> 0;
    for (let a = this.cfg.poolStart; a < broadcast; a++) if (free(a)) return a;
    return undefined;
  }

  private reply(req: DhcpMessage, type: number, yiaddr: number, boot: DhcpBoot = this.cfg): DhcpDecision {
    const { serverIp, mask, dnsIp, leaseSeconds } = this.cfg;
    const { bootFile, nextServer } = boot;
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
      op: BOOTREPLY,
      xid: req.xid,
      secs: 0,
      flags: req.flags,
      ciaddr: req.ciaddr,
      yiaddr,
      siaddr: nextServer ?? 0,
      giaddr: 0,
      chaddr: req.chaddr,
      file: bootFile ?? '',
      options,
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
      op: BOOTREPLY,
      xid: req.xid,
      secs: 0,
      flags: req.flags,
      ciaddr: 0,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: req.chaddr,
      file: '',
      options,
    };
    // §4.3.2: a NAK is broadcast.
    return { kind: 'reply', type: DHCPNAK, message, dstIp: IP_BROADCAST, dstMac: BROADCAST_MAC };
  }
}

function refused(reason: string, detail: string): DhcpDecision {
  return { kind: 'refused', reason, detail };
}
