// virtio as a hostile guest drives it: a split queue laid out in guest memory by the fuzz
// bytes and walked by the device (virtio 1.2 §2.7), and the virtio-mmio transport (§4.2)
// driven by a stream of register and memory writes, with virtio-rng behind it. A broken
// ring is a QueueError (the device goes DEVICE_NEEDS_RESET); the transport never throws.
import { FlatMemory, QueueError, SplitQueue, VirtioMmioTransport, VirtioRng, readSegments } from '@splitvisor/virtio';
import type { MmioOffset } from '@splitvisor/platform';
import type { FuzzTarget } from '../engine/target.js';

export const RAM_BASE = 0x8000_0000;
const QUEUE_RAM = 16 * 1024;
const DESC = RAM_BASE;
const AVAIL = RAM_BASE + 0x1000;
const USED = RAM_BASE + 0x2000;
const MAX_POPS = 64;

/**
 * Byte 0: log2 of the queue size (mod 9: 1..256); byte 1: bit 0 EVENT_IDX, bit 1
 * INDIRECT_DESC; then guest RAM from its base: the descriptor table at +0, the avail ring
 * at +0x1000, the used ring at +0x2000, buffers anywhere (descriptors may point outside).
 */
export const virtqueue: FuzzTarget = {
  name: 'virtqueue',
  about: 'a split virtqueue in guest RAM (size, features, then the RAM image), popped and given back',
  maxLen: QUEUE_RAM + 2,
  expected: (e) => e instanceof QueueError,
  dictionary: [
    Uint8Array.of(0, 0, 0, 0x80),
    Uint8Array.of(0, 0x30, 0, 0x80),
    Uint8Array.of(1, 0),
    Uint8Array.of(2, 0),
    Uint8Array.of(3, 0),
    Uint8Array.of(4, 0),
  ],
  async run(data) {
    if (data.length < 2) return;
    const mem = new FlatMemory(RAM_BASE, QUEUE_RAM);
    mem.bytes.set(data.subarray(2, 2 + QUEUE_RAM));
    const q = new SplitQueue(
      mem,
      { size: 1 << (data[0]! % 9), desc: DESC, avail: AVAIL, used: USED },
      { eventIdx: (data[1]! & 1) !== 0, indirect: (data[1]! & 2) !== 0, maxChainBytes: 1 << 20 },
    );
    for (let i = 0; i < MAX_POPS; i++) {
      const chain = await q.pop();
      if (!chain) break;
      await readSegments(mem, chain.readable).catch((e: unknown) => {
        // A chain's buffers outside RAM are the guest's fault: the device's answer is an
        // error status, as blk gives; anything else thrown is a bug.
        if (!(e instanceof Error && /guest range/.test(e.message))) throw e;
      });
      await q.pushUsed(chain.head, Math.min(chain.writableBytes, 16));
    }
    await q.needsInterrupt();
  },
};

const RNG_RAM = 64 * 1024;
/** Turns of the event loop to let the device finish; the hang watchdog catches worse. */
const SETTLE_TURNS = 50;
const turn = () => new Promise<void>((r) => setImmediate(r));

/**
 * A stream of operations, each an opcode byte and its operands:
 *   0 w32 reg(1: offset/4) value(4)   1 r32 reg(1)   2 mem addr(2) len(1) bytes(len)
 *   3 settle (let the device run)     4 w-narrow reg(2) size(1) value(4)   5 r-narrow reg(2) size(1)
 * Registers are little-endian; memory addresses are offsets into 64 KiB of RAM at 0x80000000.
 */
export const virtioMmio: FuzzTarget = {
  name: 'virtio-mmio',
  about: 'virtio-mmio register reads and writes and guest-memory writes, virtio-rng behind the transport',
  maxLen: 8192,
  dictionary: [
    Uint8Array.of(0, 0, 0, 0x80),
    Uint8Array.of(0, 0x10, 0, 0x80),
    Uint8Array.of(0, 0x20, 0, 0x80),
    Uint8Array.of(0x0f, 0, 0, 0),
    Uint8Array.of(0x0b, 0, 0, 0),
    Uint8Array.of(0, 0, 0, 0x30),
  ],
  async run(data) {
    const mem = new FlatMemory(RAM_BASE, RNG_RAM);
    const rng = new VirtioRng({ queueSize: 16, maxBytesPerRequest: 4096 });
    const transport = new VirtioMmioTransport({ name: 'fuzz', device: rng, mem, onIrq: () => undefined });
    const settle = async () => {
      let done = false;
      void rng.idle().then(() => (done = true));
      for (let t = 0; !done && t < SETTLE_TURNS; t++) await turn();
    };
    const u32 = (at: number) => (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
    const size = (b: number) => ([1, 2, 4] as const)[b % 3]!;
    let at = 0;
    const need = (n: number) => at + n <= data.length;
    while (at < data.length) {
      const op = data[at++]! % 6;
      if (op === 0 && need(5)) {
        transport.write((data[at]! * 4) as MmioOffset, 4, u32(at + 1));
        at += 5;
      } else if (op === 1 && need(1)) {
        transport.read((data[at]! * 4) as MmioOffset, 4);
        at += 1;
      } else if (op === 2 && need(3)) {
        const addr = data[at]! | (data[at + 1]! << 8);
        const len = Math.min(data[at + 2]!, data.length - at - 3);
        mem.bytes.set(data.subarray(at + 3, at + 3 + len).subarray(0, RNG_RAM - addr), addr);
        at += 3 + len;
      } else if (op === 3) {
        await settle();
      } else if (op === 4 && need(7)) {
        transport.write(((data[at]! | (data[at + 1]! << 8)) & 0xfff) as MmioOffset, size(data[at + 2]!), u32(at + 3));
        at += 7;
      } else if (op === 5 && need(3)) {
        transport.read(((data[at]! | (data[at + 1]! << 8)) & 0xfff) as MmioOffset, size(data[at + 2]!));
        at += 3;
      } else break;
    }
    await settle();
    transport.reset();
    await settle();
  },
};
