// The goldfish RTC of QEMU's virt machine (hw/rtc/goldfish_rtc.c): wall-clock time in
// nanoseconds since the epoch, read low word first (the read of TIME_LOW latches the high
// word), plus an alarm that raises its interrupt line (IRQ 11) when it passes.
import type { MmioOffset } from '@splitvisor/platform';
import { describeAccess, done, refused, type DeviceAccessSize, type DeviceResult, type MmioDevice } from '../device.js';

export const RTC_TIME_LOW = 0x00;
export const RTC_TIME_HIGH = 0x04;
export const RTC_ALARM_LOW = 0x08;
export const RTC_ALARM_HIGH = 0x0c;
export const RTC_IRQ_ENABLED = 0x10;
export const RTC_CLEAR_ALARM = 0x14;
export const RTC_ALARM_STATUS = 0x18;
export const RTC_CLEAR_INTERRUPT = 0x1c;

export interface GoldfishRtcOptions {
  name?: string;
  /** Nanoseconds since the epoch, as a bigint (tests give a fixed clock). */
  now?: () => bigint;
  onIrq?: (level: boolean) => void;
}

export class GoldfishRtc implements MmioDevice {
  readonly name: string;
  private readonly now: () => bigint;
  private readonly onIrq: (level: boolean) => void;
  /** Set by a guest write of the time: guest time = host time + offset. */
  private offset = 0n;
  private latchedHigh = 0;
  private alarm = 0n;
  private alarmLowPending = 0;
  private irqEnabled = false;
  private alarmRunning = false;
  private irqPending = false;

  constructor(o: GoldfishRtcOptions = {}) {
    this.name = o.name ?? 'rtc';
    this.now = o.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.onIrq = o.onIrq ?? (() => undefined);
  }

  private time(): bigint {
    return this.now() + this.offset;
  }

  /** Checks the alarm against the clock: the io-backend calls this on every access. */
  poll(): void {
    if (this.alarmRunning && this.time() >= this.alarm) {
      this.alarmRunning = false;
      this.irqPending = true;
    }
    this.onIrq(this.irqPending && this.irqEnabled);
  }

  read(offset: MmioOffset, size: DeviceAccessSize): DeviceResult {
    if (size !== 4 || offset % 4 !== 0) return refused(`${this.name}: ${describeAccess('read', offset, size)}: goldfish RTC registers are 32-bit`);
    this.poll();
    switch (offset) {
      case RTC_TIME_LOW: {
        const t = this.time();
        this.latchedHigh = Number((t >> 32n) & 0xffffffffn);
        return done(Number(t & 0xffffffffn));
      }
      case RTC_TIME_HIGH:
        return done(this.latchedHigh);
      case RTC_ALARM_LOW:
        return done(Number(this.alarm & 0xffffffffn));
      case RTC_ALARM_HIGH:
        return done(Number((this.alarm >> 32n) & 0xffffffffn));
      case RTC_IRQ_ENABLED:
        return done(this.irqEnabled ? 1 : 0);
      case RTC_ALARM_STATUS:
        return done(this.alarmRunning ? 1 : 0);
      default:
        return done(0);
    }
  }

  write(offset: MmioOffset, size: DeviceAccessSize, value: number): DeviceResult {
    if (size !== 4 || offset % 4 !== 0) return refused(`${this.name}: ${describeAccess('write', offset, size, value)}: goldfish RTC registers are 32-bit`);
    const v = BigInt(value >>> 0);
    switch (offset) {
      case RTC_TIME_LOW: {
        // Setting the time: high word first (latched by a previous TIME_HIGH write), as QEMU.
        const wanted = (BigInt(this.latchedHigh) << 32n) | v;
        this.offset = wanted - this.now();
        break;
      }
      case RTC_TIME_HIGH:
        this.latchedHigh = value >>> 0;
        break;
      case RTC_ALARM_LOW:
        this.alarmLowPending = value >>> 0;
        this.alarm = (this.alarm & ~0xffffffffn) | v;
        this.alarmRunning = true;
        break;
      case RTC_ALARM_HIGH:
        this.alarm = (v << 32n) | BigInt(this.alarmLowPending);
        break;
      case RTC_IRQ_ENABLED:
        this.irqEnabled = (value & 1) !== 0;
        break;
      case RTC_CLEAR_ALARM:
        this.alarmRunning = false;
        break;
      case RTC_CLEAR_INTERRUPT:
        this.irqPending = false;
        break;
    }
    this.poll();
    return done();
  }

  reset(): void {
    this.alarm = 0n;
    this.alarmRunning = false;
    this.irqEnabled = false;
    this.irqPending = false;
    this.onIrq(false);
  }
}
