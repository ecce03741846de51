import { describe, expect, it } from 'vitest';
import type { MmioOffset } from '@splitvisor/platform';
import { GoldfishRtc, rtcRegisters as R } from '../index.js';

const off = (n: number) => n as MmioOffset;

describe('goldfish RTC', () => {
  it('reads nanoseconds since the epoch, low word first latching the high word', () => {
    let now = 0x0123_4567_89ab_cdefn;
    const rtc = new GoldfishRtc({ now: () => now });
    const lo = rtc.read(off(R.RTC_TIME_LOW), 4);
    now += 0x1_0000_0000n; // the high word moves between the two reads
    const hi = rtc.read(off(R.RTC_TIME_HIGH), 4);
    expect(lo).toEqual({ ok: true, value: 0x89abcdef });
    expect(hi).toEqual({ ok: true, value: 0x01234567 });
  });

  it('lets the guest set the time and raises IRQ when the alarm passes, if enabled', () => {
    let now = 1_000n;
    const irqs: boolean[] = [];
    const rtc = new GoldfishRtc({ now: () => now, onIrq: (l) => irqs.push(l) });
    rtc.write(off(R.RTC_TIME_HIGH), 4, 0);
    rtc.write(off(R.RTC_TIME_LOW), 4, 5_000);
    expect(rtc.read(off(R.RTC_TIME_LOW), 4)).toEqual({ ok: true, value: 5_000 });
    rtc.write(off(R.RTC_IRQ_ENABLED), 4, 1);
    rtc.write(off(R.RTC_ALARM_HIGH), 4, 0);
    rtc.write(off(R.RTC_ALARM_LOW), 4, 6_000);
    expect(rtc.read(off(R.RTC_ALARM_STATUS), 4)).toEqual({ ok: true, value: 1 });
    expect(irqs.at(-1)).toBe(false);
    now += 1_000n;
    rtc.poll();
    expect(irqs.at(-1)).toBe(true);
    rtc.write(off(R.RTC_CLEAR_INTERRUPT), 4, 1);
    expect(irqs.at(-1)).toBe(false);
    expect(rtc.read(off(0), 2)).toMatchObject({ ok: false });
  });
});
