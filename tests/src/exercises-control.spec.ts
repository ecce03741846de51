// The fault-injection exercises (exercises/*.yaml) on the control plane and the links:
// each runs through `splitvisor exercise run` in its own supervised lab and must pass.
// The data-plane ones are in exercises-data.spec.ts (the two files run side by side).
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-runner.js';
import { runExercise } from './exercise-run.js';

describe('exercises: control plane and links', () => {
  it('exercise list names every exercise with what it does', async () => {
    const r = await runCli(['exercise', 'list']);
    expect(r.code, r.stderr).toBe(0);
    const names = r.stdout
      .split('\n')
      .slice(1, -1)
      .map((l) => l.split(/ {2,}/)[0]);
    expect(names).toEqual([
      'cpu-io-latency',
      'cpu-mmu-partition',
      'dom0-kill',
      'doorbell-drop',
      'io-backend-freeze',
      'io-backend-kill-writes',
      'mmu-kill-memsum',
      'nats-restart-interrupts',
    ]);
  });

  it('a malformed exercise is refused before a lab starts, naming the file and field', async () => {
    const r = await runCli(['exercise', 'run', 'tests/testdata/bad-exercise.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^splitvisor: exercise: \S+bad-exercise\.yaml: steps\[1\]\.fault: service: "hypervisor" is not a service of this lab/);
    expect(r.stdout).toBe('');
  });

  it('dom0-kill: the guest runs on, no tick lost; dom0 comes back knowing the VM', async () => {
    const r = await runExercise('dom0-kill', 150_000);
    expect(r.vmEnd).toEqual({ ticker: 'running' });
    expect(r.timeline.some((e) => e.kind === 'lab' && /^dom0 restarted \(restart 1/.test(e.text))).toBe(true);
  }, 180_000);

  it('io-backend-freeze: the guest stalls for the freeze, then goes on, nothing lost', async () => {
    const r = await runExercise('io-backend-freeze', 150_000);
    expect(r.faults[0]!.longestSilenceMs).toBeGreaterThan(2500);
  }, 180_000);

  it('cpu-mmu-partition: a VM started in the partition runs once it heals', async () => {
    const r = await runExercise('cpu-mmu-partition', 120_000);
    expect(r.faults[0]!.recoveredAfterMs).toBeGreaterThan(4500);
  }, 150_000);

  it('cpu-io-latency: the console stays right and exit p50 shifts by ~200 ms', async () => {
    const r = await runExercise('cpu-io-latency', 200_000);
    expect(r.exitsP50Ms['during']! - r.exitsP50Ms['before']!).toBeGreaterThan(190);
  }, 240_000);
});
