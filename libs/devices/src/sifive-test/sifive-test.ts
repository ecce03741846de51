// The sifive,test1 finisher: how a guest of the virt machine powers off or resets
// (QEMU hw/misc/sifive_test.c; OpenSBI and Linux's syscon-poweroff/syscon-reboot use it).
//
// A write at offset 0 is decoded as status = bits 15:0, code = bits 31:16:
//   0x5555 PASS  -> power off, exit code 0
//   0x3333 FAIL  -> power off, exit code = code (QEMU exit(code); so 0x3333 alone exits 0)
//   0x7777 RESET -> system reset
// Any other value, or a write at another offset, is ignored: QEMU only logs it as a guest
// error (LOG_GUEST_ERROR) and carries on, and so do we. Reads return 0.
// QEMU declares valid.min_access_size = 2, max_access_size = 4, so a byte access is an
// access fault there, and here; a 2-byte write of 0x5555 passes, as there.
import { SIFIVE_TEST_FAIL, SIFIVE_TEST_PASS, SIFIVE_TEST_RESET, type MmioOffset } from '@splitvisor/platform';
import { describeAccess, done, refused, type DeviceAccessSize, type DeviceResult, type MmioDevice, type SystemEvent } from '../device.js';

export interface SifiveTestOptions {
  /** Device name on the bus (default "sifive_test"). */
  name?: string;
  /** Told of every event, besides the write's own result carrying it. */
  onEvent?: (event: SystemEvent) => void;
}

export class SifiveTest implements MmioDevice {
  readonly name: string;
  private readonly onEvent: (event: SystemEvent) => void;
  /** Writes that were not a finisher code (QEMU logs these as guest errors). */
  ignoredWrites = 0;

  constructor(opts: SifiveTestOptions = {}) {
    this.name = opts.name ?? 'sifive_test';
    this.onEvent = opts.onEvent ?? (() => undefined);
  }

  read(offset: MmioOffset, size: DeviceAccessSize): DeviceResult {
    if (size === 1) return refused(`${describeAccess('read', offset, size)} refused: sifive_test takes 2- or 4-byte accesses`);
    return done(0);
  }

  write(offset: MmioOffset, size: DeviceAccessSize, value: number): DeviceResult {
    if (size === 1) return refused(`${describeAccess('write', offset, size, value)} refused: sifive_test takes 2- or 4-byte accesses`);
    const event = offset === 0 ? decode(value >>> 0) : undefined;
    if (!event) {
      this.ignoredWrites++;
      return done();
    }
    this.onEvent(event);
    return { ok: true, value: 0, event };
  }

  reset(): void {
    // Stateless: nothing to reset.
  }
}

function decode(value: number): SystemEvent | undefined {
  const status = value & 0xffff;
  const code = (value >>> 16) & 0xffff;
  switch (status) {
    case SIFIVE_TEST_PASS:
      return { kind: 'poweroff', exitCode: 0, value };
    case SIFIVE_TEST_FAIL:
      return { kind: 'poweroff', exitCode: code, value };
    case SIFIVE_TEST_RESET:
      return { kind: 'reset', value };
    default:
      return undefined;
  }
}
