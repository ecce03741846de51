import { describe, expect, it } from 'vitest';
import type { MmioOffset } from '@splitvisor/platform';
import { INTERRUPT, STATUS, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, featureBit } from '../constants.js';
import { RAM_BASE, rig } from '../testing/rig.test-util.js';
import { REG } from './registers.js';
import { MMIO_MAGIC, MMIO_VENDOR_ID } from './transport.js';
import { VirtioNet } from '../net/net.js';

const off = (n: number) => n as MmioOffset;
const A = STATUS.ACKNOWLEDGE | STATUS.DRIVER;

describe('virtio-mmio transport: identity and access sizes', () => {
  it('identifies as a version 2 transport with the device behind it', () => {
    const { driver } = rig();
    expect(driver.reg(REG.MAGIC)).toBe(MMIO_MAGIC);
    expect(driver.reg(REG.VERSION)).toBe(2);
    expect(driver.reg(REG.DEVICE_ID)).toBe(4);
    expect(driver.reg(REG.VENDOR_ID)).toBe(MMIO_VENDOR_ID);
    expect(driver.reg(REG.CONFIG_GENERATION)).toBe(0);
  });

  it('offers VERSION_1, INDIRECT_DESC and EVENT_IDX itself', () => {
    const { driver } = rig();
    expect(driver.deviceFeatures()).toBe(featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_RING_F_INDIRECT_DESC) | featureBit(VIRTIO_RING_F_EVENT_IDX));
    driver.setReg(REG.DEVICE_FEATURES_SEL, 7);
    expect(driver.reg(REG.DEVICE_FEATURES)).toBe(0);
  });

  it('refuses register accesses that are not 32-bit, naming the register', () => {
    const { transport } = rig();
    const r = transport.read(off(REG.STATUS), 1);
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/virtio0: 1-byte read at offset 0x70 \(STATUS\): virtio-mmio registers are 32-bit/) });
    const w = transport.write(off(REG.QUEUE_NOTIFY + 2), 2, 0);
    expect(w.ok).toBe(false);
  });

  it('reports no shared memory regions: length and base all ones', () => {
    const { driver } = rig();
    driver.setReg(REG.SHM_SEL, 3);
    for (const reg of [REG.SHM_LEN_LOW, REG.SHM_LEN_HIGH, REG.SHM_BASE_LOW, REG.SHM_BASE_HIGH]) expect(driver.reg(reg)).toBe(0xffff_ffff);
  });

  it('ignores writes to read-only registers and says which', () => {
    const { driver, transport } = rig();
    driver.setReg(REG.MAGIC, 1);
    expect(driver.reg(REG.MAGIC)).toBe(MMIO_MAGIC);
    expect(transport.stats().lastError).toMatch(/write of 0x1 to read-only register MAGIC ignored/);
    driver.setReg(REG.INTERRUPT_STATUS, 3);
    expect(driver.reg(REG.INTERRUPT_STATUS)).toBe(0);
    expect(transport.stats().ignoredWrites).toBe(2);
  });
});

describe('virtio-mmio transport: status and features (§2.1, §2.2, §3.1.1)', () => {
  it('negotiates through the usual sequence and reaches DRIVER_OK', () => {
    const { driver, transport } = rig();
    const f = driver.init({ queueSizes: [8] });
    expect(transport.features).toBe(f);
    expect(driver.status()).toBe(A | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
  });

  it('refuses FEATURES_OK for bits not offered, leaving it clear', () => {
    const { driver, transport } = rig();
    driver.setReg(REG.STATUS, A);
    driver.writeFeatures(featureBit(VIRTIO_F_VERSION_1) | featureBit(5));
    driver.setReg(REG.STATUS, A | STATUS.FEATURES_OK);
    expect(driver.status() & STATUS.FEATURES_OK).toBe(0);
    expect(transport.stats().lastError).toMatch(/FEATURES_OK refused: driver features 0x100000020 include 0x20, not offered/);
  });

  it('accepts a driver that wrote only the low feature word, as QEMU 7.2 does, for a device that serves it the same; logs once, counts each', () => {
    const { driver, transport, logs } = rig();
    driver.setReg(REG.STATUS, A);
    driver.setReg(REG.DRIVER_FEATURES_SEL, 0);
    driver.setReg(REG.DRIVER_FEATURES, 0); // the low word only: VERSION_1 (bit 32) never accepted
    driver.setReg(REG.STATUS, A | STATUS.FEATURES_OK);
    expect(driver.status()).toBe(A | STATUS.FEATURES_OK);
    expect(transport.features).toBe(0n);
    driver.setReg(REG.STATUS, 0);
    driver.setReg(REG.STATUS, A);
    driver.setReg(REG.STATUS, A | STATUS.FEATURES_OK);
    expect(driver.status()).toBe(A | STATUS.FEATURES_OK);
    expect(transport.stats()).toMatchObject({ withoutVersion1: 2, ignoredWrites: 0, lastError: '' });
    expect(logs.filter((l) => l.includes('without VIRTIO_F_VERSION_1'))).toEqual([
      'virtio0: FEATURES_OK accepted from a driver without VIRTIO_F_VERSION_1 (driver features 0x0), as QEMU 7.2 does; rng0 works the same for it (logged once, counted in withoutVersion1)',
    ]);
  });

  it('and such a driver gets requests served: one rng request end to end', async () => {
    const { driver, transport } = rig();
    expect(driver.init({ queueSizes: [8], accept: () => 0n })).toBe(0n);
    expect(driver.status()).toBe(A | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
    const posted = driver.add(0, { writable: [16] });
    driver.notify(0);
    expect(await driver.waitUsed(0, 1)).toEqual([{ id: posted.head, len: 16 }]);
    expect(transport.stats().withoutVersion1).toBe(1);
  });

  it('refuses a driver without VIRTIO_F_VERSION_1 for a device that does not serve one (virtio-net: 10-byte header)', () => {
    const { driver, transport } = rig({ device: new VirtioNet({ mac: Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56), send: () => undefined }) });
    driver.setReg(REG.STATUS, A);
    driver.writeFeatures(0n);
    driver.setReg(REG.STATUS, A | STATUS.FEATURES_OK);
    expect(driver.status() & STATUS.FEATURES_OK).toBe(0);
    expect(transport.stats().lastError).toMatch(
      /VIRTIO_F_VERSION_1 \(bit 32\) not accepted \(driver features 0x0\), and net0 serves only drivers that accept it/,
    );
    expect(transport.stats().withoutVersion1).toBe(0);
  });

  it('refuses a feature word past bit 63 without building a huge number', () => {
    const { driver, transport } = rig();
    driver.setReg(REG.STATUS, A);
    driver.writeFeatures(featureBit(VIRTIO_F_VERSION_1));
    driver.setReg(REG.DRIVER_FEATURES_SEL, 0xffff_ffff);
    driver.setReg(REG.DRIVER_FEATURES, 1);
    driver.setReg(REG.STATUS, A | STATUS.FEATURES_OK);
    expect(driver.status() & STATUS.FEATURES_OK).toBe(0);
    expect(transport.stats().lastError).toMatch(/DriverFeatures word 4294967295 = 0x1/);
  });

  it('ignores DriverFeatures after FEATURES_OK, and DRIVER_OK without FEATURES_OK', () => {
    const { driver, transport } = rig();
    driver.setReg(REG.STATUS, A | STATUS.DRIVER_OK);
    expect(driver.status() & STATUS.DRIVER_OK).toBe(0);
    expect(transport.stats().lastError).toMatch(/DRIVER_OK refused: FEATURES_OK is not set/);
    driver.init({ queueSizes: [8] });
    driver.setReg(REG.DRIVER_FEATURES_SEL, 0);
    driver.setReg(REG.DRIVER_FEATURES, 0);
    expect(transport.stats().lastError).toMatch(/DriverFeatures write of 0x0 \(word 0\) after FEATURES_OK ignored/);
  });

  it('resets on Status 0: queues not ready, features and interrupts cleared, irq low', async () => {
    const { driver, transport, irqs } = rig();
    driver.init({ queueSizes: [8] });
    driver.add(0, { writable: [4] });
    driver.notify(0);
    await driver.waitUsed(0, 1);
    expect(transport.irq).toBe(true);
    driver.setReg(REG.STATUS, 0);
    expect(driver.status()).toBe(0);
    expect(transport.irq).toBe(false);
    expect(irqs).toEqual([true, false]);
    driver.setReg(REG.QUEUE_SEL, 0);
    expect(driver.reg(REG.QUEUE_READY)).toBe(0);
    expect(transport.features).toBe(0n);
    expect(transport.stats().resets).toBe(2); // init's own reset, then this one
  });
});

describe('virtio-mmio transport: queue setup (§4.2.3.2)', () => {
  function negotiated() {
    const r = rig();
    r.driver.setReg(REG.STATUS, A);
    r.driver.writeFeatures(featureBit(VIRTIO_F_VERSION_1));
    r.driver.setReg(REG.STATUS, A | STATUS.FEATURES_OK);
    return r;
  }

  it('reports QueueNumMax for existing queues and 0 past them', () => {
    const { driver, transport } = negotiated();
    expect(driver.reg(REG.QUEUE_NUM_MAX)).toBe(256);
    driver.setReg(REG.QUEUE_SEL, 1);
    expect(driver.reg(REG.QUEUE_NUM_MAX)).toBe(0);
    expect(driver.reg(REG.QUEUE_READY)).toBe(0);
    driver.setReg(REG.QUEUE_NUM, 8);
    driver.setReg(REG.QUEUE_READY, 1);
    expect(transport.stats().lastError).toMatch(/QueueReady write of 0x1: QueueSel 1 is out of range \(1 queues\)/);
  });

  for (const [num, why] of [
    [0, /queue size 0 is not a power of two/],
    [12, /queue size 12 is not a power of two/],
    [512, /queue size 512 is above the maximum 256/],
  ] as const) {
    it(`refuses QueueReady with QueueNum ${num}`, () => {
      const { driver, transport } = negotiated();
      driver.setReg(REG.QUEUE_SEL, 0);
      driver.setReg(REG.QUEUE_NUM, num);
      driver.setAddr(REG.QUEUE_DESC_LOW, RAM_BASE);
      driver.setAddr(REG.QUEUE_DRIVER_LOW, RAM_BASE + 0x4000);
      driver.setAddr(REG.QUEUE_DEVICE_LOW, RAM_BASE + 0x8000);
      driver.setReg(REG.QUEUE_READY, 1);
      expect(driver.reg(REG.QUEUE_READY)).toBe(0);
      expect(transport.stats().lastError).toMatch(why);
      expect(transport.stats().lastError).toMatch(/queue 0/);
    });
  }

  it('refuses QueueReady with no ring addresses, or misaligned ones', () => {
    const { driver, transport } = negotiated();
    driver.setReg(REG.QUEUE_NUM, 8);
    driver.setReg(REG.QUEUE_READY, 1);
    expect(driver.reg(REG.QUEUE_READY)).toBe(0);
    expect(transport.stats().lastError).toMatch(/QueueReady=1 on queue 0 refused: descriptor table address is 0 \(never set\)/);
    driver.setAddr(REG.QUEUE_DESC_LOW, RAM_BASE + 8);
    driver.setAddr(REG.QUEUE_DRIVER_LOW, RAM_BASE + 0x4000);
    driver.setAddr(REG.QUEUE_DEVICE_LOW, RAM_BASE + 0x8000);
    driver.setReg(REG.QUEUE_READY, 1);
    expect(transport.stats().lastError).toMatch(/descriptor table at 0x80000008 is not 16-byte aligned/);
    driver.setAddr(REG.QUEUE_DESC_LOW, 0x40_0000_0000_0000);
    driver.setReg(REG.QUEUE_READY, 1);
    expect(transport.stats().lastError).toMatch(/descriptor table at NaN is not an exact guest-physical range/);
    expect(driver.reg(REG.QUEUE_READY)).toBe(0);
  });

  it('refuses QueueReady before FEATURES_OK', () => {
    const { driver, transport } = rig();
    driver.setReg(REG.QUEUE_NUM, 8);
    driver.setReg(REG.QUEUE_READY, 1);
    expect(transport.stats().lastError).toMatch(/QueueReady=1 on queue 0 refused: FEATURES_OK is not set/);
  });

  it('ignores queue field writes while the queue is ready', () => {
    const { driver, transport } = rig();
    driver.init({ queueSizes: [8] });
    driver.setReg(REG.QUEUE_SEL, 0);
    driver.setReg(REG.QUEUE_NUM, 16);
    expect(transport.stats().lastError).toMatch(/QUEUE_NUM write of 0x10 on queue 0 while QueueReady is 1 ignored/);
  });

  it('ignores (and counts) notifies for queues not ready, absent, or before DRIVER_OK', () => {
    const { driver, transport } = negotiated();
    driver.notify(0);
    expect(transport.stats().lastError).toMatch(/QueueNotify 0x0 ignored: queue 0 is not ready/);
    driver.setupQueue(0, 8);
    driver.notify(0);
    expect(transport.stats().lastError).toMatch(/DRIVER_OK is not set/);
    driver.notify(5);
    expect(transport.stats().lastError).toMatch(/queue 5 does not exist/);
    expect(transport.stats()).toMatchObject({ notifies: 0, ignoredNotifies: 3 });
  });
});

describe('virtio-mmio transport: interrupts and config space', () => {
  it('drives a level line from InterruptStatus; InterruptACK lowers it', async () => {
    const { driver, transport, irqs } = rig();
    driver.init({ queueSizes: [8] });
    driver.add(0, { writable: [16] });
    driver.notify(0);
    expect(await driver.waitUsed(0, 1)).toEqual([{ id: 0, len: 16 }]);
    expect(driver.reg(REG.INTERRUPT_STATUS)).toBe(INTERRUPT.USED_BUFFER);
    expect(irqs).toEqual([true]);
    expect(driver.ackInterrupts()).toBe(INTERRUPT.USED_BUFFER);
    expect(transport.irq).toBe(false);
    expect(irqs).toEqual([true, false]);
    expect(transport.stats()).toMatchObject({ notifies: 1, interrupts: 1, needsReset: 0 });
  });

  it('refuses misaligned config accesses; reads past the config space give all ones', () => {
    const { transport } = rig();
    expect(transport.read(off(REG.CONFIG + 1), 2).ok).toBe(false);
    expect(transport.read(off(REG.CONFIG), 4)).toEqual({ ok: true, value: 0xffff_ffff });
    expect(transport.read(off(REG.CONFIG + 2), 1)).toEqual({ ok: true, value: 0xff });
    expect(transport.stats().lastError).toMatch(/past the 0-byte config space of rng0/);
    expect(transport.write(off(REG.CONFIG), 4, 5).ok).toBe(true);
  });
});
