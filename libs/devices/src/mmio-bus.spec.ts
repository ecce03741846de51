import { describe, expect, it } from 'vitest';
import { gpa, type MmioOffset } from '@splitvisor/platform';
import { done, refused, type DeviceAccessSize, type DeviceResult, type MmioDevice } from './device.js';
import { MmioBus } from './mmio-bus.js';

/** Records every access; reads answer offset * 0x1000 + size; refuses offsets 0xbac and 0xbb0. */
class Recorder implements MmioDevice {
  log: string[] = [];
  resets = 0;
  constructor(readonly name: string) {}
  read(offset: MmioOffset, size: DeviceAccessSize): DeviceResult {
    this.log.push(`r ${offset} ${size}`);
    return offset === 0xbac || offset === 0xbb0 ? refused(`offset 0xbac is write-only`) : done(offset * 0x1000 + size);
  }
  write(offset: MmioOffset, size: DeviceAccessSize, value: number): DeviceResult {
    this.log.push(`w ${offset} ${size} ${value.toString(16)}`);
    return offset === 0xbac || offset === 0xbb0 ? refused('offset 0xbac is read-only') : done();
  }
  reset(): void {
    this.resets++;
  }
}

function busWith(...devs: [number, number, string][]) {
  const bus = new MmioBus();
  const out: Recorder[] = [];
  for (const [base, size, name] of devs) {
    const d = new Recorder(name);
    bus.add(gpa(base), size, d);
    out.push(d);
  }
  return { bus, devs: out };
}

describe('MmioBus mapping', () => {
  it('keeps ranges sorted whatever the order they are added in', () => {
    const { bus } = busWith([0x3000, 0x100, 'c'], [0x1000, 0x100, 'a'], [0x2000, 0x1000, 'b']);
    expect(bus.mappings().map((m) => m.device.name)).toEqual(['a', 'b', 'c']);
    expect(bus.find(0x2fff)?.device.name).toBe('b');
    expect(bus.find(0x3000)?.device.name).toBe('c');
    expect(bus.find(0x1100)).toBeUndefined();
    expect(bus.find(0xfff)).toBeUndefined();
  });

  it('refuses an overlap, naming both devices and both ranges', () => {
    const { bus } = busWith([0x1000, 0x100, 'uart0'], [0x2000, 0x100, 'rtc']);
    expect(() => bus.add(gpa(0x10f0), 0x20, new Recorder('virtio0'))).toThrow('cannot map virtio0 at [0x10f0, 0x1110): overlaps uart0 at [0x1000, 0x1100)');
    expect(() => bus.add(gpa(0x1f00), 0x101, new Recorder('x'))).toThrow('overlaps rtc at [0x2000, 0x2100)');
    expect(() => bus.add(gpa(0x0), 0x10000, new Recorder('big'))).toThrow(/overlaps uart0/);
    // Touching ends are not an overlap.
    bus.add(gpa(0x1100), 0xf00, new Recorder('between'));
    expect(bus.mappings()).toHaveLength(3);
  });

  it('refuses a second device of the same name and nonsense ranges', () => {
    const { bus } = busWith([0x1000, 0x100, 'uart0']);
    expect(() => bus.add(gpa(0x5000), 0x100, new Recorder('uart0'))).toThrow(/a device named uart0 is already mapped at \[0x1000, 0x1100\)/);
    expect(() => bus.add(gpa(0x5000), 0, new Recorder('z'))).toThrow(/size 0/);
    expect(() => bus.add(gpa(-1), 0x10, new Recorder('n'))).toThrow(/base -1/);
  });

  it('resets every device', () => {
    const { bus, devs } = busWith([0x1000, 0x100, 'a'], [0x2000, 0x100, 'b']);
    bus.reset();
    expect(devs.map((d) => d.resets)).toEqual([1, 1]);
  });
});

describe('MmioBus access', () => {
  it('routes to the device with the offset inside its window', () => {
    const { bus, devs } = busWith([0x1000, 0x100, 'a'], [0x10000000, 0x100, 'uart0']);
    expect(bus.read(gpa(0x10000005), 1)).toEqual({ ok: true, lo: 0x5001, hi: 0, device: 'uart0' });
    expect(bus.write(gpa(0x1010), 4, 0xdeadbeef)).toEqual({ ok: true, lo: 0, hi: 0, device: 'a' });
    expect(devs[0]!.log).toEqual(['w 16 4 deadbeef']);
    expect(devs[1]!.log).toEqual(['r 5 1']);
  });

  it('masks store data to the access size', () => {
    const { bus, devs } = busWith([0x1000, 0x100, 'a']);
    bus.write(gpa(0x1000), 1, 0x1234);
    bus.write(gpa(0x1002), 2, 0x123456);
    expect(devs[0]!.log).toEqual(['w 0 1 34', 'w 2 2 3456']);
  });

  it('splits an 8-byte access into two 4-byte ones, low word first', () => {
    const { bus, devs } = busWith([0x1000, 0x100, 'a']);
    expect(bus.read(gpa(0x1008), 8)).toEqual({ ok: true, lo: 0x8004, hi: 0xc004, device: 'a' });
    expect(bus.write(gpa(0x1010), 8, 0x11111111, 0x22222222).ok).toBe(true);
    expect(devs[0]!.log).toEqual(['r 8 4', 'r 12 4', 'w 16 4 11111111', 'w 20 4 22222222']);
  });

  it('fails an 8-byte access if either half is refused, and skips the high half after a refused low one', () => {
    const { bus, devs } = busWith([0x1000, 0x1000, 'a']);
    // Low half at 0xba8 is fine, high half at 0xbac is refused.
    expect(bus.write(gpa(0x1ba8), 8, 1, 2)).toMatchObject({ ok: false, kind: 'bad-access', device: 'a' });
    expect(bus.read(gpa(0x1ba8), 8)).toMatchObject({ ok: false, kind: 'bad-access', device: 'a' });
    devs[0]!.log = [];
    // Low half at 0xbb0 is refused: the high half at 0xbb4 never happens.
    expect(bus.write(gpa(0x1bb0), 8, 1, 2)).toMatchObject({ ok: false, kind: 'bad-access' });
    expect(bus.read(gpa(0x1bb0), 8)).toMatchObject({ ok: false, kind: 'bad-access' });
    expect(devs[0]!.log).toEqual(['w 2992 4 1', 'r 2992 4']);
  });

  it('carries a device event out of either half of an 8-byte write', () => {
    const bus = new MmioBus();
    const ev = { kind: 'reset', value: 0x7777 } as const;
    bus.add(gpa(0x1000), 0x10, {
      name: 'fin',
      read: () => done(),
      write: (off) => (off === 4 ? { ok: true, value: 0, event: ev } : done()),
      reset: () => undefined,
    });
    expect(bus.write(gpa(0x1000), 8, 0, 0x7777)).toEqual({ ok: true, lo: 0, hi: 0, device: 'fin', event: ev });
    expect(bus.write(gpa(0x1004), 4, 0x7777)).toEqual({ ok: true, lo: 0, hi: 0, device: 'fin', event: ev });
  });

  it('answers an unmapped address with a typed result naming it', () => {
    const { bus } = busWith([0x1000, 0x100, 'a']);
    expect(bus.read(gpa(0x20000000), 4)).toEqual({ ok: false, kind: 'unmapped', addr: 0x20000000, reason: 'no device at 0x20000000' });
    expect(bus.write(gpa(0x1100), 1, 0)).toMatchObject({ ok: false, kind: 'unmapped', reason: 'no device at 0x1100' });
    expect(bus.read(gpa(2 ** 60), 4)).toMatchObject({ ok: false, kind: 'unmapped' });
    expect(bus.read(gpa(-8), 4)).toMatchObject({ ok: false, kind: 'unmapped' });
  });

  it('refuses bad sizes, misaligned accesses and accesses past the end', () => {
    const { bus, devs } = busWith([0x1000, 0x6, 'a']);
    expect(bus.read(gpa(0x1000), 3)).toEqual({
      ok: false,
      kind: 'bad-access',
      addr: 0x1000,
      reason: 'read of size 3 at 0x1000: size must be 1, 2, 4 or 8',
    });
    expect(bus.write(gpa(0x1000), 16, 0)).toMatchObject({ kind: 'bad-access', reason: /size 16/ });
    expect(bus.read(gpa(0x1002), 4)).toMatchObject({ kind: 'bad-access', device: 'a', reason: 'misaligned 4-byte read at 0x1002 (a)' });
    expect(bus.write(gpa(0x1001), 2, 0)).toMatchObject({ kind: 'bad-access', reason: /misaligned 2-byte write/ });
    expect(bus.read(gpa(0x1004), 4)).toMatchObject({
      kind: 'bad-access',
      reason: '4-byte read at 0x1004 crosses the end of a at 0x1006',
    });
    expect(devs[0]!.log).toEqual([]);
  });

  it('passes a device refusal on as bad-access, naming device and address', () => {
    const { bus } = busWith([0x1000, 0x1000, 'a']);
    expect(bus.read(gpa(0x1bac), 4)).toEqual({
      ok: false,
      kind: 'bad-access',
      addr: 0x1bac,
      device: 'a',
      reason: 'a at 0x1bac: offset 0xbac is write-only',
    });
  });
});
