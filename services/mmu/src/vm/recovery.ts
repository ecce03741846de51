// After an mmu restart the directory is empty, but holders may still hold pages it granted
// before: until each of them re-registers (or the grace time passes), nobody else may
// touch the VM's memory, or a device could read bytes older than a holder's Modified copy.

export interface RecoveryEnd {
  reregistered: string[];
  missing: string[];
}

interface Waiting {
  holders: Set<string>;
  reregistered: string[];
  done: Promise<void>;
  finish: () => void;
  timer: NodeJS.Timeout;
}

export class Recovery {
  private w: Waiting | undefined;

  /** Waits for `holders` (none: no recovery); `onEnd` hears how it ended, once. */
  constructor(
    holders: readonly string[],
    graceMs: number,
    private readonly onEnd: (how: RecoveryEnd) => void,
  ) {
    if (holders.length === 0) return;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const timer = setTimeout(() => this.end(), graceMs);
    timer.unref();
    this.w = { holders: new Set(holders), reregistered: [], done, finish, timer };
  }

  get active(): boolean {
    return this.w !== undefined;
  }

  /** Waits out the recovery unless `holder` is one being waited for (its own cache knows
   *  what it holds; stopping it would stop the re-registration too). */
  async wait(holder?: string): Promise<void> {
    const w = this.w;
    if (!w || (holder !== undefined && w.holders.has(holder))) return;
    await w.done;
  }

  /** `holder` has told what it holds (or that it holds nothing): no more waiting for it. */
  heard(holder: string): void {
    const w = this.w;
    if (w?.holders.delete(holder)) {
      w.reregistered.push(holder);
      if (w.holders.size === 0) this.end();
    }
  }

  private end(): void {
    const w = this.w;
    if (!w) return;
    this.w = undefined;
    clearTimeout(w.timer);
    this.onEnd({ reregistered: w.reregistered, missing: [...w.holders] });
    w.finish();
  }

  /** The VM is going away: let waiters go, tell no one. */
  abandon(): void {
    if (this.w) clearTimeout(this.w.timer);
    this.w?.finish();
    this.w = undefined;
  }

  /** mmu stops: no timer may keep the process, the VM stays as it is. */
  stopTimer(): void {
    if (this.w) clearTimeout(this.w.timer);
  }
}
