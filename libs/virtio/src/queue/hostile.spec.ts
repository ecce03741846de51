// A hostile guest against transport + queue + device (virtio-rng): every broken ring ends
// in DEVICE_NEEDS_RESET with a config-change interrupt and a reason naming queue, index
// and address, and the device leaves the queue alone afterwards.
import { describe, expect, it } from 'vitest';
import { INTERRUPT, STATUS, VIRTIO_RING_F_INDIRECT_DESC, featureBit } from '../constants.js';
import { REG } from '../mmio/registers.js';
import { RAM_BASE, rig } from '../testing/rig.test-util.js';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './ring.js';

const W = VIRTQ_DESC_F_WRITE;
const N = VIRTQ_DESC_F_NEXT;
const I = VIRTQ_DESC_F_INDIRECT;

function setup(accept?: (f: bigint) => bigint) {
  const r = rig();
  r.driver.init({ queueSizes: [8], ...(accept ? { accept } : {}) });
  const buf = r.driver.alloc(256);
  return { ...r, buf };
}

/** Publishes head 0, rings, waits for NEEDS_RESET and checks what every broken ring must give. */
async function expectNeedsReset(r: ReturnType<typeof setup>, reason: RegExp, head = 0) {
  r.driver.publish(0, head);
  r.driver.notify(0);
  const hit = await r.driver.until(() => (r.driver.status() & STATUS.DEVICE_NEEDS_RESET) !== 0);
  expect(hit).toBe(true);
  expect(r.transport.stats().lastError).toMatch(/virtio0 queue 0/);
  expect(r.transport.stats().lastError).toMatch(reason);
  expect(r.transport.stats().needsReset).toBe(1);
  expect(r.driver.reg(REG.INTERRUPT_STATUS) & INTERRUPT.CONFIG_CHANGE).toBe(INTERRUPT.CONFIG_CHANGE);
  expect(r.transport.irq).toBe(true);
  expect(r.driver.usedIdx(0)).toBe(0);
  // The queue is dead: a good chain posted now is not served, the notify is ignored.
  const usedBefore = r.driver.usedIdx(0);
  r.driver.add(0, { writable: [16] });
  r.driver.notify(0);
  await r.driver.until(() => false, 20);
  expect(r.driver.usedIdx(0)).toBe(usedBefore);
  expect(r.transport.stats().ignoredNotifies).toBeGreaterThan(0);
  // And a reset brings it back.
  r.driver.init({ queueSizes: [8] });
  r.driver.add(0, { writable: [16] });
  r.driver.notify(0);
  expect(await r.driver.waitUsed(0, 1)).toHaveLength(1);
  expect(r.driver.status() & STATUS.DEVICE_NEEDS_RESET).toBe(0);
}

describe('hostile guest: descriptor chains', () => {
  it('a chain that loops', async () => {
    const r = setup();
    r.driver.writeDesc(0, 0, { addr: r.buf, len: 8, flags: W | N, next: 1 });
    r.driver.writeDesc(0, 1, { addr: r.buf, len: 8, flags: W | N, next: 0 });
    await expectNeedsReset(r, /head 0 comes back to descriptor 0 \(a loop\)/);
  });

  it('a self-loop on a later descriptor', async () => {
    const r = setup();
    r.driver.writeDesc(0, 0, { addr: r.buf, len: 8, flags: W | N, next: 3 });
    r.driver.writeDesc(0, 3, { addr: r.buf, len: 8, flags: W | N, next: 3 });
    await expectNeedsReset(r, /comes back to descriptor 3/);
  });

  it('next index out of range', async () => {
    const r = setup();
    r.driver.writeDesc(0, 0, { addr: r.buf, len: 8, flags: W | N, next: 8 });
    await expectNeedsReset(r, /descriptor 0 .* has next 8, past the queue size 8/);
  });

  it('head index out of range in the avail ring', async () => {
    const r = setup();
    await expectNeedsReset(r, /avail ring entry 0 names head 200, past the queue size 8/, 200);
  });

  it('addr + len overflowing 2^53', async () => {
    const r = setup();
    r.driver.writeDesc(0, 0, { addr: Number.MAX_SAFE_INTEGER - 10, len: 100, flags: W, next: 0 });
    await expectNeedsReset(r, /len 100 past 2\^53 \(overflow\)/);
  });

  it('an address near 2^64', async () => {
    const r = setup();
    r.driver.writeDesc(0, 0, { addr: 0xffff_ffff_ffff_f000n, len: 0x2000, flags: W, next: 0 });
    await expectNeedsReset(r, /addr 0xfffffffffffff000, above 2\^53/);
  });

  it('a buffer outside guest RAM', async () => {
    const r = setup();
    r.driver.writeDesc(0, 0, { addr: 0x1000, len: 64, flags: W, next: 0 });
    await expectNeedsReset(r, /0x1000.*outside guest RAM/);
  });

  it('a buffer running off the end of RAM', async () => {
    const r = setup();
    r.driver.writeDesc(0, 0, { addr: RAM_BASE + (1 << 20) - 8, len: 64, flags: W, next: 0 });
    await expectNeedsReset(r, /outside guest RAM/);
  });

  it('a readable descriptor after a writable one', async () => {
    const r = setup();
    r.driver.writeDesc(0, 0, { addr: r.buf, len: 8, flags: W | N, next: 1 });
    r.driver.writeDesc(0, 1, { addr: r.buf + 8, len: 8, flags: 0, next: 0 });
    await expectNeedsReset(r, /descriptor 1 .* device-readable but follows a device-writable/);
  });

  it('avail.idx racing more than a queue size ahead', async () => {
    const r = setup();
    r.driver.setAvailIdx(0, 9);
    r.driver.notify(0);
    expect(await r.driver.until(() => (r.driver.status() & STATUS.DEVICE_NEEDS_RESET) !== 0)).toBe(true);
    expect(r.transport.stats().lastError).toMatch(/avail\.idx 9 is 9 entries ahead of the device's 0, more than the queue size 8/);
  });

  it('the same head made available twice while in flight is caught by the queue', async () => {
    // rng serves chains one at a time, so the second sighting happens before the first is used.
    const r = setup();
    r.driver.writeDesc(0, 0, { addr: r.buf, len: 8, flags: W, next: 0 });
    r.driver.publish(0, 0);
    r.driver.publish(0, 0);
    r.driver.notify(0);
    // Either the device gave the first back before seeing the second (legal), or it refused.
    await r.driver.until(() => r.driver.usedIdx(0) === 2 || (r.driver.status() & STATUS.DEVICE_NEEDS_RESET) !== 0);
    const used = r.driver.takeUsed(0);
    expect(used.every((u) => u.id === 0 && u.len === 8)).toBe(true);
  });
});

describe('hostile guest: indirect tables (§2.7.5.3)', () => {
  function indirect(r: ReturnType<typeof setup>, entries: { len: number; flags: number; next: number }[], tableLen?: number) {
    const table = r.driver.alloc(16 * Math.max(1, entries.length), 16);
    entries.forEach((e, i) => r.driver.writeDesc(0, i, { addr: r.buf, ...e }, table));
    r.driver.writeDesc(0, 0, { addr: table, len: tableLen ?? 16 * entries.length, flags: I, next: 0 });
  }

  it('a well-formed indirect table is served', async () => {
    const r = setup();
    indirect(r, [
      { len: 8, flags: W | N, next: 1 },
      { len: 8, flags: W, next: 0 },
    ]);
    r.driver.publish(0, 0);
    r.driver.notify(0);
    expect(await r.driver.waitUsed(0, 1)).toEqual([{ id: 0, len: 16 }]);
  });

  it('an indirect descriptor inside an indirect table', async () => {
    const r = setup();
    indirect(r, [{ len: 16, flags: I, next: 0 }]);
    await expectNeedsReset(r, /indirect descriptor 0 .* is itself INDIRECT \(nested/);
  });

  it('INDIRECT together with NEXT', async () => {
    const r = setup();
    indirect(r, [{ len: 8, flags: W, next: 0 }]);
    r.driver.writeDesc(0, 0, { addr: r.driver.alloc(16), len: 16, flags: I | N, next: 1 });
    await expectNeedsReset(r, /sets both INDIRECT and NEXT/);
  });

  it('a table length that is not a multiple of 16', async () => {
    const r = setup();
    indirect(r, [{ len: 8, flags: W, next: 0 }], 20);
    await expectNeedsReset(r, /indirect table of 20 bytes, not a non-zero multiple of 16/);
  });

  it('a table of length 0', async () => {
    const r = setup();
    indirect(r, [{ len: 8, flags: W, next: 0 }], 0);
    await expectNeedsReset(r, /indirect table of 0 bytes/);
  });

  it('a table with more descriptors than the queue size', async () => {
    const r = setup();
    indirect(
      r,
      Array.from({ length: 9 }, (_, i) => ({ len: 1, flags: W | (i < 8 ? N : 0), next: i + 1 })),
    );
    await expectNeedsReset(r, /indirect table of 9 descriptors: the chain would pass the queue size 8/);
  });

  it('a loop inside a table', async () => {
    const r = setup();
    indirect(r, [
      { len: 8, flags: W | N, next: 1 },
      { len: 8, flags: W | N, next: 0 },
    ]);
    await expectNeedsReset(r, /loops: more than 2 steps/);
  });

  it('next out of range inside a table', async () => {
    const r = setup();
    indirect(r, [{ len: 8, flags: W | N, next: 5 }]);
    await expectNeedsReset(r, /has next 5, past the table's 1 entries/);
  });

  it('a table outside RAM', async () => {
    const r = setup();
    r.driver.writeDesc(0, 0, { addr: 0x2000, len: 32, flags: I, next: 0 });
    await expectNeedsReset(r, /indirect table of descriptor 0 .*0x2000/);
  });

  it('INDIRECT when the driver did not negotiate VIRTIO_RING_F_INDIRECT_DESC', async () => {
    const r = setup((f) => f & ~featureBit(VIRTIO_RING_F_INDIRECT_DESC));
    indirect(r, [{ len: 8, flags: W, next: 0 }]);
    await expectNeedsReset(r, /VIRTQ_DESC_F_INDIRECT but VIRTIO_RING_F_INDIRECT_DESC was not negotiated/);
  });
});

describe('hostile guest: rings', () => {
  it('rings placed outside RAM fail at first use, not at setup', async () => {
    const r = rig();
    r.driver.init({ queueSizes: [8] });
    // Re-make queue 0 with its used ring outside RAM.
    r.driver.setReg(REG.QUEUE_SEL, 0);
    r.driver.setReg(REG.QUEUE_READY, 0);
    r.driver.setAddr(REG.QUEUE_DEVICE_LOW, 0x10000);
    r.driver.setReg(REG.QUEUE_READY, 1);
    expect(r.driver.reg(REG.QUEUE_READY)).toBe(1);
    r.driver.add(0, { writable: [8] });
    r.driver.notify(0);
    expect(await r.driver.until(() => (r.driver.status() & STATUS.DEVICE_NEEDS_RESET) !== 0)).toBe(true);
    expect(r.transport.stats().lastError).toMatch(/used ring entry 0 at \[0x10004, 0x1000c\)/);
  });
});
