// The two ends of the exit channel over one set of shared blocks, in one thread: what the
// host asks is what the worker sees at its next look, and the other way round.
import { describe, expect, it } from 'vitest';
import { SIFIVE_TEST, UART0 } from '@splitvisor/platform';
import { EXIT_REASONS, ExitChannelHost, ExitChannelWorker, ExitStatus, LOCAL_EXIT_REASONS, PostedKind, Reason } from './index.js';

function ends() {
  const host = new ExitChannelHost();
  return { host, worker: new ExitChannelWorker(host.buffers) };
}

describe('exit channel', () => {
  it('numbers its reasons as the table names them', () => {
    expect(Object.entries(Reason).map(([, i]) => EXIT_REASONS[i])).toEqual([
      'mmio-read',
      'mmio-write',
      'page-fetch',
      'wfi',
      'mmio-coalesced',
      'doorbell',
      'mmio-shadowed',
      'poll-idle',
      'priv-insn',
      'sbi-call',
      'shadow-fault',
      'guest-page-fault',
      'virq-inject',
      'vtrap',
    ]);
    expect(LOCAL_EXIT_REASONS).toEqual(['wfi', 'poll-idle', 'priv-insn', 'sbi-call', 'shadow-fault', 'guest-page-fault', 'virq-inject', 'vtrap']);
  });

  it("counts the mode monitors' local exits in their own rows, apart from the others", () => {
    const { host, worker } = ends();
    worker.recordLocalExit(Reason.SbiCall, 0.5);
    worker.recordLocalExit(Reason.SbiCall, 0.25);
    worker.recordLocalExit(Reason.ShadowFault, 1);
    worker.recordExit(Reason.MmioRead, 2);
    const rows = Object.fromEntries(host.stats().exits.map((e) => [e.reason, [e.count, e.totalMs]]));
    expect(rows['sbi-call']).toEqual([2, 0.75]);
    expect(rows['shadow-fault']).toEqual([1, 1]);
    expect(rows['mmio-read']).toEqual([1, 2]);
    expect(rows['priv-insn']).toEqual([0, 0]);
    expect(rows['guest-page-fault']).toEqual([0, 0]);
    expect(rows['virq-inject']).toEqual([0, 0]);
  });

  it('carries an answer with its data, and a new exit forgets the last answer', () => {
    const { host, worker } = ends();
    worker.beginExit();
    expect(worker.answered).toBe(false);
    host.reply(ExitStatus.Ok, 0x12345678, -1);
    expect(worker.answered).toBe(true);
    expect([worker.replyStatus, worker.replyLo, worker.replyHi]).toEqual([ExitStatus.Ok, 0x12345678, -1]);
    worker.waitForAnswer(); // answered: returns at once
    worker.beginExit();
    expect(worker.answered).toBe(false);
    host.reply(ExitStatus.Poweroff, 3);
    expect([worker.replyStatus, worker.replyLo]).toEqual([ExitStatus.Poweroff, 3]);
  });

  it('rings a waiting worker for a recall without answering its exit', () => {
    const { host, worker } = ends();
    worker.beginExit();
    const rung = worker.recallsRung;
    host.ringRecall();
    expect(worker.recallsRung).toBe(rung + 1);
    expect(worker.answered).toBe(false);
    worker.waitForAnswer(); // the doorbell ends the wait
    worker.takeDoorbell();
    const t0 = performance.now();
    worker.waitForAnswer(20); // taken: waits again until the answer or the timeout
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    // A doorbell that rings after the answer leaves the answer alone.
    host.reply(ExitStatus.AccessFault);
    host.ringRecall();
    worker.takeDoorbell();
    expect([worker.answered, worker.replyStatus]).toEqual([true, ExitStatus.AccessFault]);
  });

  it('shows stop and pause requests, and every request bumps the wake counter', () => {
    const { host, worker } = ends();
    let wake = worker.wakeSeq;
    const bumped = () => {
      const now = worker.wakeSeq;
      const was = wake;
      wake = now;
      return now !== was;
    };
    host.requestPause(true);
    expect([worker.pauseRequested, bumped()]).toEqual([true, true]);
    expect(host.parked).toBe(false);
    worker.setParked(true);
    expect(host.parked).toBe(true);
    worker.setParked(false);
    host.requestPause(false);
    expect([worker.pauseRequested, bumped()]).toEqual([false, true]);
    host.ringRecall();
    expect(bumped()).toBe(true);
    host.requestStop();
    expect([worker.stopRequested, bumped()]).toEqual([true, true]);
    // A sleep on a stale wake value returns at once.
    const t0 = performance.now();
    worker.sleep(wake - 1, 1000);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('hands over IRQ line changes once, and only the lines that changed', () => {
    const { host, worker } = ends();
    const seen: [number, boolean][] = [];
    const sink = (irq: number, level: boolean) => seen.push([irq, level]);
    expect(host.setIrqLevel(10, true)).toBe(true);
    expect(host.setIrqLevel(10, true)).toBe(false); // no change, no wake-up
    expect(host.setIrqLevel(3, true)).toBe(true);
    expect(worker.irqDirty).toBe(true);
    worker.applyIrqLines(sink);
    expect(seen).toEqual([
      [3, true],
      [10, true],
    ]);
    expect(worker.irqDirty).toBe(false);
    worker.applyIrqLines(sink);
    expect(seen.length).toBe(2);
    host.setIrqLevel(3, false);
    host.setIrqLevel(3, true); // back where the PLIC has it: nothing to give it
    host.setIrqLevel(10, false);
    worker.applyIrqLines(sink);
    expect(seen.slice(2)).toEqual([[10, false]]);
  });

  it('keeps the exit table: reasons, device rows, MMIO round trips, posted stores', () => {
    const { host, worker } = ends();
    worker.recordExit(Reason.MmioRead, 0.5);
    worker.recordMmio(UART0.base + 5, false, 0.5);
    worker.recordExit(Reason.MmioWrite, 0.25);
    worker.recordMmio(SIFIVE_TEST.base, true, 0.25);
    worker.recordLocalExit(Reason.Wfi, 4);
    worker.recordPosted(UART0.base, PostedKind.Coalesced);
    worker.recordPosted(UART0.base, PostedKind.Coalesced);
    worker.recordShadowed(UART0.base + 5);
    worker.progress(1234, 1.5);
    const t = host.stats();
    expect([t.instret, t.runSeconds]).toEqual([1234, 1.5]);
    expect(t.exits.map((e) => [e.reason, e.count, e.totalMs])).toEqual([
      ['mmio-read', 1, 0.5],
      ['mmio-write', 1, 0.25],
      ['page-fetch', 0, 0],
      ['wfi', 1, 4],
      ['mmio-coalesced', 2, 0],
      ['doorbell', 0, 0],
      ['mmio-shadowed', 1, 0],
      ['poll-idle', 0, 0],
      ['priv-insn', 0, 0],
      ['sbi-call', 0, 0],
      ['shadow-fault', 0, 0],
      ['guest-page-fault', 0, 0],
      ['virq-inject', 0, 0],
      ['vtrap', 0, 0],
    ]);
    expect([...t.mmioLatencyUs]).toEqual([500, 250]);
    expect(t.devices.map((d) => [d.region.name, d.reads, d.writes, d.totalMs, d.posted, d.shadowed])).toEqual([
      [SIFIVE_TEST.name, 0, 1, 0.25, 0, 0],
      [UART0.name, 1, 0, 0.5, 2, 1],
    ]);
  });
});
