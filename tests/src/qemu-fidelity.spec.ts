// Drivers written against QEMU 7.2 work here (issue 17, fidelity): guests/virtio-legacy with
// its devices placed in chosen virtio-mmio slots, on QEMU with `-device ...,bus=virtio-mmio-bus.N`
// and on Splitvisor with `slot: N`, reading the same disk image. The slot lines, the blk
// read, the rng request and every status must match; the one documented difference is
// virtio-net, which QEMU serves to a driver without VIRTIO_F_VERSION_1 and we refuse.
// (guests/uart-tx and virtio-legacy's default placement are in PARITY_CASES, with every
// guest: qemu-guests.spec.ts.) The runner is qemu-runner.ts.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestLab, type TestLab } from '@splitvisor/testing';
import {
  LEGACY_RNG,
  VIRTIO_LEGACY_QEMU_ARGS,
  documentedDifferences,
  legacyBlk,
  legacyNetDifference,
  virtioLegacyConsole,
  type ParityCase,
} from './guest-expectations.js';
import { configDir, labEnv } from './cli-runner.js';
import { DEFAULT_TIMEOUT_MS, expectParity, requireQemu } from './qemu-runner.js';

/** The first 16 bytes of the disk both machines read (the rest of its 1 MiB is zeros). */
const DISK_HEAD = 'splitvisor-disk!';

describe('drivers written against QEMU 7.2: virtio devices in chosen slots, driven without VERSION_1', () => {
  let t: TestLab;
  let env: Record<string, string>;
  const { dir, vmFile } = configDir('sv-fidelity-');
  const disk = join(dir, 'disk.img');

  beforeAll(async () => {
    const bytes = Buffer.alloc(1 << 20);
    bytes.write(DISK_HEAD, 'latin1');
    writeFileSync(disk, bytes);
    t = await startTestLab();
    env = labEnv(t);
  }, 60_000);
  afterAll(async () => {
    await t?.teardown();
  });

  it(
    "blk in slot 0, rng in slot 3, net in slot 5: QEMU's bus=virtio-mmio-bus.N and our slot: N give the same console",
    async ({ skip }) => {
      requireQemu(skip);
      const console = virtioLegacyConsole({ 0: 2, 3: 4, 5: 1 }, { 0: legacyBlk(DISK_HEAD), 3: LEGACY_RNG });
      const diff = documentedDifferences(console, [legacyNetDifference(5)], 'QEMU 7.2 serves a legacy virtio-net driver, Splitvisor refuses it');
      const c: ParityCase = {
        name: 'virtio-legacy in slots 0, 3, 5',
        guest: 'virtio-legacy',
        input: '',
        console,
        exit: 0,
        qemuArgs: [
          ...VIRTIO_LEGACY_QEMU_ARGS,
          '-drive',
          `file=${disk},if=none,format=raw,id=d0`,
          '-device',
          'virtio-blk-device,drive=d0,bus=virtio-mmio-bus.0',
          '-device',
          'virtio-rng-device,bus=virtio-mmio-bus.3',
          '-netdev',
          'user,id=n0',
          '-device',
          'virtio-net-device,netdev=n0,bus=virtio-mmio-bus.5',
        ],
        vmConfig: `disks:\n  - path: ${disk}\n    slot: 0\nrng:\n  slot: 3\nnics:\n  - slot: 5\n`,
        normalise: diff.normalise,
      };
      await expectParity(c, { env, vmFile, name: 'fidelity-slots' });
    },
    2 * DEFAULT_TIMEOUT_MS + 30_000,
  );

  it(
    'a disk and an rng without slot: the highest slots in order, as QEMU gives -device without bus=',
    async ({ skip }) => {
      requireQemu(skip);
      const c: ParityCase = {
        name: 'virtio-legacy, default slots',
        guest: 'virtio-legacy',
        input: '',
        console: virtioLegacyConsole({ 7: 2, 6: 4 }, { 7: legacyBlk(DISK_HEAD), 6: LEGACY_RNG }),
        exit: 0,
        qemuArgs: [
          ...VIRTIO_LEGACY_QEMU_ARGS,
          '-drive',
          `file=${disk},if=none,format=raw,id=d0`,
          '-device',
          'virtio-blk-device,drive=d0',
          '-device',
          'virtio-rng-device',
        ],
        vmConfig: `disks:\n  - ${disk}\nrng: true\n`,
      };
      await expectParity(c, { env, vmFile, name: 'fidelity-default' });
    },
    2 * DEFAULT_TIMEOUT_MS + 30_000,
  );
});
