// Process faults (`splitvisor fault kill|stop|cont|restart <service>`): what the supervisor
// of `splitvisor up` is asked to do to one of its processes, checked before it is done.
import { boundedDuration } from './duration.js';
import { FaultError } from './errors.js';

export const PROCESS_ACTIONS = ['kill', 'stop', 'cont', 'restart'] as const;
export type ProcessAction = (typeof PROCESS_ACTIONS)[number];

/** A frozen process is let go after this unless `--for` says otherwise (as `docker pause`
 *  has no deadline, a forgotten one would hold the lab for ever: this one has). */
export const STOP_DEFAULT_MS = 10_000;
export const STOP_MAX_MS = 5 * 60_000;

export interface ProcessFault {
  action: ProcessAction;
  /** An instance of the lab: mmu, io-backend, cpu, cpu-2…, dom0. */
  service: string;
  /** stop only: when the supervisor sends SIGCONT by itself. */
  forMs?: number;
}

/** The wire form (a JSON line on the control socket) checked against the lab's services. */
export function checkProcessFault(raw: unknown, services: readonly string[]): ProcessFault {
  if (typeof raw !== 'object' || raw === null) throw new FaultError('request: not an object');
  const r = raw as Record<string, unknown>;
  const action = r['action'];
  if (typeof action !== 'string' || !(PROCESS_ACTIONS as readonly string[]).includes(action))
    throw new FaultError(`action: "${String(action)}" is not a process fault (${PROCESS_ACTIONS.join(', ')})`);
  const service = r['service'];
  if (typeof service !== 'string' || !services.includes(service))
    throw new FaultError(`service: "${String(service)}" is not a service of this lab (${services.join(', ')})`);
  const forText = r['for'];
  if (forText !== undefined && action !== 'stop') throw new FaultError(`for: only stop takes a duration (${action} is at once)`);
  if (action !== 'stop') return { action: action as ProcessAction, service };
  if (forText !== undefined && typeof forText !== 'string') throw new FaultError(`for: "${String(forText)}" is not a duration`);
  const forMs = forText === undefined ? STOP_DEFAULT_MS : boundedDuration(forText, 'for', 1, STOP_MAX_MS);
  return { action: 'stop', service, forMs };
}
