import { describe, expect, it } from 'vitest';
import { parseVmConfig } from './vm-config.js';
import { defaultMac } from './device-config.js';

const base = 'name: dev\nmemory: 64M\nimage: /g/hello.bin\n';
const parse = (extra: string) => parseVmConfig(base + extra, '/cfg', 'vm.yaml');

describe('VM config: virtio devices', () => {
  it('places devices in virtio-mmio slots as QEMU does (first device in the highest slot), disks, then nics, then rng', () => {
    const cfg = parse(
      'disks:\n  - path: disk.img\n    readonly: true\n    serial: sv-0\n  - /abs/b.img\nnics:\n  - network: lab0\n    mac: "52:54:00:AB:cd:01"\n    tftp: ./tftp\n    bootfile: boot.scr\n  - {}\nrng: true\n',
    );
    expect(cfg.devices).toEqual([
      { id: 'virtio-blk0', kind: 'virtio-blk', slot: 7, params: { path: '/cfg/disk.img', mode: 'r', serial: 'sv-0', slot: '7' } },
      { id: 'virtio-blk1', kind: 'virtio-blk', slot: 6, params: { path: '/abs/b.img', mode: 'w', slot: '6' } },
      {
        id: 'virtio-net0',
        kind: 'virtio-net',
        slot: 5,
        params: { network: 'lab0', mac: '52:54:00:ab:cd:01', tftp: '/cfg/tftp', bootfile: 'boot.scr', slot: '5' },
      },
      { id: 'virtio-net1', kind: 'virtio-net', slot: 4, params: { network: 'default', mac: defaultMac('dev', 1), slot: '4' } },
      { id: 'virtio-rng0', kind: 'virtio-rng', slot: 3, params: { slot: '3' } },
    ]);
  });

  it("puts a device with slot: N in slot N (QEMU's bus=virtio-mmio-bus.N); the others take the highest free slots in order", () => {
    const cfg = parse('disks:\n  - path: a.img\n    slot: 0\n  - b.img\nnics:\n  - slot: 7\nrng:\n  slot: 1\n');
    expect(cfg.devices?.map((d) => [d.id, d.slot, d.params['slot']])).toEqual([
      ['virtio-blk0', 0, '0'],
      ['virtio-blk1', 6, '6'],
      ['virtio-net0', 7, '7'],
      ['virtio-rng0', 1, '1'],
    ]);
    expect(parse('rng: { slot: 4 }\n').devices).toEqual([{ id: 'virtio-rng0', kind: 'virtio-rng', slot: 4, params: { slot: '4' } }]);
    expect(parse('rng: true\n').devices?.[0]?.slot).toBe(7);
  });

  it('fills all eight slots around explicit ones', () => {
    const disks = Array.from({ length: 7 }, (_, i) => (i === 2 ? '  - path: d2.img\n    slot: 7\n' : `  - d${i}.img\n`)).join('');
    const cfg = parse(`disks:\n${disks}rng: true\n`);
    expect(cfg.devices?.map((d) => d.slot)).toEqual([6, 5, 7, 4, 3, 2, 1, 0]);
  });

  it('has no devices field when none are asked for (rng: false included)', () => {
    expect(parse('rng: false\n').devices).toBeUndefined();
  });

  it('derives distinct, stable, unicast MACs under 52:54:00 per VM and index', () => {
    expect(defaultMac('a', 0)).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(defaultMac('a', 0)).toBe(defaultMac('a', 0));
    expect(defaultMac('a', 0)).not.toBe(defaultMac('a', 1));
    expect(defaultMac('a', 0)).not.toBe(defaultMac('b', 0));
  });

  it.each([
    ['disks: disk.img\n', /vm.yaml: disks: expected a list, got "disk.img"/],
    ['disks:\n  - readonly: true\n', /disks\[0\]\.path: is required/],
    ['disks:\n  - path: 7\n', /disks\[0\]\.path: expected a file path, got 7/],
    ['disks:\n  - path: a.img\n    readonly: "yes"\n', /disks\[0\]\.readonly: expected true or false, got "yes"/],
    ['disks:\n  - path: a.img\n    serial: "123456789012345678901"\n', /disks\[0\]\.serial: .* must be 1-20 printable ASCII/],
    ['disks:\n  - path: a.img\n    size: 3\n', /disks\[0\]\.size: unknown field \(known: path, readonly, serial, slot\)/],
    ['nics:\n  - network: Lab.0\n', /nics\[0\]\.network: "Lab.0" must be 1-63 characters/],
    ['nics:\n  - mac: 52:54:00:12:34\n', /nics\[0\]\.mac: .* is not a MAC address/],
    ['nics:\n  - mac: "01:00:5e:00:00:01"\n', /nics\[0\]\.mac: 01:00:5e:00:00:01 is a multicast address/],
    ['nics:\n  - mac: "00:00:00:00:00:00"\n', /nics\[0\]\.mac: 00:00:00:00:00:00 is not a usable address/],
    ['nics:\n  - mac: "52:54:00:12:34:56"\n  - mac: "52:54:00:12:34:56"\n', /nics: virtio-net1 and virtio-net0 both have MAC 52:54:00:12:34:56/],
    ['nics:\n  - bootfile: ""\n', /nics\[0\]\.bootfile: "" must be a file name/],
    ['rng: 1\n', /vm.yaml: rng: expected true, false or a mapping like \{ slot: 0 \}, got 1/],
    ['rng:\n  slot: 8\n', /vm.yaml: rng\.slot: 8 is not a virtio-mmio slot: expected a whole number 0\.\.7/],
    ['rng:\n  slots: 1\n', /rng\.slots: unknown field \(known: slot\)/],
    ['disks:\n  - path: a.img\n    slot: -1\n', /disks\[0\]\.slot: -1 is not a virtio-mmio slot/],
    ['disks:\n  - path: a.img\n    slot: "0"\n', /disks\[0\]\.slot: "0" is not a virtio-mmio slot/],
    ['nics:\n  - slot: 1.5\n', /nics\[0\]\.slot: 1\.5 is not a virtio-mmio slot/],
    [
      'disks:\n  - path: a.img\n    slot: 0\nrng:\n  slot: 0\n',
      /vm.yaml: rng\.slot: slot 0 is already disks\[0\]'s \(virtio-blk0\); virtio-rng0 needs another \(0\.\.7\)/,
    ],
    ['nics:\n  - slot: 3\n  - slot: 3\n', /nics\[1\]\.slot: slot 3 is already nics\[0\]'s \(virtio-net0\); virtio-net1 needs another/],
    [`disks:\n${'  - a.img\n'.repeat(9)}`, /disks\[8\]: the virt machine has 8 virtio-mmio slots; this would be device 9/],
  ])('refuses %j naming the field', (extra, message) => {
    expect(() => parse(extra)).toThrow(message);
  });
});
