import { describe, expect, it } from 'vitest';
import { STATUS, VIRTIO_F_VERSION_1, featureBit } from '../constants.js';
import { FlatMemory } from '../memory.js';
import { REG } from '../mmio/registers.js';
import { VirtioMmioTransport } from '../mmio/transport.js';
import { MockDriver } from '../testing/mock-driver.js';
import { NET_HDR_BYTES, RX_BUFFER_BYTES, RX_QUEUE, TX_QUEUE, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS } from './layout.js';
import { VirtioNet, type VirtioNetOptions } from './net.js';

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
/** What U-Boot 2023.01 virtio_net.c accepts: VIRTIO_NET_F_MAC, plus VERSION_1 from the transport. */
const UBOOT = featureBit(VIRTIO_NET_F_MAC) | featureBit(VIRTIO_F_VERSION_1);

function rig(opts: Partial<VirtioNetOptions> = {}) {
  const sent: Uint8Array[] = [];
  const irqs: boolean[] = [];
  const net = new VirtioNet({ mac: MAC, send: (f) => sent.push(f), ...opts });
  const mem = new FlatMemory(0x8000_0000, 1 << 20);
  const transport = new VirtioMmioTransport({ name: 'net0', device: net, mem, onIrq: (l) => irqs.push(l) });
  const drv = new MockDriver({ transport, mem });
  return { net, mem, transport, drv, sent, irqs };
}

/** An Ethernet frame of `len` bytes with a recognisable pattern, from this NIC's MAC. */
function frame(len: number, seed = 1): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7 + seed) & 0xff;
  if (len >= 12) f.set(MAC, 6);
  return f;
}

/** U-Boot's virtio_net_send: a zeroed 12-byte header descriptor, then the packet. */
function txChain(drv: MockDriver, f: Uint8Array, hdr = new Uint8Array(NET_HDR_BYTES)) {
  return drv.add(TX_QUEUE, { readable: [hdr, f] });
}

/** U-Boot's virtio_net_start: receive buffers of 1526 bytes, one descriptor each. */
function postRx(drv: MockDriver, n: number, len = RX_BUFFER_BYTES) {
  const posted = Array.from({ length: n }, () => drv.add(RX_QUEUE, { writable: [len] }));
  drv.notify(RX_QUEUE);
  return posted;
}

describe('VirtioNet: what the driver sees', () => {
  it('offers MAC and STATUS, reads mac and link-up from config, refuses config writes', () => {
    const { drv, transport } = rig();
    expect(drv.reg(REG.DEVICE_ID)).toBe(1);
    const offered = drv.deviceFeatures();
    expect(offered & featureBit(VIRTIO_NET_F_MAC)).not.toBe(0n);
    expect(offered & featureBit(VIRTIO_NET_F_STATUS)).not.toBe(0n);
    expect(offered & featureBit(VIRTIO_F_VERSION_1)).not.toBe(0n);
    expect(offered & featureBit(17)).toBe(0n); // no control queue
    drv.init({ accept: () => UBOOT });
    expect(drv.status() & STATUS.DRIVER_OK).toBe(STATUS.DRIVER_OK);
    // U-Boot's virtio_cread_bytes reads the mac a byte at a time.
    expect(Array.from({ length: 6 }, (_, i) => drv.config(i, 1))).toEqual(Array.from(MAC));
    expect(drv.config(6, 2)).toBe(1); // VIRTIO_NET_S_LINK_UP
    const before = transport.stats().ignoredWrites;
    drv.transport.write((REG.CONFIG + 0) as never, 1, 0xaa);
    expect(drv.config(0, 1)).toBe(0x52);
    expect(transport.stats().ignoredWrites).toBe(before + 1);
  });

  it('refuses a MAC that is not six unicast bytes', () => {
    expect(() => new VirtioNet({ mac: new Uint8Array(5), send: () => undefined })).toThrow(/5 bytes/);
    expect(() => new VirtioNet({ mac: Uint8Array.of(1, 0, 0, 0, 0, 1), send: () => undefined })).toThrow(/multicast/);
  });
});

describe('VirtioNet: traffic', () => {
  it('transmits a frame without its header, and gives the chain back', async () => {
    const { drv, net, sent } = rig();
    drv.init({ accept: () => UBOOT });
    const f = frame(60);
    const c = txChain(drv, f);
    drv.notify(TX_QUEUE);
    expect(await drv.waitUsed(TX_QUEUE, 1)).toEqual([{ id: c.head, len: 0 }]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toEqual(f);
    expect(net.stats()).toMatchObject({ txFrames: 1, txBytes: 60 });
  });

  it('receives into a posted buffer: header with num_buffers 1, then the frame, and interrupts', async () => {
    const { drv, net, irqs } = rig();
    drv.init({ accept: () => UBOOT });
    const [buf] = postRx(drv, 4);
    const f = frame(342, 9);
    net.receive(f);
    const used = await drv.waitUsed(RX_QUEUE, 1);
    expect(used).toEqual([{ id: buf!.head, len: NET_HDR_BYTES + 342 }]);
    const got = drv.peek(buf!.writable[0]!.addr, NET_HDR_BYTES + 342);
    expect(Array.from(got.subarray(0, NET_HDR_BYTES))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(got.subarray(NET_HDR_BYTES)).toEqual(f);
    expect(irqs).toContain(true);
    expect(net.stats()).toMatchObject({ rxFrames: 1, rxBytes: 342, rxBacklog: 0 });
  });

  it("receives a full 1514-byte frame into U-Boot's 1526-byte buffer", async () => {
    const { drv, net } = rig();
    drv.init({ accept: () => UBOOT });
    const [buf] = postRx(drv, 1);
    net.receive(frame(1514));
    expect(await drv.waitUsed(RX_QUEUE, 1)).toEqual([{ id: buf!.head, len: 1526 }]);
  });

  it('holds frames that arrive before buffers, delivers them in order when buffers are posted', async () => {
    const { drv, net } = rig({ rxBacklog: 4 });
    drv.init({ accept: () => UBOOT });
    for (let i = 0; i < 6; i++) net.receive(frame(64, i));
    await net.idle();
    expect(net.stats()).toMatchObject({ rxBacklog: 4, rxDroppedBacklogFull: 2, rxFrames: 0 });
    const first = postRx(drv, 3);
    const used = await drv.waitUsed(RX_QUEUE, 3);
    expect(used.map((u) => u.id)).toEqual(first.map((c) => c.head));
    first.forEach((c, i) => expect(drv.peek(c.writable[0]!.addr + NET_HDR_BYTES, 64)).toEqual(frame(64, i)));
    expect(net.stats().rxBacklog).toBe(1);
    const [last] = postRx(drv, 1);
    await drv.waitUsed(RX_QUEUE, 1);
    expect(drv.peek(last!.writable[0]!.addr + NET_HDR_BYTES, 64)).toEqual(frame(64, 3));
    expect(net.stats()).toMatchObject({ rxBacklog: 0, rxFrames: 4 });
  });

  it('gives frames that arrive together back in one DMA write, up to 32 KiB of them, in order', async () => {
    const { drv, net, mem, transport } = rig();
    drv.init({ accept: () => UBOOT, queueSizes: [32, 32] });
    const bufs = postRx(drv, 32);
    await net.idle();
    const frames: number[] = [];
    const writev = mem.writev.bind(mem);
    mem.writev = (w) => {
      frames.push(w.filter((x) => x.data.length === NET_HDR_BYTES + 1514).length);
      return writev(w);
    };
    // A TFTP window: 24 full frames from the switch in one go (24 x 1526 bytes > 32 KiB).
    for (let i = 0; i < 24; i++) net.receive(frame(1514, i));
    const used = await drv.waitUsed(RX_QUEUE, 24);
    expect(drv.status() & STATUS.DEVICE_NEEDS_RESET, transport.stats().lastError).toBe(0);
    expect(used.map((u) => u.id)).toEqual(bufs.slice(0, 24).map((c) => c.head));
    bufs.slice(0, 24).forEach((c, i) => expect(drv.peek(c.writable[0]!.addr + NET_HDR_BYTES, 1514)).toEqual(frame(1514, i)));
    // All 24 wait while the drain reads the avail ring: the 21 that fit in 32 KiB, then 3.
    expect(frames).toEqual([21, 3]);
    expect(net.stats()).toMatchObject({ rxFrames: 24, rxBacklog: 0 });
  });

  it('drops, counting, frames for a device the driver has not started, and bad-sized frames', () => {
    const { net } = rig();
    net.receive(frame(60));
    net.receive(frame(13));
    net.receive(frame(1515));
    expect(net.stats()).toMatchObject({ rxDroppedInactive: 1, rxDroppedBadFrame: 2, rxBacklog: 0 });
  });

  it('gives back a too-small receive buffer empty and counts the lost frame', async () => {
    const { drv, net } = rig();
    drv.init({ accept: () => UBOOT });
    const [small] = postRx(drv, 1, 100);
    net.receive(frame(200));
    expect(await drv.waitUsed(RX_QUEUE, 1)).toEqual([{ id: small!.head, len: 0 }]);
    expect(net.stats()).toMatchObject({ rxDroppedBufferTooSmall: 1, rxFrames: 0 });
  });
});

describe('VirtioNet: hostile or broken transmit chains', () => {
  it('drops oversized frames, bad headers and runts, and keeps working', async () => {
    const { drv, net, sent } = rig();
    drv.init({ accept: () => UBOOT });
    txChain(drv, frame(1515)); // 12 + 1515 > 1526
    const csum = new Uint8Array(NET_HDR_BYTES);
    csum[0] = 1; // NEEDS_CSUM without VIRTIO_NET_F_CSUM
    txChain(drv, frame(60), csum);
    const gso = new Uint8Array(NET_HDR_BYTES);
    gso[1] = 1; // GSO_TCPV4 without HOST_TSO4
    txChain(drv, frame(60), gso);
    drv.add(TX_QUEUE, { readable: [new Uint8Array(8)] }); // not even a header
    txChain(drv, frame(10)); // shorter than an Ethernet header
    txChain(drv, frame(1514)); // the largest legal frame
    drv.notify(TX_QUEUE);
    const used = await drv.waitUsed(TX_QUEUE, 6);
    expect(used).toHaveLength(6);
    expect(used.every((u) => u.len === 0)).toBe(true);
    expect(sent.map((f) => f.length)).toEqual([1514]);
    expect(net.stats()).toMatchObject({ txDroppedOversized: 1, txDroppedBadHeader: 3, txDroppedRunt: 1, txFrames: 1 });
    expect(drv.status() & STATUS.DEVICE_NEEDS_RESET).toBe(0);
  });

  it("drops, counting, a frame whose source MAC is not the NIC's (posing as the gateway or a neighbour)", async () => {
    const { drv, net, sent } = rig();
    drv.init({ accept: () => UBOOT });
    const gateway = frame(60);
    gateway.set([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02], 6);
    const multicastSrc = frame(60);
    multicastSrc[6] = 0x01;
    txChain(drv, gateway);
    txChain(drv, multicastSrc);
    txChain(drv, frame(60));
    drv.notify(TX_QUEUE);
    const used = await drv.waitUsed(TX_QUEUE, 3);
    expect(used.map((u) => u.len)).toEqual([0, 0, 0]);
    expect(sent).toEqual([frame(60)]);
    expect(net.stats()).toMatchObject({ txDroppedSpoofedSrc: 2, txFrames: 1 });
    expect(drv.status() & STATUS.DEVICE_NEEDS_RESET).toBe(0);
  });

  it('counts a send() that throws and goes on', async () => {
    const { drv, net } = rig({
      send: () => {
        throw new Error('switch gone');
      },
    });
    drv.init({ accept: () => UBOOT });
    txChain(drv, frame(60));
    txChain(drv, frame(60));
    drv.notify(TX_QUEUE);
    expect(await drv.waitUsed(TX_QUEUE, 2)).toHaveLength(2);
    expect(net.stats()).toMatchObject({ txSendErrors: 2, txFrames: 2 });
  });

  it('sets NEEDS_RESET when a receive buffer points outside guest RAM', async () => {
    const { drv, net } = rig();
    drv.init({ accept: () => UBOOT });
    const head = 0;
    drv.writeDesc(RX_QUEUE, head, { addr: 0x1000, len: RX_BUFFER_BYTES, flags: 2, next: 0 });
    drv.publish(RX_QUEUE, head);
    drv.notify(RX_QUEUE);
    net.receive(frame(60));
    expect(await drv.until(() => (drv.status() & STATUS.DEVICE_NEEDS_RESET) !== 0)).toBe(true);
  });
});

describe('VirtioNet: reset', () => {
  it('drops the backlog on reset mid-traffic, refuses frames until DRIVER_OK, then works again', async () => {
    const { drv, net, sent } = rig();
    drv.init({ accept: () => UBOOT });
    postRx(drv, 1);
    for (let i = 0; i < 3; i++) net.receive(frame(64, i));
    await drv.waitUsed(RX_QUEUE, 1);
    expect(net.stats().rxBacklog).toBe(2);
    txChain(drv, frame(60));
    drv.notify(TX_QUEUE);
    drv.setReg(REG.STATUS, 0); // reset with a transmit possibly in flight
    await net.idle();
    expect(net.stats()).toMatchObject({ rxBacklog: 0, rxDroppedReset: 2 });
    net.receive(frame(64));
    expect(net.stats().rxDroppedInactive).toBe(1);

    drv.init({ accept: () => UBOOT });
    const [buf] = postRx(drv, 2);
    net.receive(frame(80, 5));
    expect(await drv.waitUsed(RX_QUEUE, 1)).toEqual([{ id: buf!.head, len: NET_HDR_BYTES + 80 }]);
    const before = sent.length;
    txChain(drv, frame(70));
    drv.notify(TX_QUEUE);
    expect(await drv.waitUsed(TX_QUEUE, 1)).toHaveLength(1);
    expect(sent.length).toBe(before + 1);
    expect(sent.at(-1)).toEqual(frame(70));
  });
});
