// The fault-injection exercises on the data plane: io-backend, mmu and NATS killed while a
// guest checker writes a disk, checksums its memory or counts interrupts; the guest's own
// count of what was lost must be 0.
import { describe, expect, it } from 'vitest';
import { runExercise } from './exercise-run.js';

describe('exercises: data plane', () => {
  it('io-backend-kill-writes: no acknowledged write lost', async () => {
    const r = await runExercise('io-backend-kill-writes', 330_000);
    expect(r.guestSaid['diskcheck']).toContain('diskcheck: verified 1000 of 1000 acknowledged writes, 0 lost');
  }, 360_000);

  it('mmu-kill-memsum: no corrupt page', async () => {
    await runExercise('mmu-kill-memsum', 330_000);
  }, 360_000);

  it('doorbell-drop: every request completes', async () => {
    await runExercise('doorbell-drop', 330_000);
  }, 360_000);

  it('nats-restart-interrupts: no interrupt lost', async () => {
    await runExercise('nats-restart-interrupts', 450_000);
  }, 480_000);
});
