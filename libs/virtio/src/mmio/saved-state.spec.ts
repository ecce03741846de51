// Saving a transport's state and taking the device over on a fresh transport, as a
// restarted io-backend does: the setup survives, chains made available and not completed
// are served again from used.idx, the line is raised, and a record that cannot be taken
// ends in DEVICE_NEEDS_RESET with the reason.
import { describe, expect, it } from 'vitest';
import type { MmioDevice } from '@splitvisor/devices';
import { INTERRUPT, STATUS } from '../constants.js';
import { FlatMemory } from '../memory.js';
import { RAM_BASE, rig } from '../testing/rig.test-util.js';
import { MockDriver, turn } from '../testing/mock-driver.js';
import { VirtioRng } from '../rng/rng.js';
import { REG } from './registers.js';
import { VirtioMmioTransport } from './transport.js';
import { SavedStateError, decodeTransportState, encodeTransportState, type TransportSavedState } from './saved-state.js';

const LIVE = STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK;

/** A second transport over the same guest RAM: the restarted backend's. */
function takeOver(mem: FlatMemory, driver: MockDriver) {
  const irqs: boolean[] = [];
  const logs: string[] = [];
  const device = new VirtioRng();
  const transport = new VirtioMmioTransport({ name: 'virtio0', device, mem, onIrq: (l) => irqs.push(l), log: (m) => logs.push(m) });
  (driver as { transport: MmioDevice }).transport = transport;
  return { transport, device, irqs, logs };
}

async function until(what: () => boolean, turns = 200): Promise<void> {
  for (let i = 0; i < turns && !what(); i++) await turn();
  if (!what()) throw new Error('condition never held');
}

describe('virtio-mmio saved state: the record', () => {
  it('round-trips what a live transport saves', () => {
    const { driver, transport } = rig();
    driver.init({ queueSizes: [8] });
    const s = transport.saveState();
    expect(s).toMatchObject({ v: 1, kind: 'virtio-mmio', deviceId: 4, status: LIVE, queues: [{ num: 8, ready: true }] });
    expect(decodeTransportState(encodeTransportState(s))).toEqual(s);
  });

  it.each([
    ['not json', '{', /saved state: \(record\)="\{": not JSON/],
    ['an array', '[]', /\(record\)=\[\]: must be an object/],
    ['another version', '{"v":2}', /v=2: must be 1/],
    ['another kind', '{"v":1,"kind":"uart"}', /kind="uart": must be "virtio-mmio"/],
    ['status out of range', { status: 256 }, /status=256: must be an integer 0\.\.255/],
    ['a fractional selector', { queueSel: 1.5 }, /queueSel=1\.5: must be an integer/],
    ['features not hex', { negotiated: '12' }, /negotiated="12": must be a 64-bit hex string/],
    ['features past 64 bits', { negotiated: '0x10000000000000000' }, /negotiated="0x10000000000000000"/],
    ['a queue size past 32768', { queues: [{ ...q0(), num: 65536 }] }, /queues\[0\]\.num=65536: must be an integer 0\.\.32768/],
    ['a negative address', { queues: [{ ...q0(), descLo: -1 }] }, /queues\[0\]\.descLo=-1/],
    ['ready not a boolean', { queues: [{ ...q0(), ready: 'yes' }] }, /queues\[0\]\.ready="yes": must be true or false/],
    ['a queue that is no object', { queues: [7] }, /queues\[0\]=7: must be an object/],
    ['InterruptStatus bits nobody has', { interruptStatus: 4 }, /interruptStatus=4/],
  ])('refuses %s, naming the field and the value', (_what, patch, error) => {
    const text = typeof patch === 'string' ? patch : JSON.stringify({ ...good(), ...patch });
    expect(() => decodeTransportState(text)).toThrow(SavedStateError);
    expect(() => decodeTransportState(text)).toThrow(error);
  });
});

describe('virtio-mmio saved state: saving stays off the I/O path', () => {
  it('tells of setup register writes and NEEDS_RESET, not of notifies, acks or config', async () => {
    const mem = new FlatMemory(RAM_BASE, 1 << 20);
    let changes = 0;
    const transport = new VirtioMmioTransport({ name: 'v', device: new VirtioRng(), mem, onIrq: () => undefined, onSetupChange: () => changes++ });
    const driver = new MockDriver({ transport, mem });
    driver.init({ queueSizes: [8] });
    const setup = changes;
    expect(setup).toBeGreaterThan(8);
    driver.add(0, { writable: [16] });
    driver.notify(0);
    await until(() => driver.usedIdx(0) === 1);
    driver.ackInterrupts();
    driver.reg(REG.STATUS);
    expect(changes).toBe(setup);
    driver.setReg(REG.QUEUE_SEL, 0);
    expect(changes).toBe(setup + 1);
  });
});

describe('virtio-mmio saved state: taking a device over', () => {
  it('resumes each queue at used.idx: what was made available and not completed is served again', async () => {
    const { mem, driver, transport } = rig();
    driver.init({ queueSizes: [8] });
    driver.add(0, { writable: [16] });
    driver.notify(0);
    await until(() => driver.usedIdx(0) === 1);
    expect(driver.takeUsed(0)).toEqual([{ id: 0, len: 16 }]);
    driver.ackInterrupts();
    const saved = decodeTransportState(encodeTransportState(transport.saveState()));
    // Two more requests, made available; the backend dies before it completes them.
    driver.add(0, { writable: [16] });
    driver.add(0, { writable: [32] });

    const next = takeOver(mem, driver);
    expect(await next.transport.restoreState(saved)).toBeUndefined();
    expect(driver.status()).toBe(LIVE);
    await until(() => driver.usedIdx(0) === 3);
    expect(driver.takeUsed(0)).toEqual([
      { id: 1, len: 16 },
      { id: 2, len: 32 },
    ]);
    // The line is up (a used-buffer interrupt may have been owed), and acks as usual.
    expect(next.irqs[0]).toBe(true);
    expect(driver.ackInterrupts() & INTERRUPT.USED_BUFFER).toBe(INTERRUPT.USED_BUFFER);
    expect(next.transport.irq).toBe(false);
    // And it goes on as if nothing happened.
    driver.add(0, { writable: [8] });
    driver.notify(0);
    await until(() => driver.usedIdx(0) === 4);
    expect(driver.takeUsed(0)).toEqual([{ id: 3, len: 8 }]);
    expect(next.transport.stats().needsReset).toBe(0);
  });

  it('a device mid-setup (no DRIVER_OK yet) keeps its registers and is not activated', async () => {
    const { mem, driver, transport } = rig();
    driver.setReg(REG.STATUS, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    driver.setReg(REG.QUEUE_SEL, 0);
    driver.setReg(REG.QUEUE_NUM, 4);
    const next = takeOver(mem, driver);
    expect(await next.transport.restoreState(transport.saveState())).toBeUndefined();
    expect(driver.status()).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    expect(next.irqs).toEqual([]);
    expect(next.transport.saveState().queues[0]!.num).toBe(4);
  });

  it.each([
    ['another device', { deviceId: 2 }, /deviceId=2: the device here is 4/],
    ['a queue past its maximum', { queues: [{ ...q0(), num: 1024 }] }, /queues\[0\]\.num=1024: above the queue's maximum 256/],
    ['features never offered', { negotiated: '0x8000000000000000' }, /negotiated=0x8000000000000000: includes 0x8000000000000000, not offered/],
    ['a ready queue with no rings', { queues: [{ ...q0(), ready: true }] }, /queue 0: descriptor table address is 0/],
    [
      'a used ring outside RAM',
      { queues: [{ ...q0(), ready: true, descLo: 0x1000, driverLo: 0x2000, deviceLo: 0x3000 }] },
      /queue 0: used\.idx at 0x3002 could not be read/,
    ],
  ])('ends in DEVICE_NEEDS_RESET with a config change interrupt for %s', async (_what, patch, reason) => {
    const mem = new FlatMemory(RAM_BASE, 1 << 20);
    const driver = new MockDriver({ transport: rig().transport, mem });
    const next = takeOver(mem, driver);
    const why = await next.transport.restoreState({ ...good(), ...patch } as TransportSavedState);
    expect(why).toMatch(reason);
    expect(driver.status()).toBe(LIVE | STATUS.DEVICE_NEEDS_RESET);
    expect(driver.reg(REG.INTERRUPT_STATUS)).toBe(INTERRUPT.CONFIG_CHANGE);
    expect(next.irqs).toEqual([true]);
    expect(next.logs.join('\n')).toMatch(reason);
    expect(next.transport.stats()).toMatchObject({ needsReset: 1, lastError: expect.stringMatching(reason) as unknown });
    // A driver that resets the device starts afresh.
    driver.init({ queueSizes: [8] });
    expect(driver.status()).toBe(LIVE);
  });

  it('a refused record leaves the device in DEVICE_NEEDS_RESET alone (failRestore)', () => {
    const mem = new FlatMemory(RAM_BASE, 1 << 20);
    const driver = new MockDriver({ transport: rig().transport, mem });
    const next = takeOver(mem, driver);
    next.transport.failRestore('saved state: status=999: must be an integer 0..255');
    expect(driver.status()).toBe(STATUS.DEVICE_NEEDS_RESET);
    expect(driver.reg(REG.INTERRUPT_STATUS)).toBe(INTERRUPT.CONFIG_CHANGE);
  });
});

function q0() {
  return { num: 8, ready: false, descLo: 0, descHi: 0, driverLo: 0, driverHi: 0, deviceLo: 0, deviceHi: 0 };
}

function good(): TransportSavedState {
  return {
    v: 1,
    kind: 'virtio-mmio',
    deviceId: 4,
    status: LIVE,
    deviceFeaturesSel: 0,
    driverFeaturesSel: 0,
    driverFeatures: '0x100000000',
    negotiated: '0x100000000',
    queueSel: 0,
    interruptStatus: 0,
    configGeneration: 0,
    queues: [q0()],
  };
}
