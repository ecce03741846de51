// The exercise catalog (`exercises/*.yaml`): each file is one fault-injection exercise, a
// schedule of steps (start a VM, wait for a line on its console, inject a fault, sample its
// exits) and the checks of what the guest saw. Everything is read and checked before a lab
// starts: a malformed exercise is refused with the file, the step and the field it got wrong.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FaultError, PROCESS_ACTIONS, SERVICES, boundedDuration, checkProcessFault, parseFault } from '@splitvisor/faults';
import { REPO_ROOT } from '@splitvisor/lab';

export const EXERCISES_DIR = join(REPO_ROOT, 'exercises');

/** The longest an exercise may run, and a step may wait, before it fails. */
const MAX_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_WAIT_MS = 60_000;

export type Step =
  | { kind: 'start'; vm: string; config: string }
  /** A console line of `vm` matching `line` (seen before or after the step began). */
  | { kind: 'wait'; vm: string; line: RegExp; text: string; withinMs: number }
  | { kind: 'sleep'; ms: number }
  /** The words of `splitvisor fault ...` (a process fault or `add <link> <kind> ...`). */
  | { kind: 'fault'; words: string[] }
  /** The VM's exit p50 (cpu stats) recorded under a label, for `p50_shift`. */
  | { kind: 'exits'; vm: string; label: string };

export type Check =
  /** `vm` printed a line matching `line`. */
  | { kind: 'console'; vm: string; line: RegExp; text: string }
  /** The first capture of `line` on `vm`'s console is a number that must equal `equals`. */
  | { kind: 'count'; vm: string; name: string; line: RegExp; text: string; equals: number }
  /** Every number captured by `line` on `vm`'s console is the one before it plus 1, from 1. */
  | { kind: 'consecutive'; vm: string; line: RegExp; text: string }
  /** The exit p50 of `to` minus that of `from`, in ms, within [min, max]. */
  | { kind: 'p50_shift'; from: string; to: string; minMs: number; maxMs: number }
  /** `vm`'s state at the end (`running`, or how it ended: `poweroff` with code 0). */
  | { kind: 'state'; vm: string; state: 'running' | 'poweroff' };

export interface Exercise {
  name: string;
  title: string;
  file: string;
  /** The lab's cpu waits this long for one exit before it fails the VM. */
  exitDeadlineMs: number | undefined;
  timeoutMs: number;
  /** Files made fresh (sparse, zero) before the lab starts and removed after: a guest's
   *  scratch disk. */
  scratch: { path: string; bytes: number }[];
  /** A console line that means the guest is making progress (recovery is the first after a fault). */
  progress: { vm: string; line: RegExp; text: string } | undefined;
  steps: Step[];
  checks: Check[];
}

export class ExerciseError extends Error {}

type Raw = Record<string, unknown>;

function isRecord(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads one exercise file; throws an ExerciseError naming the file and the field. */
export function loadExercise(file: string): Exercise {
  const where = (field: string) => `${file}: ${field}`;
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ExerciseError(where((e as Error).message.split('\n')[0]!));
  }
  if (!isRecord(doc)) throw new ExerciseError(where('not a mapping of fields'));
  const known = ['name', 'title', 'lab', 'timeout', 'scratch', 'progress', 'steps', 'checks'];
  for (const k of Object.keys(doc)) if (!known.includes(k)) throw new ExerciseError(where(`unknown field "${k}" (fields: ${known.join(', ')})`));
  const str = (v: unknown, field: string): string => {
    if (typeof v !== 'string' || v.trim() === '') throw new ExerciseError(where(`${field}: must be a non-empty string, not ${JSON.stringify(v)}`));
    return v;
  };
  const duration = (v: unknown, field: string, max = MAX_TIMEOUT_MS): number => {
    try {
      return boundedDuration(str(v, field), field, 1, max);
    } catch (e) {
      throw e instanceof FaultError ? new ExerciseError(where(e.message)) : e;
    }
  };
  const regex = (v: unknown, field: string): RegExp => {
    const text = str(v, field);
    try {
      return new RegExp(text);
    } catch (e) {
      throw new ExerciseError(where(`${field}: ${(e as Error).message}`));
    }
  };

  const name = str(doc['name'], 'name');
  if (name !== basename(file, '.yaml')) throw new ExerciseError(where(`name: "${name}" is not the file's name (${basename(file, '.yaml')})`));
  const title = str(doc['title'], 'title');
  let exitDeadlineMs: number | undefined;
  if (doc['lab'] !== undefined) {
    const lab = doc['lab'];
    if (!isRecord(lab)) throw new ExerciseError(where('lab: must be a mapping (exit_deadline)'));
    for (const k of Object.keys(lab)) if (k !== 'exit_deadline') throw new ExerciseError(where(`lab: unknown field "${k}" (fields: exit_deadline)`));
    if (lab['exit_deadline'] !== undefined) exitDeadlineMs = duration(lab['exit_deadline'], 'lab.exit_deadline', 10 * 60_000);
  }
  const timeoutMs = doc['timeout'] === undefined ? DEFAULT_TIMEOUT_MS : duration(doc['timeout'], 'timeout');
  const scratch = (() => {
    const list = doc['scratch'] ?? [];
    if (!Array.isArray(list)) throw new ExerciseError(where('scratch: must be a list of {path, size}'));
    return list.map((f: unknown, i: number) => {
      const field = `scratch[${i}]`;
      if (!isRecord(f)) throw new ExerciseError(where(`${field}: must be a mapping (path, size)`));
      for (const k of Object.keys(f)) if (k !== 'path' && k !== 'size') throw new ExerciseError(where(`${field}: unknown field "${k}" (fields: path, size)`));
      const size = str(f['size'], `${field}.size`);
      const m = /^(\d+)(K|M)$/.exec(size);
      const bytes = m ? Number(m[1]) * (m[2] === 'K' ? 1024 : 1024 * 1024) : NaN;
      if (!(bytes >= 512 && bytes <= 1024 ** 3)) throw new ExerciseError(where(`${field}.size: "${size}" is not a size from 1K to 1024M (e.g. 4M)`));
      return { path: resolve(dirname(file), str(f['path'], `${field}.path`)), bytes };
    });
  })();

  // Steps: each is a mapping with one key (its kind), plus `vm`/`within` where they apply.
  if (!Array.isArray(doc['steps']) || doc['steps'].length === 0) throw new ExerciseError(where('steps: must be a non-empty list'));
  const vms = new Set<string>();
  let firstVm: string | undefined;
  const vmOf = (s: Raw, field: string): string => {
    const vm = s['vm'] === undefined ? firstVm : str(s['vm'], `${field}.vm`);
    if (vm === undefined) throw new ExerciseError(where(`${field}: no VM started before it (start one first)`));
    if (!vms.has(vm)) throw new ExerciseError(where(`${field}.vm: "${vm}" is not started by an earlier step (started: ${[...vms].join(', ') || 'none'})`));
    return vm;
  };
  const labels = new Set<string>();
  const steps: Step[] = doc['steps'].map((s: unknown, i: number): Step => {
    const field = `steps[${i}]`;
    if (!isRecord(s)) throw new ExerciseError(where(`${field}: must be a mapping (start, wait, sleep, fault or exits)`));
    const kinds = ['start', 'wait', 'sleep', 'fault', 'exits'].filter((k) => k in s);
    if (kinds.length !== 1)
      throw new ExerciseError(where(`${field}: must have exactly one of start, wait, sleep, fault, exits (has ${kinds.join(', ') || 'none'})`));
    const kind = kinds[0]!;
    const allowed = { start: ['start'], wait: ['wait', 'vm', 'within'], sleep: ['sleep'], fault: ['fault'], exits: ['exits', 'vm'] }[kind]!;
    for (const k of Object.keys(s)) if (!allowed.includes(k)) throw new ExerciseError(where(`${field}: "${k}" does not go with ${kind}`));
    switch (kind) {
      case 'start': {
        const config = resolve(dirname(file), str(s['start'], `${field}.start`));
        const vm = vmNameOf(config, `${field}.start`, where);
        if (vms.has(vm)) throw new ExerciseError(where(`${field}.start: VM "${vm}" is already started by an earlier step`));
        vms.add(vm);
        firstVm ??= vm;
        return { kind: 'start', vm, config };
      }
      case 'wait': {
        const text = str(s['wait'], `${field}.wait`);
        const withinMs = s['within'] === undefined ? DEFAULT_WAIT_MS : duration(s['within'], `${field}.within`);
        return { kind: 'wait', vm: vmOf(s, field), line: regex(text, `${field}.wait`), text, withinMs };
      }
      case 'sleep':
        return { kind: 'sleep', ms: duration(s['sleep'], `${field}.sleep`, 10 * 60_000) };
      case 'fault': {
        const words = str(s['fault'], `${field}.fault`).trim().split(/\s+/);
        checkFaultWords(words, `${field}.fault`, where);
        return { kind: 'fault', words };
      }
      default: {
        const label = str(s['exits'], `${field}.exits`);
        if (labels.has(label)) throw new ExerciseError(where(`${field}.exits: label "${label}" is used twice`));
        labels.add(label);
        return { kind: 'exits', vm: vmOf(s, field), label };
      }
    }
  });

  const progress = (() => {
    const p = doc['progress'];
    if (p === undefined) return undefined;
    if (!isRecord(p)) throw new ExerciseError(where('progress: must be a mapping (line, vm)'));
    const text = str(p['line'], 'progress.line');
    return { vm: vmOf(p, 'progress'), line: regex(text, 'progress.line'), text };
  })();

  if (!Array.isArray(doc['checks']) || doc['checks'].length === 0)
    throw new ExerciseError(where('checks: must be a non-empty list (an exercise checks what the guest saw)'));
  const checks: Check[] = doc['checks'].map((c: unknown, i: number): Check => {
    const field = `checks[${i}]`;
    if (!isRecord(c)) throw new ExerciseError(where(`${field}: must be a mapping`));
    const kinds = ['console', 'count', 'consecutive', 'p50_shift', 'state'].filter((k) => k in c);
    if (kinds.length !== 1)
      throw new ExerciseError(where(`${field}: must have exactly one of console, count, consecutive, p50_shift, state (has ${kinds.join(', ') || 'none'})`));
    const kind = kinds[0]!;
    const allowed = {
      console: ['console', 'vm'],
      count: ['count', 'line', 'equals', 'vm'],
      consecutive: ['consecutive', 'vm'],
      p50_shift: ['p50_shift', 'from', 'to', 'min', 'max'],
      state: ['state', 'vm'],
    }[kind]!;
    for (const k of Object.keys(c)) if (!allowed.includes(k)) throw new ExerciseError(where(`${field}: "${k}" does not go with ${kind}`));
    switch (kind) {
      case 'console': {
        const text = str(c['console'], `${field}.console`);
        return { kind: 'console', vm: vmOf(c, field), line: regex(text, `${field}.console`), text };
      }
      case 'count': {
        const text = str(c['line'], `${field}.line`);
        const line = regex(text, `${field}.line`);
        if (!/\((?!\?)/.test(text)) throw new ExerciseError(where(`${field}.line: needs a capture group around the number`));
        const equals = c['equals'];
        if (typeof equals !== 'number' || !Number.isInteger(equals))
          throw new ExerciseError(where(`${field}.equals: must be a whole number, not ${JSON.stringify(equals)}`));
        return { kind: 'count', vm: vmOf(c, field), name: str(c['count'], `${field}.count`), line, text, equals };
      }
      case 'consecutive': {
        const text = str(c['consecutive'], `${field}.consecutive`);
        if (!/\((?!\?)/.test(text)) throw new ExerciseError(where(`${field}.consecutive: needs a capture group around the number`));
        return { kind: 'consecutive', vm: vmOf(c, field), line: regex(text, `${field}.consecutive`), text };
      }
      case 'p50_shift': {
        const from = str(c['from'], `${field}.from`);
        const to = str(c['to'], `${field}.to`);
        for (const [k, l] of [
          ['from', from],
          ['to', to],
        ] as const)
          if (!labels.has(l)) throw new ExerciseError(where(`${field}.${k}: "${l}" is not an exits label of a step (${[...labels].join(', ') || 'none'})`));
        const minMs = c['min'] === undefined ? 0 : durationOrZero(c['min'], `${field}.min`, where);
        const maxMs = durationOrZero(c['max'], `${field}.max`, where);
        if (minMs > maxMs) throw new ExerciseError(where(`${field}: min is more than max`));
        return { kind: 'p50_shift', from, to, minMs, maxMs };
      }
      default: {
        const state = c['state'];
        if (state !== 'running' && state !== 'poweroff') throw new ExerciseError(where(`${field}.state: "${String(state)}" is not running or poweroff`));
        return { kind: 'state', vm: vmOf(c, field), state };
      }
    }
  });
  return { name, title, file, exitDeadlineMs, timeoutMs, scratch, progress, steps, checks };
}

function durationOrZero(v: unknown, field: string, where: (f: string) => string): number {
  if (v === '0' || v === 0) return 0;
  try {
    if (typeof v !== 'string') throw new FaultError(`${field}: must be a duration (e.g. 200ms), not ${JSON.stringify(v)}`);
    return boundedDuration(v, field, 1, 10 * 60_000);
  } catch (e) {
    throw e instanceof FaultError ? new ExerciseError(where(e.message)) : e;
  }
}

/** A VM config's `name:` (exercises address VMs by it). */
function vmNameOf(config: string, field: string, where: (f: string) => string): string {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(config, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message.split('\n')[0];
    throw new ExerciseError(where(`${field}: ${config}: ${why}`));
  }
  const name = isRecord(doc) ? doc['name'] : undefined;
  if (typeof name !== 'string') throw new ExerciseError(where(`${field}: ${config} has no name`));
  return name;
}

/** A fault step is checked as `splitvisor fault` would check it, before the lab starts. */
function checkFaultWords(words: string[], field: string, where: (f: string) => string): void {
  try {
    const [action, ...rest] = words;
    if ((PROCESS_ACTIONS as readonly string[]).includes(action ?? '')) {
      const forAt = rest.indexOf('--for');
      const forText = forAt >= 0 ? rest[forAt + 1] : undefined;
      const args = forAt >= 0 ? [...rest.slice(0, forAt), ...rest.slice(forAt + 2)] : rest;
      if (args.length !== 1) throw new FaultError(`${action}: takes one service (${SERVICES.join(', ')})`);
      checkProcessFault({ action, service: args[0], ...(forText !== undefined && { for: forText }) }, [...SERVICES, 'nats']);
    } else if (action === 'add') {
      const at = (flag: string) => rest.indexOf(flag);
      const forAt = at('--for');
      const forText = forAt >= 0 ? rest[forAt + 1] : undefined;
      const plain = rest.filter(
        (_, j) => !(forAt >= 0 && (j === forAt || j === forAt + 1)) && !(at('--seed') >= 0 && (j === at('--seed') || j === at('--seed') + 1)),
      );
      parseFault(plain, forText);
    } else if (action === 'clear') {
      if (rest.length > 1) throw new FaultError(`clear: unexpected "${rest[1]}"`);
    } else {
      throw new FaultError(`"${action}" is not a fault action (${[...PROCESS_ACTIONS, 'add', 'clear'].join(', ')})`);
    }
  } catch (e) {
    throw e instanceof FaultError ? new ExerciseError(where(`${field}: ${e.message}`)) : e;
  }
}

/** Every exercise in the catalog, in name order; a malformed one is an error, not skipped. */
export function loadCatalog(dir = EXERCISES_DIR): Exercise[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.yaml'));
  } catch (e) {
    throw new ExerciseError(`${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`);
  }
  return names.sort().map((n) => loadExercise(join(dir, n)));
}

/** One exercise by name (or by path to its file). */
export function findExercise(nameOrFile: string, dir = EXERCISES_DIR): Exercise {
  if (nameOrFile.endsWith('.yaml')) return loadExercise(resolve(nameOrFile));
  if (!/^[a-z0-9-]{1,64}$/.test(nameOrFile)) throw new ExerciseError(`"${nameOrFile}" is not an exercise name (a-z 0-9 -) or a .yaml file`);
  const file = join(dir, `${nameOrFile}.yaml`);
  try {
    readFileSync(file);
  } catch {
    const known = (() => {
      try {
        return readdirSync(dir)
          .filter((n) => n.endsWith('.yaml'))
          .map((n) => n.slice(0, -5))
          .sort();
      } catch {
        return [];
      }
    })();
    throw new ExerciseError(`no exercise "${nameOrFile}" (${known.join(', ') || `none in ${dir}`})`);
  }
  return loadExercise(file);
}
