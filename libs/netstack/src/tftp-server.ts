// A read-only TFTP server over a directory, driven by datagrams in and datagrams out. One
// session per client endpoint, each on its own port (its TID, RFC 1350 §4). Options as
// U-Boot's tftp client asks for them: blksize capped so a block fits one unfragmented
// Ethernet frame, timeout echoed (U-Boot restarts when the value differs), tsize answered
// with the file size, windowsize when asked (U-Boot only asks when tftpwindowsize > 1).
//
// A guest is not trusted: sessions are capped per client MAC and in total, a session port is
// found in bounded time or the request refused, a session answers only the endpoint and MAC
// that opened it, a repeated ACK resends at most once per timeout, files are capped in size
// and a file read by many sessions is held once.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { macEquals, macToString, type Mac } from './ethernet.js';
import { ipToString } from './ipv4.js';
import type { NetLog } from './parse.js';
import {
  ERR_ACCESS,
  ERR_ILLEGAL,
  ERR_NOT_FOUND,
  ERR_UNDEFINED,
  ERR_UNKNOWN_TID,
  OP_ACK,
  OP_ERROR,
  OP_RRQ,
  OP_WRQ,
  TFTP_PORT,
  buildData,
  buildError,
  buildOack,
  parseTftp,
  type TftpPacket,
} from './tftp.js';

export interface TftpPeer {
  ip: number;
  port: number;
  mac: Mac;
}

export interface TftpServerOptions {
  /** The directory served, unless a request names its own (per-client roots, handle()). */
  root?: string;
  /** Sends a UDP payload from `srcPort` of the server's address to the peer. */
  send(to: TftpPeer, srcPort: number, payload: Uint8Array): void;
  /** Counts (and logs) an input that was refused. */
  drop(reason: string, detail: string): void;
  log?: NetLog;
  /** 1500 - 20 (IP) - 8 (UDP) - 4 (TFTP): the largest block without fragmentation. */
  maxBlockSize?: number;
  maxWindowSize?: number;
  /** Retransmission interval when the client negotiates none (it usually does). */
  defaultTimeoutMs?: number;
  maxRetries?: number;
  /** Sessions at once, in all (default 256) and per client MAC (default 8). */
  maxSessions?: number;
  maxSessionsPerClient?: number;
  /** Largest file served (default 256 MiB): a read holds the whole file in memory. */
  maxFileBytes?: number;
}

export interface TftpStats {
  files: number;
  bytes: number;
  errorsSent: number;
  retransmits: number;
  activeSessions: number;
  /** Files held in memory now, shared by the sessions reading them. */
  filesHeld: number;
}

export const TFTP_MAX_BLOCK_SIZE = 1468;
const DEFAULT_BLOCK_SIZE = 512;
const FIRST_SESSION_PORT = 49152;
const SESSION_PORTS = 65536 - FIRST_SESSION_PORT;

/** One file's bytes, shared by every session reading it. */
interface HeldFile {
  data: Uint8Array;
  size: number;
  mtimeMs: number;
  readers: number;
}

interface Session {
  peer: TftpPeer;
  key: string;
  port: number;
  filename: string;
  /** Key of `held`, the file this session reads. */
  file: string;
  data: Uint8Array;
  blockSize: number;
  windowSize: number;
  timeoutMs: number;
  /** Waiting for ACK 0 of our OACK. */
  oack: Uint8Array | undefined;
  /** First block (1-based, not wrapped) not yet acknowledged. */
  base: number;
  lastBlock: number;
  retries: number;
  /** A repeated ACK already made us resend since the last timeout or progress. */
  resentOnDuplicate: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class TftpServer {
  readonly stats: TftpStats = { files: 0, bytes: 0, errorsSent: 0, retransmits: 0, activeSessions: 0, filesHeld: 0 };
  private readonly sessions = new Map<string, Session>();
  private readonly byPort = new Map<number, Session>();
  /** Sessions and requests being opened, per client MAC. */
  private readonly perClient = new Map<string, number>();
  private readonly opening = new Set<string>();
  private readonly held = new Map<string, HeldFile>();
  private readonly rootsReal = new Map<string, Promise<string>>();
  private nextPort = FIRST_SESSION_PORT;
  private readonly maxBlockSize: number;
  private readonly maxWindowSize: number;
  private readonly defaultTimeoutMs: number;
  private readonly maxRetries: number;
  private readonly maxSessions: number;
  private readonly maxSessionsPerClient: number;
  private readonly maxFileBytes: number;

  constructor(private readonly opts: TftpServerOptions) {
    this.maxBlockSize = opts.maxBlockSize ?? TFTP_MAX_BLOCK_SIZE;
    this.maxWindowSize = opts.maxWindowSize ?? 64;
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 3000;
    this.maxRetries = opts.maxRetries ?? 5;
    this.maxSessions = Math.min(opts.maxSessions ?? 256, SESSION_PORTS);
    this.maxSessionsPerClient = opts.maxSessionsPerClient ?? 8;
    this.maxFileBytes = opts.maxFileBytes ?? 256 * 1024 * 1024;
    if (opts.root !== undefined) this.realRoot(opts.root);
  }

  /** Whether datagrams to this local port are the server's (69 or a live session). */
  ownsPort(port: number): boolean {
    return port === TFTP_PORT || this.byPort.has(port);
  }

  /** One datagram; a request (port 69) is served from `root`, else from the server's. */
  async handle(from: TftpPeer, dstPort: number, payload: Uint8Array, root = this.opts.root): Promise<void> {
    const parsed = parseTftp(payload);
    if (!parsed.ok) return this.opts.drop(parsed.reason, parsed.detail);
    const p = parsed.value;
    if (dstPort === TFTP_PORT) return this.request(from, p, root);
    const s = this.byPort.get(dstPort);
    if (s === undefined) return this.opts.drop('tftp.noSession', `tftp: port=${dstPort} has no session`);
    if (s.peer.ip !== from.ip || s.peer.port !== from.port || !macEquals(s.peer.mac, from.mac)) {
      this.error(from, dstPort, ERR_UNKNOWN_TID, 'unknown transfer ID');
      return this.opts.drop('tftp.tid', `tftp: ${ipToString(from.ip)}:${from.port} is not the peer of port ${dstPort}`);
    }
    switch (p.op) {
      case OP_ACK:
        return this.ack(s, p.block);
      case OP_ERROR:
        this.close(s);
        return this.opts.drop('tftp.clientError', `tftp: client ended "${s.filename}" with error ${p.code} "${p.message}"`);
      default:
        this.error(from, s.port, ERR_ILLEGAL, `unexpected opcode ${p.op}`);
        this.close(s);
        return this.opts.drop('tftp.opcode', `tftp: opcode=${p.op} in a read session`);
    }
  }

  /** Stops every session and its timer. */
  closeAll(): void {
    for (const s of [...this.sessions.values()]) this.close(s);
  }

  private close(s: Session): void {
    if (s.timer) clearTimeout(s.timer);
    this.sessions.delete(s.key);
    this.byPort.delete(s.port);
    this.release(macToString(s.peer.mac));
    const f = this.held.get(s.file);
    if (f && --f.readers === 0) this.held.delete(s.file);
    this.stats.activeSessions = this.sessions.size;
    this.stats.filesHeld = this.held.size;
  }

  private release(client: string): void {
    const n = (this.perClient.get(client) ?? 1) - 1;
    if (n > 0) this.perClient.set(client, n);
    else this.perClient.delete(client);
  }

  private async request(from: TftpPeer, p: TftpPacket, root: string | undefined): Promise<void> {
    if (p.op === OP_WRQ) {
      this.error(from, TFTP_PORT, ERR_ACCESS, 'access violation: write requests are refused');
      return this.opts.drop('tftp.wrq', `tftp: WRQ filename="${p.filename}" refused`);
    }
    if (p.op !== OP_RRQ) {
      this.error(from, TFTP_PORT, ERR_ILLEGAL, `opcode ${p.op} on port 69`);
      return this.opts.drop('tftp.opcode', `tftp: opcode=${p.op} sent to port 69`);
    }
    const key = `${ipToString(from.ip)}:${from.port}`;
    const existing = this.sessions.get(key);
    if (existing && !macEquals(existing.peer.mac, from.mac)) {
      return this.opts.drop('tftp.tid', `tftp: RRQ from ${key} at ${macToString(from.mac)}; that endpoint's session is ${macToString(existing.peer.mac)}'s`);
    }
    if (existing && existing.filename === p.filename && existing.base <= 1) {
      // Our first answer was lost and the client asks again (U-Boot resends the RRQ from
      // the same port): answer from the same TID rather than start a second transfer.
      return this.retransmit(existing);
    }
    if (existing) this.close(existing);
    if (this.opening.has(key)) return this.opts.drop('tftp.duplicateRequest', `tftp: RRQ from ${key} while its file is opening`);
    if (p.mode !== 'octet') {
      this.error(from, TFTP_PORT, ERR_UNDEFINED, `mode "${p.mode}" is not served, only octet`);
      return this.opts.drop('tftp.mode', `tftp: mode="${p.mode}" for "${p.filename}"`);
    }
    const client = macToString(from.mac);
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.maxSessionsPerClient || this.sessions.size + this.opening.size >= this.maxSessions) {
      this.error(from, TFTP_PORT, ERR_UNDEFINED, 'too many transfers');
      const why =
        mine >= this.maxSessionsPerClient
          ? `${client} has ${mine} transfers, the most one client may`
          : `${this.maxSessions} transfers, the most the server holds`;
      return this.opts.drop('tftp.sessionLimit', `tftp: RRQ "${p.filename}" from ${key} refused: ${why}`);
    }
    this.perClient.set(client, mine + 1);
    this.opening.add(key);
    let started = false;
    try {
      if (root === undefined) {
        this.error(from, TFTP_PORT, ERR_ACCESS, 'no files are served to this client');
        return this.opts.drop('tftp.noRoot', `tftp: RRQ "${p.filename}" from ${client}, which has no tftp directory`);
      }
      const opened = await this.open(root, p.filename);
      if (!opened.ok) {
        this.error(from, TFTP_PORT, opened.code, opened.message);
        return this.opts.drop(opened.reason, `tftp: filename="${p.filename}": ${opened.message}`);
      }
      started = this.start(from, key, p.filename, opened.file, p.options);
    } finally {
      this.opening.delete(key);
      if (!started) this.release(client);
    }
  }

  private realRoot(root: string): Promise<string> {
    let real = this.rootsReal.get(root);
    if (real === undefined) {
      real = fs.realpath(root);
      real.catch(() => undefined); // reported per request
      this.rootsReal.set(root, real);
    }
    return real;
  }

  private async open(rootDir: string, filename: string): Promise<{ ok: true; file: string } | { ok: false; code: number; message: string; reason: string }> {
    const denied = { ok: false as const, code: ERR_ACCESS, message: 'access violation', reason: 'tftp.accessViolation' };
    const missing = { ok: false as const, code: ERR_NOT_FOUND, message: 'file not found', reason: 'tftp.notFound' };
    const rel = filename.replace(/^\/+/, '');
    if (rel === '' || filename.includes('\0')) return missing;
    let root: string;
    try {
      root = await this.realRoot(rootDir);
    } catch {
      return { ok: false, code: ERR_UNDEFINED, message: 'tftp root unavailable', reason: 'tftp.root' };
    }
    const inside = (p: string) => {
      const r = path.relative(root, p);
      return r !== '' && !r.startsWith('..') && !path.isAbsolute(r);
    };
    if (!inside(path.resolve(root, rel))) return denied;
    let real: string;
    try {
      real = await fs.realpath(path.resolve(root, rel));
    } catch {
      return missing;
    }
    // A symlink inside the root may point out of it.
    if (!inside(real)) return denied;
    try {
      const st = await fs.stat(real);
      if (!st.isFile()) return missing;
      if (st.size > this.maxFileBytes) {
        return { ok: false, code: ERR_UNDEFINED, message: `file too large (${st.size} bytes; at most ${this.maxFileBytes})`, reason: 'tftp.tooLarge' };
      }
      // One copy per file while anyone reads it; a file changed since is read again.
      const have = this.held.get(real);
      if (have && have.size === st.size && have.mtimeMs === st.mtimeMs) return { ok: true, file: real };
      const data = new Uint8Array(await fs.readFile(real));
      if (data.length > this.maxFileBytes) {
        return { ok: false, code: ERR_UNDEFINED, message: `file too large (${data.length} bytes; at most ${this.maxFileBytes})`, reason: 'tftp.tooLarge' };
      }
      const readers = this.held.get(real)?.readers ?? 0;
      this.held.set(real, { data, size: st.size, mtimeMs: st.mtimeMs, readers });
      return { ok: true, file: real };
    } catch {
      return missing;
    }
  }

  /** Starts a session on a free port; false (and an ERROR sent) when no port is free. */
  private start(peer: TftpPeer, key: string, filename: string, file: string, asked: Map<string, string>): boolean {
    const held = this.held.get(file)!;
    const data = held.data;
    const accepted = new Map<string, string>();
    let blockSize = DEFAULT_BLOCK_SIZE;
    let windowSize = 1;
    let timeoutMs = this.defaultTimeoutMs;
    // RFC 2347: unknown or malformed options are left out of the OACK, not refused.
    const num = (v: string | undefined) => (v !== undefined && /^\d{1,10}$/.test(v) ? Number(v) : undefined);
    const bs = num(asked.get('blksize'));
    if (bs !== undefined && bs >= 8 && bs <= 65464) {
      blockSize = Math.min(bs, this.maxBlockSize);
      accepted.set('blksize', String(blockSize));
    }
    const to = num(asked.get('timeout'));
    if (to !== undefined && to >= 1 && to <= 255) {
      timeoutMs = to * 1000;
      accepted.set('timeout', String(to));
    }
    if (num(asked.get('tsize')) !== undefined) accepted.set('tsize', String(data.length));
    const ws = num(asked.get('windowsize'));
    if (ws !== undefined && ws >= 1 && ws <= 65535) {
      windowSize = Math.min(ws, this.maxWindowSize);
      accepted.set('windowsize', String(windowSize));
    }
    const port = this.allocatePort();
    if (port === undefined) {
      this.error(peer, TFTP_PORT, ERR_UNDEFINED, 'too many transfers');
      this.opts.drop('tftp.noPort', `tftp: RRQ "${filename}" from ${key} refused: every session port is taken`);
      if (held.readers === 0) this.held.delete(file);
      return false;
    }
    held.readers++;
    const s: Session = {
      peer,
      key,
      port,
      filename,
      file,
      data,
      blockSize,
      windowSize,
      timeoutMs,
      oack: accepted.size > 0 ? buildOack(accepted) : undefined,
      base: 1,
      lastBlock: Math.floor(data.length / blockSize) + 1,
      retries: 0,
      resentOnDuplicate: false,
      timer: undefined,
    };
    this.sessions.set(key, s);
    this.byPort.set(port, s);
    this.stats.activeSessions = this.sessions.size;
    this.stats.filesHeld = this.held.size;
    this.opts.log?.info({ file: filename, peer: key, size: data.length, blockSize, windowSize }, 'tftp: read request');
    this.transmit(s);
    return true;
  }

  /** A free session port (its TID), or undefined after one pass over the range. */
  private allocatePort(): number | undefined {
    for (let i = 0; i < SESSION_PORTS; i++) {
      const p = this.nextPort;
      this.nextPort = p >= 65535 ? FIRST_SESSION_PORT : p + 1;
      if (!this.byPort.has(p)) return p;
    }
    return undefined;
  }

  private ack(s: Session, block: number): void {
    if (s.oack) {
      if (block !== 0) return this.opts.drop('tftp.ack', `tftp: ACK block=${block} while waiting for ACK 0 of the OACK`);
      s.oack = undefined;
      s.retries = 0;
      return this.transmit(s);
    }
    // Map the 16-bit block number onto the outstanding window [base-1, base+window-1]
    // (block numbers wrap at 65536; U-Boot follows 65535 with 0).
    const prev = s.base - 1;
    const delta = (block - prev) & 0xffff;
    const sentUpTo = Math.min(s.base + s.windowSize - 1, s.lastBlock);
    if (delta > sentUpTo - prev) {
      return this.opts.drop('tftp.ack', `tftp: ACK block=${block} outside the window ${prev & 0xffff}..${sentUpTo & 0xffff}`);
    }
    const acked = prev + delta;
    if (acked === s.lastBlock) {
      this.stats.files++;
      this.stats.bytes += s.data.length;
      this.opts.log?.info({ file: s.filename, peer: s.key, bytes: s.data.length }, 'tftp: transfer complete');
      return this.close(s);
    }
    if (delta > 0) {
      s.retries = 0;
      s.resentOnDuplicate = false;
    } else {
      // A repeated ACK is the client's retransmission or U-Boot's "NACK" after a gap in a
      // window: resend from the first block it lacks, as slirp does, but once per timeout:
      // a stream of them must not turn each ACK into a whole window (an amplifier).
      if (s.resentOnDuplicate) return this.opts.drop('tftp.duplicateAck', `tftp: ACK block=${block} again from ${s.key}; resent once already`);
      s.resentOnDuplicate = true;
    }
    s.base = acked + 1;
    this.transmit(s);
  }

  private retransmit(s: Session): void {
    this.stats.retransmits++;
    this.transmit(s);
  }

  /** Sends the OACK or the window starting at `base`, and arms the retransmission timer. */
  private transmit(s: Session): void {
    if (s.oack) {
      this.opts.send(s.peer, s.port, s.oack);
    } else {
      const end = Math.min(s.base + s.windowSize - 1, s.lastBlock);
      for (let n = s.base; n <= end; n++) {
        const off = (n - 1) * s.blockSize;
        this.opts.send(s.peer, s.port, buildData(n & 0xffff, s.data.subarray(off, Math.min(off + s.blockSize, s.data.length))));
      }
    }
    if (s.timer) clearTimeout(s.timer);
    s.timer = setTimeout(() => this.timeout(s), s.timeoutMs);
    s.timer.unref?.();
  }

  private timeout(s: Session): void {
    s.timer = undefined;
    if (this.sessions.get(s.key) !== s) return;
    s.resentOnDuplicate = false;
    if (++s.retries > this.maxRetries) {
      this.close(s);
      return this.opts.drop('tftp.timeout', `tftp: "${s.filename}" to ${s.key} abandoned after ${this.maxRetries} retransmissions at block ${s.base}`);
    }
    this.retransmit(s);
  }

  private error(to: TftpPeer, srcPort: number, code: number, message: string): void {
    this.stats.errorsSent++;
    this.opts.send(to, srcPort, buildError(code, message));
  }
}
