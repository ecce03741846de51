// Who may touch one VM's memory besides mmu itself: the page caches ("holders") that may
// hold its pages and the device backends allowed to DMA. Both must survive an mmu restart
// (a restarted mmu waits for those holders, and keeps refusing other devices), so every
// change is handed to `persist` (meta.json in the service).

/** What a VM remembers across an mmu restart (besides its bytes). */
export interface VmPersisted {
  /** Holders that may hold pages: after a restart they must re-register. */
  holders: string[];
  /** Backends allowed to DMA. */
  devices: string[];
}

export class Roster {
  private readonly holders = new Set<string>();
  private readonly devices: Set<string>;

  constructor(
    devices: readonly string[],
    private readonly onChange?: (p: VmPersisted) => void,
  ) {
    this.devices = new Set(devices);
  }

  /** Holders found on disk: known again, nothing new to persist. */
  recoverHolders(names: readonly string[]): void {
    for (const h of names) this.holders.add(h);
  }

  addHolder(name: string): void {
    if (this.holders.has(name)) return;
    this.holders.add(name);
    this.persist();
  }

  /** The holders hold nothing any more (they let go, or never came back). */
  forgetHolders(names: Iterable<string>): void {
    for (const h of names) this.holders.delete(h);
    this.persist();
  }

  attach(backend: string): void {
    if (this.devices.has(backend)) return;
    this.devices.add(backend);
    this.persist();
  }

  detach(backend: string): boolean {
    const had = this.devices.delete(backend);
    if (had) this.persist();
    return had;
  }

  isAttached(backend: string): boolean {
    return this.devices.has(backend);
  }

  get attached(): string[] {
    return [...this.devices].sort();
  }

  private persist(): void {
    this.onChange?.({ holders: [...this.holders].sort(), devices: this.attached });
  }
}
