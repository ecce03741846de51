// A vCPU thread started before its VM exists, as a VMM keeps a process pool warm: a new
// thread costs ~50 ms before it runs a line of ours and ~70-100 ms more to load the hart's
// modules (the worker's import graph), all of it on a VM's way to its first instruction
// (`npm run bench -- dom0`: "StartVm answered -> first instruction fetched"). The spare
// does that while nothing waits for it, then idles in its event loop (no CPU) until a VM
// takes it and posts its init (worker.ts). Only the loading is done ahead: the thread's
// JIT is as cold as a new one's, and a thread serves one VM and ends with it.
//
// One spare at most, started with the cpu and again whenever a VM's thread ends: then a
// core was just freed, where starting it when a VM takes the spare would take a core from
// the boot that just began (and from whatever is measured in the seconds after it). VMs
// started together, or while others run, get new threads as before.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '@splitvisor/log';

/** The worker's script: dist/worker.js beside this file (or, from src under a test
 *  runner, the built one). */
export function workerUrl(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL(here.href.replace('/src/worker.js', '/dist/worker.js'));
  if (!existsSync(fileURLToPath(built))) throw new Error(`vCPU worker not built: ${fileURLToPath(built)} is missing`);
  return built;
}

export interface SpareWorkerStats {
  /** VMs given a spare thread, and VMs that had to start one (none was ready). */
  taken: number;
  started: number;
  /** Spares that ended before a VM took them (the next starts when a VM's thread ends). */
  lost: number;
}

export class SpareWorkers {
  private spare: Worker | undefined;
  private closed = false;
  readonly stats: SpareWorkerStats = { taken: 0, started: 0, lost: 0 };

  /** `enabled` false: every VM starts its own thread, as without this. */
  constructor(
    private readonly enabled: boolean,
    private readonly log: Logger,
  ) {
    this.startSpare();
  }

  /** A spare is up, or loading: the next take gets it. */
  get hasSpare(): boolean {
    return this.spare !== undefined;
  }

  /** A thread for a VM: the spare if one is up (or still loading), else a new one. The
   *  caller posts the VM's init to it and owns it from now on. */
  take(): { worker: Worker; spare: boolean } {
    const w = this.spare;
    this.spare = undefined;
    if (w === undefined) {
      this.stats.started++;
      return { worker: new Worker(workerUrl()), spare: false };
    }
    this.stats.taken++;
    w.removeAllListeners('error');
    w.removeAllListeners('exit');
    // A VM's thread keeps the process up until the VM is stopped, as before.
    w.ref();
    return { worker: w, spare: true };
  }

  /** A VM's thread ended: a core is free, so the next spare starts now (if none is up). */
  threadEnded(): void {
    this.startSpare();
  }

  /** Ends the spare (the cpu is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.spare;
    this.spare = undefined;
    if (w) await w.terminate();
  }

  private startSpare(): void {
    if (!this.enabled || this.closed || this.spare !== undefined) return;
    let w: Worker;
    try {
      w = new Worker(workerUrl());
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot start a spare vCPU thread; VMs start their own');
      return;
    }
    // Idle, it must not keep the cpu process up.
    w.unref();
    const gone = (why: string) => {
      if (this.spare !== w) return;
      this.spare = undefined;
      this.stats.lost++;
      this.log.warn({ why }, 'spare vCPU thread ended before a VM took it; the next VM starts its own');
    };
    w.on('error', (e) => gone(e.message));
    w.on('exit', (code) => gone(`exit code ${code}`));
    this.spare = w;
  }
}
