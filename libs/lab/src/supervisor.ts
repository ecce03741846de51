// `splitvisor up`'s supervisor: a lab service that dies without being asked to is started
// again after a backoff (compose's `restart: unless-stopped`), and every death and restart
// is told and counted. Only the lab's own stop ends it: a service the lab stops is not
// restarted. The supervisor sits beside the Lab, which stays a plain launcher for the tests
// that kill and restart services by hand.
import type { Lab, ServiceProcess } from './lab.js';
import { Backoff, DEFAULT_RESTART_POLICY, type RestartPolicy } from './restart-policy.js';
import type { InstanceName } from './services.js';
import { FaultError, formatDuration, type ProcessFault } from '@splitvisor/faults';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** When it exited (ms since the epoch) and how long it had been up. */
  at: number;
  upMs: number;
}

/** One service as the supervisor sees it: what `splitvisor health`, `list` and `top` show. */
export interface ServiceStatus {
  name: InstanceName;
  /** frozen: stopped by `splitvisor fault stop` (SIGSTOP) until `frozenUntil`. */
  state: 'up' | 'restarting' | 'frozen';
  pid: number | undefined;
  /** Restarts so far (each start after the first, successful or not). */
  restarts: number;
  /** Since when the current process has been up. */
  upSince: number;
  lastExit?: ExitInfo;
  /** While frozen: when the supervisor sends SIGCONT by itself. */
  frozenUntil?: number;
}

export type SupervisorEvent =
  | { kind: 'exited'; name: InstanceName; exit: ExitInfo; restart: number; delayMs: number }
  | { kind: 'restarted'; name: InstanceName; pid: number | undefined; restart: number }
  | { kind: 'restart-failed'; name: InstanceName; restart: number; error: string }
  /** A process fault was applied (`splitvisor fault`), or a freeze's deadline came. */
  | { kind: 'fault'; name: InstanceName | 'nats'; message: string };

export interface SupervisorOptions {
  policy?: RestartPolicy;
  onEvent?: (e: SupervisorEvent, status: readonly ServiceStatus[]) => void;
}

/** How an exit reads in a log line: "code 3" or "signal SIGKILL". */
export function describeExit(e: Pick<ExitInfo, 'code' | 'signal'>): string {
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}

interface Watched {
  status: ServiceStatus;
  backoff: Backoff;
  timer?: NodeJS.Timeout;
  /** The SIGCONT a freeze's deadline sends. */
  thaw?: NodeJS.Timeout;
  /** Stopped on purpose (`fault restart`): its exit is not a crash to restart after a backoff. */
  restarting?: boolean;
}

export class Supervisor {
  private readonly watched = new Map<InstanceName, Watched>();
  private stopped = false;
  private natsRestarting = false;

  constructor(
    private readonly lab: Lab,
    private readonly opts: SupervisorOptions = {},
  ) {}

  /** Watches every service the lab runs now. */
  start(): void {
    for (const proc of this.lab.services.values()) {
      const w: Watched = {
        status: { name: proc.name, state: 'up', pid: proc.child.pid, restarts: 0, upSince: Date.now() },
        backoff: new Backoff(this.opts.policy ?? DEFAULT_RESTART_POLICY),
      };
      this.watched.set(proc.name, w);
      this.watch(w, proc);
    }
  }

  /** No more restarts (the lab is about to stop); a pending one is cancelled. */
  stop(): void {
    this.stopped = true;
    // A frozen service holds SIGTERM until it runs: let it go so the lab can stop it.
    for (const w of this.watched.values()) {
      clearTimeout(w.timer);
      this.thaw(w, true);
    }
  }

  status(): ServiceStatus[] {
    return [...this.watched.values()].map((w) => ({ ...w.status }));
  }

  private get active(): boolean {
    return !this.stopped && this.lab.running;
  }

  /**
   * A process fault on one of the lab's processes: `kill` (SIGKILL; the supervisor restarts
   * it as after any crash, counted), `stop` (SIGSTOP, as `docker pause`, with SIGCONT sent
   * by the supervisor itself at `forMs` whether anyone asks or not), `cont` (SIGCONT now),
   * `restart` (SIGTERM, waited for, then started again at once). Resolves with what was
   * done, in words; rejects with a FaultError when the process is not in a state for it.
   */
  async fault(f: ProcessFault): Promise<string> {
    if (this.lab.natsNodeNames.includes(f.service)) return this.natsFault(f);
    const name = f.service as InstanceName;
    const w = this.watched.get(name);
    const proc = this.lab.services.get(name);
    if (!w || !proc) throw new FaultError(`service: "${f.service}" is not a service of this lab (${[...this.watched.keys()].join(', ')})`);
    if (!this.active) throw new FaultError('the lab is stopping');
    if (w.status.state === 'restarting' || w.restarting) throw new FaultError(`${name} is restarting now; try again once it is up`);
    const pid = proc.child.pid;
    let message: string;
    switch (f.action) {
      case 'kill':
        this.thaw(w, false);
        proc.child.kill('SIGKILL');
        message = `killed ${name} (pid ${pid}, SIGKILL); the supervisor restarts it`;
        break;
      case 'stop': {
        if (w.status.state === 'frozen')
          throw new FaultError(`${name} is already frozen (until ${new Date(w.status.frozenUntil!).toISOString()}); cont it first`);
        const forMs = f.forMs!;
        proc.child.kill('SIGSTOP');
        w.status = { ...w.status, state: 'frozen', frozenUntil: Date.now() + forMs };
        w.thaw = setTimeout(() => {
          if (w.status.state !== 'frozen') return;
          this.thaw(w, true);
          this.emit({ kind: 'fault', name, message: `${name} (pid ${pid}) thawed: its ${formatDuration(forMs)} freeze ended (SIGCONT)` });
        }, forMs);
        message = `froze ${name} (pid ${pid}, SIGSTOP) for ${formatDuration(forMs)}; SIGCONT then`;
        break;
      }
      case 'cont':
        if (w.status.state !== 'frozen') throw new FaultError(`${name} is not frozen (it is ${w.status.state})`);
        this.thaw(w, true);
        message = `thawed ${name} (pid ${pid}, SIGCONT)`;
        break;
      case 'restart': {
        w.restarting = true;
        try {
          // A frozen process holds its SIGTERM until it runs again.
          this.thaw(w, true);
          const t0 = Date.now();
          const x = await this.lab.signalService(name, 'SIGTERM');
          if (!this.active) throw new FaultError('the lab is stopping');
          const at = Date.now();
          w.status = { ...w.status, state: 'restarting', pid: undefined, lastExit: { ...x, at, upMs: at - w.status.upSince }, restarts: w.status.restarts + 1 };
          const next = await this.lab.startService(name);
          w.status = { ...w.status, state: 'up', pid: next.child.pid, upSince: Date.now() };
          this.watch(w, next);
          message = `restarted ${name}: pid ${pid} stopped (${describeExit(x)}), pid ${next.child.pid} serving, in ${formatDuration(Date.now() - t0)}`;
        } finally {
          w.restarting = false;
        }
        break;
      }
    }
    this.emit({ kind: 'fault', name, message });
    return message;
  }

  /** The processes a fault may name: the services, and NATS when the lab started it. */
  faultTargets(): string[] {
    return [...this.watched.keys(), ...this.lab.natsNodeNames];
  }

  /** NATS is the lab's, not a service: a lone server killed (a crash) or restarted is put
   *  back at once on the same port and store. A cluster's node killed stays down, as a lost
   *  host does, while the others carry on; restart brings it back. A freeze of the bus is
   *  not offered. */
  private async natsFault(f: ProcessFault): Promise<string> {
    const node = f.service;
    if (f.action !== 'kill' && f.action !== 'restart') throw new FaultError(`${node}: only kill and restart (not ${f.action})`);
    if (!this.active) throw new FaultError('the lab is stopping');
    if (this.natsRestarting) throw new FaultError('nats is restarting now; try again once it is up');
    this.natsRestarting = true;
    try {
      const t0 = Date.now();
      let message: string;
      if (f.action === 'kill' && node !== 'nats') {
        const { oldPid } = await this.lab.killNatsNode(node).catch((e: Error) => {
          throw new FaultError(e.message);
        });
        message = `killed ${node} (pid ${oldPid}, SIGKILL); it stays down, the cluster goes on (fault restart ${node} brings it back)`;
      } else {
        const { oldPid, pid } = await this.lab.restartNats(f.action, node);
        const was = oldPid === undefined ? 'down' : `pid ${oldPid}, ${f.action === 'kill' ? 'SIGKILL' : 'SIGTERM'}`;
        message = `${f.action === 'kill' ? 'killed' : 'restarted'} ${node} (${was}); pid ${pid} serving on the same port and store in ${formatDuration(Date.now() - t0)}`;
      }
      this.emit({ kind: 'fault', name: 'nats', message });
      return message;
    } finally {
      this.natsRestarting = false;
    }
  }

  /** Ends a freeze: SIGCONT unless `signal` is false (the process is about to die anyway). */
  private thaw(w: Watched, signal: boolean): void {
    clearTimeout(w.thaw);
    w.thaw = undefined;
    if (w.status.state !== 'frozen') return;
    if (signal) this.lab.services.get(w.status.name)?.child.kill('SIGCONT');
    const { frozenUntil: _, ...rest } = w.status;
    w.status = { ...rest, state: 'up' };
  }

  private watch(w: Watched, proc: ServiceProcess): void {
    void proc.exited.then(({ code, signal }) => {
      if (!this.active || this.lab.services.get(w.status.name) !== proc || w.restarting) return;
      this.thaw(w, false);
      const at = Date.now();
      const exit: ExitInfo = { code, signal, at, upMs: at - w.status.upSince };
      this.schedule(w, exit);
    });
  }

  private schedule(w: Watched, exit: ExitInfo): void {
    const delayMs = w.backoff.delayAfter(exit.upMs);
    w.status = { ...w.status, state: 'restarting', pid: undefined, lastExit: exit, restarts: w.status.restarts + 1 };
    this.emit({ kind: 'exited', name: w.status.name, exit, restart: w.status.restarts, delayMs });
    w.timer = setTimeout(() => void this.restart(w), delayMs);
  }

  private async restart(w: Watched): Promise<void> {
    if (!this.active) return;
    const t0 = Date.now();
    try {
      const proc = await this.lab.startService(w.status.name);
      if (!this.active) return;
      w.status = { ...w.status, state: 'up', pid: proc.child.pid, upSince: Date.now() };
      this.emit({ kind: 'restarted', name: w.status.name, pid: proc.child.pid, restart: w.status.restarts });
      this.watch(w, proc);
    } catch (e) {
      if (!this.active) return;
      this.emit({ kind: 'restart-failed', name: w.status.name, restart: w.status.restarts, error: (e as Error).message });
      // startService killed what it started: its exit is this attempt's.
      const proc = this.lab.services.get(w.status.name);
      const x = proc ? await proc.exited : { code: null, signal: null };
      if (!this.active) return;
      const at = Date.now();
      this.schedule(w, { ...x, at, upMs: at - t0 });
    }
  }

  private emit(e: SupervisorEvent): void {
    this.opts.onEvent?.(e, this.status());
  }
}
