// Runs one exercise as a person at a terminal would: a private lab from `splitvisor up`
// (supervised, so a killed service comes back), and every step through the same commands
// (`create`, `start`, `console`, `fault`, `stats`, `list`) as child processes. Each console
// line, each fault and each word of the supervisor is kept with the time it came; the report
// is made from those alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CLI_MAIN, REPO_ROOT } from '@splitvisor/lab';
import type { Check, Exercise, Step } from './catalog.js';

export interface Line {
  at: number;
  text: string;
}

/** What happened, in order: steps done, faults injected, what the lab said. */
export interface TimelineEntry {
  at: number;
  kind: 'step' | 'fault' | 'lab' | 'error';
  text: string;
}

export interface CheckResult {
  ok: boolean;
  text: string;
}

export interface FaultWindow {
  /** When the fault was injected, and what the lab answered. */
  at: number;
  text: string;
  /** The guest's longest console silence from the fault to the end of the run. */
  longestSilenceMs: number | undefined;
  /** From the fault to the guest's first progress line after it (undefined: none came). */
  recoveredAfterMs: number | undefined;
}

export interface ExerciseResult {
  name: string;
  title: string;
  pass: boolean;
  startedAt: number;
  durationMs: number;
  loadAverage: [number, number, number];
  exitDeadlineMs: number | undefined;
  timeline: TimelineEntry[];
  faults: FaultWindow[];
  /** Per VM: the last few console lines (what the guest itself said at the end). */
  guestSaid: Record<string, string[]>;
  exitsP50Ms: Record<string, number>;
  /** Per VM: how it ended (`running` if it had not). */
  vmEnd: Record<string, string>;
  checks: CheckResult[];
  /** Why the schedule stopped early (a wait that timed out, a refused fault). */
  error: string | undefined;
}

interface Cli {
  code: number | null;
  stdout: string;
  stderr: string;
}

class StepFailed extends Error {}

/** The lab an exercise runs in: `splitvisor up --any-ports` in a private lab directory. */
class PrivateLab {
  readonly dir = mkdtempSync(join(tmpdir(), 'splitvisor-exercise-'));
  readonly env: NodeJS.ProcessEnv;
  readonly said: Line[] = [];
  private up: ChildProcess | undefined;

  constructor(exitDeadlineMs: number | undefined) {
    const env: NodeJS.ProcessEnv = { ...process.env, SPLITVISOR_LAB_DIR: this.dir };
    delete env['SPLITVISOR_DOM0_ADDR'];
    delete env['SPLITVISOR_NATS_URL'];
    delete env['SPLITVISOR_TLS_DIR'];
    if (exitDeadlineMs !== undefined) env['SPLITVISOR_EXIT_DEADLINE_MS'] = String(exitDeadlineMs);
    this.env = env;
  }

  spawnCli(args: string[]): ChildProcess {
    return spawn(process.execPath, [CLI_MAIN, ...args], { cwd: REPO_ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  cli(args: string[], timeoutMs = 120_000): Promise<Cli> {
    const child = this.spawnCli(args);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString('latin1')));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    return new Promise((resolve) =>
      child.on('exit', (code) => {
        clearTimeout(timer);
        setImmediate(() => resolve({ code, stdout, stderr }));
      }),
    );
  }

  async start(): Promise<void> {
    // --with-parent: should this runner be killed (a test's timeout), its lab goes too,
    // instead of running on beside whatever comes next.
    const up = this.spawnCli(['up', '--any-ports', '--quiet', '--with-parent']);
    this.up = up;
    eachLine(up.stderr!, (text) => this.said.push({ at: Date.now(), text: text.replace(/^splitvisor: /, '') }));
    const exited = new Promise<void>((resolve) => up.on('exit', () => resolve()));
    const end = Date.now() + 90_000;
    for (;;) {
      const state = this.state();
      if (state?.control && state.services?.length) return;
      const gone = await Promise.race([exited.then(() => true), sleep(100).then(() => false)]);
      if (gone) throw new Error(`the lab did not start: ${this.said.map((l) => l.text).join('; ') || 'up exited'}`);
      if (Date.now() > end) throw new Error(`the lab did not start within 90 s: ${this.said.map((l) => l.text).join('; ')}`);
    }
  }

  private state(): { control?: string; services?: unknown[] } | undefined {
    const f = join(this.dir, 'lab.json');
    if (!existsSync(f)) return undefined;
    try {
      return JSON.parse(readFileSync(f, 'utf8')) as { control?: string; services?: unknown[] };
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    const up = this.up;
    if (up && up.exitCode === null && up.signalCode === null) {
      const exited = new Promise<void>((resolve) => up.on('exit', () => resolve()));
      await this.cli(['down'], 40_000);
      await Promise.race([exited, sleep(35_000)]);
      up.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A VM's console as `splitvisor console <vm>` shows it, each line with when it came. */
class ConsoleWatch {
  readonly lines: Line[] = [];
  /** How the VM ended, as the console said when it closed ("ticker stopped: guest wrote ..."). */
  end: string | undefined;
  private readonly child: ChildProcess;
  private readonly ended: Promise<void>;

  constructor(lab: PrivateLab, vm: string) {
    this.child = lab.spawnCli(['console', vm]);
    eachLine(this.child.stdout!, (text) => this.lines.push({ at: Date.now(), text }), 'latin1');
    // Its last word on stderr names how the VM ended; lost/reconnected are about dom0.
    eachLine(this.child.stderr!, (text) => {
      const t = text.replace(/^splitvisor: /, '');
      if (!/^(lost dom0|reconnected to dom0|detached)/.test(t)) this.end = t;
    });
    this.ended = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }

  find(line: RegExp): Line | undefined {
    return this.lines.find((l) => line.test(l.text));
  }

  async close(): Promise<void> {
    this.child.kill('SIGINT');
    await Promise.race([this.ended, sleep(5000)]);
  }
}

function eachLine(stream: NodeJS.ReadableStream, fn: (text: string) => void, encoding: BufferEncoding = 'utf8'): void {
  let partial = '';
  stream.on('data', (b: Buffer) => {
    partial += b.toString(encoding);
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      fn(partial.slice(0, nl).replace(/\r$/, ''));
      partial = partial.slice(nl + 1);
    }
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RunOptions {
  /** Told each timeline entry as it happens (the live view). */
  onEntry?: (e: TimelineEntry, t0: number) => void;
}

export async function runExercise(ex: Exercise, opts: RunOptions = {}): Promise<ExerciseResult> {
  const t0 = Date.now();
  const timeline: TimelineEntry[] = [];
  const note = (kind: TimelineEntry['kind'], text: string, at = Date.now()) => {
    const e = { at, kind, text };
    timeline.push(e);
    opts.onEntry?.(e, t0);
  };
  const lab = new PrivateLab(ex.exitDeadlineMs);
  const consoles = new Map<string, ConsoleWatch>();
  const exits: Record<string, number> = {};
  const faults: { at: number; text: string }[] = [];
  const vmEnd: Record<string, string> = {};
  let error: string | undefined;
  const deadline = t0 + ex.timeoutMs;
  let reported = 0;
  const relay = setInterval(() => {
    while (reported < lab.said.length) {
      const l = lab.said[reported++]!;
      // The supervisor echoes each process fault it was asked for (the timeline has it from
      // the fault step); what it does by itself (a thaw at a deadline, a restart) stays.
      if (!/^lab up:|^mutual TLS|^fault: (killed|froze|restarted|thawed \S+ \(pid \d+, SIGCONT\))/.test(l.text)) note('lab', l.text, l.at);
    }
  }, 100);
  try {
    for (const f of ex.scratch) {
      mkdirSync(dirname(f.path), { recursive: true });
      rmSync(f.path, { force: true });
      writeFileSync(f.path, '');
      truncateSync(f.path, f.bytes);
    }
    await lab.start();
    note('step', 'lab up (splitvisor up --any-ports, private lab directory)');
    for (const step of ex.steps) {
      if (Date.now() > deadline) throw new StepFailed(`the exercise's timeout (${ex.timeoutMs / 1000} s) passed`);
      await runStep(step);
    }
  } catch (e) {
    error = (e as Error).message;
    note('error', error);
  } finally {
    // How each VM ended, before the consoles and the lab go; one that is to power off is
    // given a moment (its last line can come just before the poweroff does).
    for (const c of ex.checks) {
      const con = c.kind === 'state' && c.state === 'poweroff' ? consoles.get(c.vm) : undefined;
      for (let i = 0; con && con.end === undefined && i < 200; i++) await sleep(50);
    }
    for (const vm of consoles.keys()) vmEnd[vm] = await vmState(vm);
    for (const c of consoles.values()) await c.close();
    clearInterval(relay);
  }
  const lines = (vm: string) => consoles.get(vm)?.lines ?? [];
  const checks = error === undefined ? ex.checks.map((c) => check(c, lines, exits, vmEnd)) : [];
  await lab.stop();
  for (const f of ex.scratch) rmSync(f.path, { force: true });
  while (reported < lab.said.length) {
    const l = lab.said[reported++]!;
    if (/exited unexpectedly|restarted|thawed|failed/.test(l.text)) note('lab', l.text, l.at);
  }
  timeline.sort((a, b) => a.at - b.at);
  const progress = ex.progress;
  const windows: FaultWindow[] = faults.map((f) => {
    const vm = progress?.vm ?? consoles.keys().next().value;
    const after = vm === undefined ? [] : lines(vm).filter((l) => l.at >= f.at);
    const before =
      vm === undefined
        ? undefined
        : lines(vm)
            .filter((l) => l.at < f.at)
            .at(-1);
    let longest: number | undefined;
    let prev = before?.at ?? f.at;
    for (const l of after) {
      longest = Math.max(longest ?? 0, l.at - prev);
      prev = l.at;
    }
    const first = after.find((l) => !progress || progress.line.test(l.text));
    return { at: f.at, text: f.text, longestSilenceMs: longest, recoveredAfterMs: first ? first.at - f.at : undefined };
  });
  const guestSaid: Record<string, string[]> = {};
  for (const vm of consoles.keys())
    guestSaid[vm] = lines(vm)
      .slice(-4)
      .map((l) => l.text);
  const la = loadavg();
  return {
    name: ex.name,
    title: ex.title,
    pass: error === undefined && checks.every((c) => c.ok),
    startedAt: t0,
    durationMs: Date.now() - t0,
    loadAverage: [la[0]!, la[1]!, la[2]!],
    exitDeadlineMs: ex.exitDeadlineMs,
    timeline,
    faults: windows,
    guestSaid,
    exitsP50Ms: exits,
    vmEnd,
    checks,
    error,
  };

  async function ok(args: string[]): Promise<string> {
    const r = await lab.cli(args);
    if (r.code !== 0) throw new StepFailed(`splitvisor ${args.join(' ')}: ${(r.stderr.trim() || `exit ${r.code}`).replace(/^splitvisor: /, '')}`);
    return r.stdout;
  }

  async function vmState(vm: string): Promise<string> {
    const said = consoles.get(vm)?.end;
    if (said !== undefined) return said.replace(new RegExp(`^${vm} `), '');
    const r = await lab.cli(['list', '--json'], 30_000);
    if (r.code !== 0) return `unknown (list: ${r.stderr.trim()})`;
    const v = (JSON.parse(r.stdout) as { name: string; state: string; exitCode?: number; reason?: string }[]).find((x) => x.name === vm);
    if (!v) return 'gone (destroyed)';
    if (v.state === 'stopped') return `stopped (code ${v.exitCode ?? 0})${v.reason ? `: ${v.reason}` : ''}`;
    return v.reason ? `${v.state}: ${v.reason}` : v.state;
  }

  async function runStep(step: Step): Promise<void> {
    switch (step.kind) {
      case 'start': {
        await ok(['create', step.config]);
        consoles.set(step.vm, new ConsoleWatch(lab, step.vm));
        await ok(['start', step.vm]);
        note('step', `started ${step.vm} (${step.config.replace(`${REPO_ROOT}/`, '')})`);
        return;
      }
      case 'wait': {
        const con = consoles.get(step.vm)!;
        const until = Math.min(Date.now() + step.withinMs, deadline);
        for (;;) {
          const l = con.find(step.line);
          if (l) return note('step', `${step.vm} said "${l.text}"`, l.at);
          if (Date.now() > until)
            throw new StepFailed(
              `waited ${((Date.now() - (until - step.withinMs)) / 1000).toFixed(0)} s for /${step.text}/ on ${step.vm}; its last line: "${con.lines.at(-1)?.text ?? '(none)'}"`,
            );
          await sleep(50);
        }
      }
      case 'sleep':
        await sleep(Math.min(step.ms, Math.max(0, deadline - Date.now())));
        return;
      case 'fault': {
        const at = Date.now();
        const out = (await ok(['fault', ...step.words])).trim();
        // A clear or a cont ends a fault: it has no window of its own.
        if (step.words[0] !== 'clear' && step.words[0] !== 'cont') faults.push({ at, text: out });
        note('fault', out, at);
        return;
      }
      case 'exits': {
        const s = JSON.parse(await ok(['stats', step.vm])) as { cpu?: { mmioP50Us?: number; mmioSamples?: number | string } };
        const p50 = (s.cpu?.mmioP50Us ?? 0) / 1000;
        exits[step.label] = p50;
        note('step', `exits of ${step.vm} (${step.label}): p50 ${p50.toFixed(2)} ms over ${String(s.cpu?.mmioSamples ?? 0)} exits`);
        return;
      }
    }
  }
}

function check(c: Check, lines: (vm: string) => Line[], exits: Record<string, number>, vmEnd: Record<string, string>): CheckResult {
  switch (c.kind) {
    case 'console': {
      const l = lines(c.vm).find((x) => c.line.test(x.text));
      return { ok: !!l, text: l ? `${c.vm} said "${l.text}"` : `${c.vm} never said /${c.text}/` };
    }
    case 'count': {
      const m = lines(c.vm)
        .map((x) => c.line.exec(x.text))
        .find((x) => x);
      if (!m) return { ok: false, text: `${c.name}: ${c.vm} never said /${c.text}/` };
      const n = Number(m[1]);
      return { ok: n === c.equals, text: `${c.name} = ${n}${n === c.equals ? '' : ` (must be ${c.equals})`}` };
    }
    case 'consecutive': {
      const ns = lines(c.vm).flatMap((x) => {
        const m = c.line.exec(x.text);
        return m ? [Number(m[1])] : [];
      });
      const bad = ns.findIndex((n, i) => n !== i + 1);
      if (ns.length === 0) return { ok: false, text: `${c.vm} printed no /${c.text}/ lines` };
      return bad < 0
        ? { ok: true, text: `${c.vm}: ${ns.length} lines numbered 1..${ns.length}, none lost or repeated` }
        : {
            ok: false,
            text: `${c.vm}: line ${bad + 1} is numbered ${ns[bad]} (after ${bad === 0 ? 'none' : ns[bad - 1]}): ${ns[bad]! > bad + 1 ? 'lost' : 'repeated'}`,
          };
    }
    case 'p50_shift': {
      const shift = exits[c.to]! - exits[c.from]!;
      const ok = shift >= c.minMs && shift <= c.maxMs;
      return {
        ok,
        text: `exit p50 ${exits[c.from]!.toFixed(2)} ms (${c.from}) -> ${exits[c.to]!.toFixed(2)} ms (${c.to}): shift ${shift.toFixed(1)} ms${ok ? '' : `, outside ${c.minMs}..${c.maxMs} ms`}`,
      };
    }
    case 'state': {
      const end = vmEnd[c.vm] ?? 'unknown';
      // A clean poweroff: the guest wrote the finisher's pass value (code 0).
      const ok = c.state === 'running' ? end === 'running' : /^(is )?stopped( \(code 0\))?: guest wrote 0x5555\b/.test(end);
      return { ok, text: `${c.vm} ${end}${ok ? '' : ` (expected ${c.state === 'running' ? 'running' : 'poweroff with code 0'})`}` };
    }
  }
}
