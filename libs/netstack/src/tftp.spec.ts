import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { slirpMac } from './gateway.js';
import { OP_ACK, OP_DATA, OP_ERROR, OP_OACK, OP_RRQ, OP_WRQ, buildAck, buildError, buildRequest, parseTftp, type TftpPacket } from './tftp.js';
import { GUEST_MAC, GW, decodeUdp, harness, udpFrame, type Harness } from './testing/guest.test-util.js';

const CLIENT = 0x0a00020f;
const CLIENT_PORT = 3000;
const SIZE = 300 * 1024 + 123;

let root: string;
let outside: string;
let image: Uint8Array;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'netstack-tftp-'));
  outside = mkdtempSync(join(tmpdir(), 'netstack-secret-'));
  image = new Uint8Array(SIZE);
  let x = 0x12345678;
  for (let i = 0; i < SIZE; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    image[i] = x >>> 24;
  }
  writeFileSync(join(root, 'Image'), image);
  mkdirSync(join(root, 'boot'));
  writeFileSync(join(root, 'boot', 'exact.bin'), new Uint8Array(1024)); // a multiple of 512
  writeFileSync(join(outside, 'secret'), 'top secret');
  symlinkSync(join(outside, 'secret'), join(root, 'escape'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function toGateway(h: Harness, dstPort: number, payload: Uint8Array, srcPort = CLIENT_PORT): void {
  // U-Boot sends UDP checksum 0; the gateway's MAC learned from ARP.
  h.gw.receive(udpFrame({ dstMac: slirpMac(GW), src: CLIENT, dst: GW, srcPort, dstPort, payload, zeroChecksum: true }));
}

function replies(h: Harness): { port: number; p: TftpPacket }[] {
  return h.take().map((f) => {
    const d = decodeUdp(f);
    expect(d.ip.dst).toBe(CLIENT);
    expect(d.udp.dstPort).toBe(CLIENT_PORT);
    expect(d.dstMac).toEqual(GUEST_MAC);
    const p = parseTftp(d.udp.payload);
    if (!p.ok) throw new Error(p.detail);
    return { port: d.udp.srcPort, p: p.value };
  });
}

/** A client as U-Boot's net/tftp.c behaves: ACK 0 after an OACK, then an ACK per window. */
async function fetch(h: Harness, name: string, options = new Map<string, string>()) {
  toGateway(h, 69, buildRequest(OP_RRQ, name, 'octet', options));
  await h.gw.settled();
  let oack: Map<string, string> | undefined;
  let blockSize = 512;
  let window = 1;
  const chunks: Uint8Array[] = [];
  let expected = 1;
  let inWindow = 0;
  for (let rounds = 0; rounds < 100000; rounds++) {
    const rs = replies(h);
    if (rs.length === 0) throw new Error(`stalled waiting for block ${expected}`);
    for (const { port, p } of rs) {
      if (p.op === OP_ERROR) return { error: p, oack, data: undefined };
      if (p.op === OP_OACK) {
        oack = p.options;
        blockSize = Number(p.options.get('blksize') ?? 512);
        window = Number(p.options.get('windowsize') ?? 1);
        toGateway(h, port, buildAck(0));
        continue;
      }
      if (p.op !== OP_DATA) throw new Error(`unexpected opcode ${p.op}`);
      expect(p.block).toBe(expected & 0xffff);
      expect(p.data.length).toBeLessThanOrEqual(blockSize);
      chunks.push(p.data.slice());
      expected++;
      inWindow++;
      const last = p.data.length < blockSize;
      if (last || inWindow === window) {
        inWindow = 0;
        toGateway(h, port, buildAck(p.block));
      }
      if (last) return { error: undefined, oack, data: Buffer.concat(chunks), blocks: chunks.length };
    }
  }
  throw new Error('no end of file');
}

describe('TFTP through the gateway', () => {
  afterEach(() => vi.useRealTimers());

  it("serves a 300 KiB file with U-Boot's options: timeout 5, tsize 0, blksize 1468", async () => {
    const h = harness({ tftpRoot: root });
    const r = await fetch(
      h,
      'Image',
      new Map([
        ['timeout', '5'],
        ['tsize', '0'],
        ['blksize', '1468'],
      ]),
    );
    expect(r.error).toBeUndefined();
    expect(r.oack).toEqual(
      new Map([
        ['blksize', '1468'],
        ['timeout', '5'],
        ['tsize', String(SIZE)],
      ]),
    );
    expect(Buffer.compare(r.data!, Buffer.from(image))).toBe(0);
    expect(r.blocks).toBe(Math.floor(SIZE / 1468) + 1);
    const s = h.gw.stats;
    expect(s.tftp).toMatchObject({ files: 1, bytes: SIZE, activeSessions: 0, errorsSent: 0 });
    expect(s.dropped).toEqual({});
    h.gw.close();
  });

  it('serves with the RFC 1350 default of 512-byte blocks when no option is asked', async () => {
    const h = harness({ tftpRoot: root });
    const r = await fetch(h, '/Image');
    expect(r.oack).toBeUndefined();
    expect(Buffer.compare(r.data!, Buffer.from(image))).toBe(0);
    expect(r.blocks).toBe(Math.floor(SIZE / 512) + 1);
  });

  it('ends a file that is a multiple of the block size with an empty block', async () => {
    const h = harness({ tftpRoot: root });
    const r = await fetch(h, 'boot/exact.bin');
    expect(r.data!.length).toBe(1024);
    expect(r.blocks).toBe(3);
  });

  it('caps blksize to one unfragmented frame and honours windowsize', async () => {
    const h = harness({ tftpRoot: root });
    const r = await fetch(
      h,
      'Image',
      new Map([
        ['blksize', '8192'],
        ['windowsize', '8'],
        ['bogus', '1'],
      ]),
    );
    expect(r.oack).toEqual(
      new Map([
        ['blksize', '1468'],
        ['windowsize', '8'],
      ]),
    );
    expect(Buffer.compare(r.data!, Buffer.from(image))).toBe(0);
  });

  it('answers a missing file with ERROR 1 and a path outside the root with ERROR 2 "access violation"', async () => {
    const h = harness({ tftpRoot: root });
    expect((await fetch(h, 'nope.img')).error).toEqual({ op: OP_ERROR, code: 1, message: 'file not found' });
    for (const name of ['../' + outside.split('/').pop() + '/secret', '/../../../../etc/passwd', 'boot/../../x', 'escape']) {
      expect((await fetch(h, name)).error, name).toEqual({ op: OP_ERROR, code: 2, message: 'access violation' });
    }
    expect((await fetch(h, 'boot')).error?.code).toBe(1); // a directory is no file
    expect(h.gw.stats.dropped).toEqual({ 'tftp.notFound': 2, 'tftp.accessViolation': 4 });
    expect(h.gw.stats.tftp.errorsSent).toBe(6);
  });

  it('refuses WRQ and netascii', async () => {
    const h = harness({ tftpRoot: root });
    toGateway(h, 69, buildRequest(OP_WRQ, 'upload', 'octet'));
    toGateway(h, 69, buildRequest(OP_RRQ, 'Image', 'netascii'));
    await h.gw.settled();
    const rs = replies(h).map((r) => r.p);
    expect(rs[0]).toMatchObject({ op: OP_ERROR, code: 2 });
    expect(rs[1]).toMatchObject({ op: OP_ERROR, code: 0 });
    expect(h.gw.stats.dropped).toEqual({ 'tftp.wrq': 1, 'tftp.mode': 1 });
  });

  it('retransmits the OACK and data on timeout, resends on a repeated ACK, and gives up after 5 tries', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const h = harness({ tftpRoot: root });
    toGateway(
      h,
      69,
      buildRequest(
        OP_RRQ,
        'Image',
        'octet',
        new Map([
          ['timeout', '2'],
          ['blksize', '1024'],
        ]),
      ),
    );
    await h.gw.settled();
    const [first] = replies(h);
    expect(first!.p.op).toBe(OP_OACK);
    vi.advanceTimersByTime(1999);
    expect(h.out).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(replies(h).map((r) => r.p.op)).toEqual([OP_OACK]); // negotiated 2 s
    toGateway(h, first!.port, buildAck(0));
    expect(replies(h).map((r) => r.p)).toMatchObject([{ op: OP_DATA, block: 1 }]);
    toGateway(h, first!.port, buildAck(0)); // the client did not get block 1 and asks again
    expect(replies(h).map((r) => r.p)).toMatchObject([{ op: OP_DATA, block: 1 }]);
    toGateway(h, first!.port, buildAck(1));
    expect(replies(h).map((r) => r.p)).toMatchObject([{ op: OP_DATA, block: 2 }]);
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(2000);
      expect(replies(h).map((r) => r.p)).toMatchObject([{ op: OP_DATA, block: 2 }]);
    }
    vi.advanceTimersByTime(2000);
    expect(h.out).toHaveLength(0);
    const s = h.gw.stats;
    expect(s.tftp.retransmits).toBe(6);
    expect(s.tftp.activeSessions).toBe(0);
    expect(s.dropped['tftp.timeout']).toBe(1);
    // The session's port is gone: a late ACK meets ICMP port unreachable.
    toGateway(h, first!.port, buildAck(2));
    expect(h.gw.stats.icmpUnreachables).toBe(1);
  });

  it('answers a repeated RRQ from the same port on the same TID (U-Boot resends its RRQ)', async () => {
    const h = harness({ tftpRoot: root });
    const rrq = buildRequest(OP_RRQ, 'Image', 'octet', new Map([['blksize', '1468']]));
    toGateway(h, 69, rrq);
    await h.gw.settled();
    const [a] = replies(h);
    toGateway(h, 69, rrq);
    await h.gw.settled();
    const [b] = replies(h);
    expect(b!.port).toBe(a!.port);
    expect(b!.p).toEqual(a!.p);
    h.gw.close();
  });

  it('sends ERROR 5 to a stranger on a session port, and ends the session on a client ERROR', async () => {
    const h = harness({ tftpRoot: root });
    toGateway(h, 69, buildRequest(OP_RRQ, 'Image', 'octet'));
    await h.gw.settled();
    const [first] = replies(h);
    h.gw.receive(udpFrame({ dstMac: slirpMac(GW), src: CLIENT, dst: GW, srcPort: 4444, dstPort: first!.port, payload: buildAck(1) }));
    const stranger = decodeUdp(h.take()[0]!);
    expect(stranger.udp.dstPort).toBe(4444);
    expect(parseTftp(stranger.udp.payload)).toMatchObject({ ok: true, value: { op: OP_ERROR, code: 5 } });
    toGateway(h, first!.port, buildError(0, 'user abort'));
    expect(h.gw.stats.tftp.activeSessions).toBe(0);
    expect(h.gw.stats.dropped).toEqual({ 'tftp.tid': 1, 'tftp.clientError': 1 });
  });

  it('counts malformed TFTP packets; an ACK sent to port 69 gets ERROR 4', async () => {
    const h = harness({ tftpRoot: root });
    const enc = (t: string) => new TextEncoder().encode(t);
    toGateway(h, 69, Uint8Array.of(0, OP_RRQ, 0x41, 0x42)); // filename without NUL
    toGateway(h, 69, Uint8Array.of(0, OP_RRQ, ...enc('A\0octet\0blksize\0'))); // option without value
    toGateway(h, 69, Uint8Array.of(0, 9, 0, 0)); // no such opcode
    toGateway(h, 69, Uint8Array.of(0, 1, 0)); // shorter than any packet
    await h.gw.settled();
    expect(h.out).toHaveLength(0);
    toGateway(h, 69, Uint8Array.of(0, OP_ACK, 0, 0));
    expect(replies(h).map((r) => r.p)).toMatchObject([{ op: OP_ERROR, code: 4 }]);
    expect(h.gw.stats.errors).toBe(0);
    expect(h.gw.stats.dropped).toEqual({ 'tftp.request': 2, 'tftp.opcode': 2, 'tftp.truncated': 1 });
  });
});
