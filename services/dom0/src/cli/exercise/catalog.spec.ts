import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXERCISES_DIR, ExerciseError, findExercise, loadCatalog, loadExercise } from './catalog.js';
import { formatCatalog, formatSummary } from './report.js';
import type { ExerciseResult } from './runner.js';

const dir = mkdtempSync(join(tmpdir(), 'sv-exercise-'));
writeFileSync(join(dir, 'vm.yaml'), 'name: tick\nmemory: 16M\nimage: x.elf\n');

/** An exercise file `name.yaml` in the temp dir with `body` (a VM at vm.yaml beside it). */
function file(name: string, body: string): string {
  const p = join(dir, `${name}.yaml`);
  writeFileSync(p, body);
  return p;
}

const GOOD = `name: good
title: a fault and a check
lab:
  exit_deadline: 10s
progress:
  line: '^tick \\d+$'
steps:
  - start: vm.yaml
  - wait: '^tick 5$'
    within: 20s
  - fault: stop io-backend --for 3s
  - exits: before
  - fault: add cpu:io-backend latency 200ms 20ms --for 30s
  - sleep: 1s
  - fault: clear
checks:
  - consecutive: '^tick (\\d+)$'
  - count: lost
    line: 'lost (\\d+)'
    equals: 0
  - state: running
`;

function refused(body: string, msg: string): void {
  expect(() => loadExercise(file('bad', body))).toThrow(ExerciseError);
  expect(() => loadExercise(file('bad', body))).toThrow(`${join(dir, 'bad.yaml')}: ${msg}`);
}

describe('the exercise catalog', () => {
  it('reads an exercise: its VM by the name in its config, steps and checks in order', () => {
    const ex = loadExercise(file('good', GOOD));
    expect(ex).toMatchObject({ name: 'good', title: 'a fault and a check', exitDeadlineMs: 10_000, timeoutMs: 300_000 });
    expect(ex.progress).toMatchObject({ vm: 'tick', text: '^tick \\d+$' });
    expect(ex.steps.map((s) => s.kind)).toEqual(['start', 'wait', 'fault', 'exits', 'fault', 'sleep', 'fault']);
    expect(ex.steps[0]).toEqual({ kind: 'start', vm: 'tick', config: join(dir, 'vm.yaml') });
    expect(ex.steps[1]).toMatchObject({ kind: 'wait', vm: 'tick', withinMs: 20_000 });
    expect(ex.steps[2]).toEqual({ kind: 'fault', words: ['stop', 'io-backend', '--for', '3s'] });
    expect(ex.checks.map((c) => c.kind)).toEqual(['consecutive', 'count', 'state']);
  });

  it('every exercise in exercises/ loads, and list names each with what it does', () => {
    const all = loadCatalog();
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const e of all) expect(e.file).toBe(join(EXERCISES_DIR, `${e.name}.yaml`));
    const table = formatCatalog(all).split('\n');
    expect(table[0]).toMatch(/^NAME +WHAT$/);
    expect(table).toContain(`${all[0]!.name.padEnd(Math.max(4, ...all.map((e) => e.name.length)))}  ${all[0]!.title}`);
  });

  it('an unknown exercise names the ones there are', () => {
    expect(() => findExercise('nope')).toThrow(/^no exercise "nope" \(.*dom0-kill.*\)$/);
    expect(() => findExercise('../etc')).toThrow('"../etc" is not an exercise name (a-z 0-9 -) or a .yaml file');
  });

  it('refuses a malformed exercise before any lab starts, naming the field and the value', () => {
    const head = 'name: bad\ntitle: t\n';
    const start = 'steps:\n  - start: vm.yaml\n';
    const check = 'checks:\n  - state: running\n';
    refused(`name: other\ntitle: t\n${start}${check}`, 'name: "other" is not the file\'s name (bad)');
    refused(`${head}colour: red\n${start}${check}`, 'unknown field "colour"');
    refused(`${head}timeout: 2h\n${start}${check}`, 'timeout: "2h" is not a duration');
    refused(`${head}timeout: 31m\n${start}${check}`, 'timeout: 31m is outside 1ms..30m');
    refused(`${head}lab:\n  cpus: 2\n${start}${check}`, 'lab: unknown field "cpus" (fields: exit_deadline)');
    refused(`${head}steps: []\n${check}`, 'steps: must be a non-empty list');
    refused(`${head}steps:\n  - wait: x\n${check}`, 'steps[0]: no VM started before it (start one first)');
    refused(`${head}steps:\n  - start: none.yaml\n${check}`, `steps[0].start: ${join(dir, 'none.yaml')}: no such file`);
    refused(`${head}${start}  - start: vm.yaml\n${check}`, 'steps[1].start: VM "tick" is already started by an earlier step');
    refused(`${head}${start}  - wait: x\n    vm: other\n${check}`, 'steps[1].vm: "other" is not started by an earlier step (started: tick)');
    refused(`${head}${start}  - wait: '(x'\n${check}`, 'steps[1].wait: Invalid regular expression');
    refused(`${head}${start}  - wait: x\n    sleep: 1s\n${check}`, 'steps[1]: must have exactly one of start, wait, sleep, fault, exits (has wait, sleep)');
    refused(`${head}${start}  - sleep: 1s\n    vm: tick\n${check}`, 'steps[1]: "vm" does not go with sleep');
    refused(`${head}${start}  - fault: kill hypervisor\n${check}`, 'steps[1].fault: service: "hypervisor" is not a service of this lab');
    refused(`${head}${start}  - fault: kill cpu --for 3s\n${check}`, 'steps[1].fault: for: only stop takes a duration (kill is at once)');
    refused(`${head}${start}  - fault: add cpu:mmu slow\n${check}`, 'steps[1].fault: kind: "slow" is not a fault kind');
    refused(`${head}${start}  - fault: add doorbell:* drop 150%\n${check}`, 'steps[1].fault: drop: probability "150%" is not in (0, 1]');
    refused(`${head}${start}  - fault: reboot cpu\n${check}`, 'steps[1].fault: "reboot" is not a fault action');
    refused(`${head}${start}checks: []\n`, 'checks: must be a non-empty list');
    refused(`${head}${start}checks:\n  - state: paused\n`, 'checks[0].state: "paused" is not running or poweroff');
    refused(`${head}${start}checks:\n  - count: lost\n    line: 'lost \\d+'\n    equals: 0\n`, 'checks[0].line: needs a capture group around the number');
    refused(`${head}${start}checks:\n  - count: lost\n    line: 'lost (\\d+)'\n    equals: none\n`, 'checks[0].equals: must be a whole number, not "none"');
    refused(`${head}${start}checks:\n  - p50_shift:\n    from: a\n    to: b\n    max: 1s\n`, 'checks[0].from: "a" is not an exits label of a step (none)');
    refused(`${head}${start}checks:\n  - consecutive: 'tick (\\d+)'\n    vm: nope\n`, 'checks[0].vm: "nope" is not started by an earlier step');
    refused(`${head}${start}checks:\n  - console: x\n    equals: 1\n`, 'checks[0]: "equals" does not go with console');
    refused(`- just\n- a list\n`, 'not a mapping of fields');
  });
});

describe('the reliability table', () => {
  it('one row per run: the first fault, what the guest saw, what it counted lost, the load', () => {
    const r: ExerciseResult = {
      name: 'io-backend-kill-writes',
      title: 't',
      pass: true,
      startedAt: 0,
      durationMs: 61_500,
      loadAverage: [1.25, 1, 1],
      exitDeadlineMs: 10_000,
      timeline: [],
      faults: [{ at: 5000, text: 'killed io-backend (pid 7, SIGKILL); the supervisor restarts it', longestSilenceMs: 3210, recoveredAfterMs: 3200 }],
      guestSaid: {},
      exitsP50Ms: {},
      vmEnd: {},
      checks: [
        { ok: true, text: 'acknowledged writes lost = 0' },
        { ok: true, text: 'diskcheck said "diskcheck: pass"' },
      ],
      error: undefined,
    };
    const link = {
      ...r,
      name: 'cpu-io-latency',
      pass: false,
      faults: [
        {
          at: 1,
          text: 'f1: latency 200ms on cpu:io-backend for 60s (until 2026-12-05T21:56:08.130Z)',
          longestSilenceMs: undefined,
          recoveredAfterMs: undefined,
        },
      ],
      checks: [{ ok: false, text: 'lost = 2 (must be 0)' }],
    };
    expect(formatSummary([r, link]).split('\n')).toEqual([
      '| exercise | result | fault | longest console silence | progress again after | lost (guest-counted) | run | load |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      '| io-backend-kill-writes | pass | killed io-backend (pid 7, SIGKILL); the supervisor restarts it | 3.21 s | 3.20 s | acknowledged writes lost = 0 | 61.50 s | 1.25 |',
      '| cpu-io-latency | FAIL | latency 200ms on cpu:io-backend for 60s | - | - | lost = 2 | 61.50 s | 1.25 |',
      '',
    ]);
  });
});
