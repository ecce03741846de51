// The mmu's memory, without a network: the host pool and every VM's memory. The gRPC
// handlers adapt this class; tests and a one-process `splitvisor exec` can drive it
// directly.
//
// With a data dir each VM lives in <dataDir>/vms/<id>/ (meta.json, and the page store's
// ram.img + resident.map), so an mmu that crashed finds its VMs again on start: their
// bytes as last written back, their holders expected to re-register.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseVmId, type VmId } from '@splitvisor/platform';
import { AddressSpace, checkRamLayout, type SpaceOptions } from './address-space.js';
import { exhausted, exists, invalid, mib, missing } from './errors.js';
import type { FramePool } from './frame-pool.js';
import { FilePageStore } from './page-store.js';
import { checkPrivate } from './private-dir.js';
import { VmMemory, type Recaller, type VmPersisted } from './vm-memory.js';

export interface MmuTotals {
  vms: number;
  residentPages: number;
  poolFrames: number;
  /** Frames neither held nor reserved: what a new VM may still reserve. */
  freeFrames: number;
  /** Frames reserved by VMs at create, held yet or not. */
  reservedFrames: number;
}

export interface MmuOptions {
  /** Keep RAM in sparse files here, and snapshots; without it RAM is memory only. */
  dataDir?: string;
  recaller?: Recaller;
  /** Boot id handed to holders with every grant; random by default. */
  epoch?: string;
  /** After a restart, how long to wait for holders to re-register before going on. */
  recoveryGraceMs?: number;
  /** Told about VMs found on disk, recoveries ended, files it could not read. */
  onEvent?: (msg: string, fields: Record<string, unknown>) => void;
}

interface Meta extends VmPersisted {
  vmId: string;
  ramBase: number;
  ramSize: number;
  limitPages: number;
}

/** The one VmId parser, its refusal in the memory logic's own terms (`invalid`). */
export function validVmId(id: string, field = 'vmId'): VmId {
  try {
    return parseVmId(id, field);
  } catch (e) {
    throw invalid((e as Error).message);
  }
}

export class Mmu {
  private readonly vms = new Map<string, VmMemory>();
  readonly epoch: string;

  constructor(
    readonly pool: FramePool,
    private readonly opts: MmuOptions = {},
  ) {
    this.epoch = opts.epoch ?? `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    if (opts.dataDir) {
      mkdirSync(join(opts.dataDir, 'vms'), { recursive: true, mode: 0o700 });
      mkdirSync(join(opts.dataDir, 'snapshots'), { recursive: true, mode: 0o700 });
    }
  }

  get dataDir(): string | undefined {
    return this.opts.dataDir;
  }

  private vmDir(vmId: string): string {
    return join(this.opts.dataDir!, 'vms', vmId);
  }

  private writeMeta(meta: Meta): void {
    const dir = this.vmDir(meta.vmId);
    const tmp = join(dir, 'meta.json.tmp');
    writeFileSync(tmp, JSON.stringify(meta, null, 2) + '\n');
    renameSync(tmp, join(dir, 'meta.json'));
  }

  /** Opens a VM's memory, its RAM reserved whole in the pool first (admission: frames are
   *  then taken from its own reservation, never from another VM's). */
  private open(meta: Meta, recovering: readonly string[]): VmMemory {
    const pageCount = meta.ramSize / 4096;
    if (!this.pool.reserveFor(meta.vmId, meta.limitPages)) throw exhausted(this.refusal(meta.vmId, meta.limitPages * 4096));
    let store: FilePageStore | undefined;
    let space: AddressSpace;
    try {
      store = this.opts.dataDir ? new FilePageStore(this.vmDir(meta.vmId), pageCount) : undefined;
      space = new AddressSpace(meta.vmId, meta.ramBase, meta.ramSize, this.pool, { limitPages: meta.limitPages, store });
    } catch (e) {
      store?.close();
      this.pool.unreserve(meta.vmId);
      throw e;
    }
    const vm = new VmMemory(space, {
      recaller: this.opts.recaller,
      epoch: this.epoch,
      devices: meta.devices,
      recovering: recovering.length ? { holders: recovering, graceMs: this.opts.recoveryGraceMs ?? 10_000 } : undefined,
      persist: this.opts.dataDir ? (p) => this.writeMeta({ ...meta, ...p }) : undefined,
      onRecoveryEnd: (how) => this.opts.onEvent?.('recovery ended', { vm: meta.vmId, ...how }),
    });
    this.vms.set(meta.vmId, vm);
    return vm;
  }

  /** Why `vmId` cannot have `bytes` of RAM reserved now: what is free, and who holds the rest. */
  private refusal(vmId: string, bytes: number): string {
    const others = this.pool.reservations - (this.pool.reservedBy(vmId) > 0 ? 1 : 0);
    const reserved = (this.pool.reserved - this.pool.reservedBy(vmId)) * 4096;
    const free = (this.pool.available + Math.max(this.pool.reservedBy(vmId), this.pool.usedBy(vmId))) * 4096;
    return (
      `vm "${vmId}" asks for ${mib(bytes)} of RAM but only ${mib(free)} of the host pool's ${mib(this.pool.capacityBytes)} are free ` +
      `(${mib(reserved)} reserved by ${others} VM${others === 1 ? '' : 's'})`
    );
  }

  /**
   * Makes an empty address space, its RAM reserved whole in the host pool (refused here,
   * naming what is free, when it does not fit: never a failed page fetch mid-run); no frame
   * is taken until a page is written. With `replace`, a VM of this id that exists is
   * released in the same step, its reservation counted as free for the new one (a reboot
   * keeps its memory from being taken by another VM's create in between).
   */
  createVm(vmId: string, ramBase: number, ramSize: number, opts: SpaceOptions & { replace?: boolean } = {}): VmMemory {
    validVmId(vmId);
    checkRamLayout(ramBase, ramSize);
    if (ramSize > this.pool.capacityBytes) {
      throw exhausted(`vm "${vmId}" asks for ${mib(ramSize)} of RAM but the host pool holds ${mib(this.pool.capacityBytes)}`);
    }
    const old = this.vms.get(vmId);
    if (old && !opts.replace) throw exists(`vm "${vmId}" already exists`);
    const limitPages = opts.limitPages ?? ramSize / 4096;
    // Checked and taken with no await in between: two creates cannot both pass.
    const frees = old ? Math.max(this.pool.reservedBy(vmId), this.pool.usedBy(vmId)) : 0;
    if (limitPages > this.pool.available + frees) throw exhausted(this.refusal(vmId, limitPages * 4096));
    if (old) this.releaseVm(vmId);
    const meta: Meta = { vmId, ramBase, ramSize, limitPages, holders: [], devices: [] };
    if (this.opts.dataDir) {
      // A directory left by a VM this mmu never loaded (a failed release): start clean.
      rmSync(this.vmDir(vmId), { recursive: true, force: true });
      mkdirSync(this.vmDir(vmId), { recursive: true, mode: 0o700 });
      this.writeMeta(meta);
    }
    return this.open(meta, []);
  }

  /** Opens every VM found in the data dir (an mmu starting after a crash or a stop).
   *  Holders that held pages are awaited: no one else touches those VMs until they
   *  re-register or the grace time passes. Returns the VMs opened. */
  loadAll(): string[] {
    const root = this.opts.dataDir ? join(this.opts.dataDir, 'vms') : undefined;
    if (!root || !existsSync(root)) return [];
    const loaded: string[] = [];
    for (const name of readdirSync(root).sort()) {
      try {
        // Only what this user left here, and nobody else could have changed, is adopted.
        checkPrivate(join(root, name));
        const meta = JSON.parse(readFileSync(join(root, name, 'meta.json'), 'utf8')) as Meta;
        if (meta.vmId !== name) throw new Error(`meta.json names vm "${meta.vmId}"`);
        validVmId(meta.vmId);
        checkRamLayout(meta.ramBase, meta.ramSize);
        meta.holders ??= [];
        meta.devices ??= [];
        const vm = this.open(meta, meta.holders);
        loaded.push(name);
        this.opts.onEvent?.('vm found on disk', { vm: name, residentPages: vm.space.residentPages, awaiting: meta.holders });
      } catch (e) {
        this.opts.onEvent?.('cannot open a vm found on disk', { dir: join(root, name), err: (e as Error).message });
      }
    }
    return loaded;
  }

  /** The VM: `invalid` for an id that cannot exist, `not-found` else. */
  vm(vmId: string): VmMemory {
    validVmId(vmId);
    const vm = this.vms.get(vmId);
    if (!vm) throw missing(`vm "${vmId}" not found`);
    return vm;
  }

  /** Whether this mmu has the VM. */
  has(vmId: string): boolean {
    return this.vms.has(vmId);
  }

  /** Frees every frame of the VM, deletes its files, forgets it; the frames freed. */
  releaseVm(vmId: string): number {
    const vm = this.vm(vmId);
    this.vms.delete(vmId);
    const n = vm.release();
    this.pool.unreserve(vmId);
    if (this.opts.dataDir) rmSync(this.vmDir(vmId), { recursive: true, force: true });
    return n;
  }

  /** Where snapshot `name` lives: a plain name under the data dir, never a path. */
  snapshotPath(name: string): string {
    validVmId(name, 'snapshot name');
    if (!this.opts.dataDir) throw invalid('snapshots need a data dir (--data-dir)');
    return join(this.opts.dataDir, 'snapshots', `${name}.svmem`);
  }

  /** Closes every VM's files, keeping them for the next start. The VMs stay known, so a
   *  call that still comes is told mmu is stopping (UNAVAILABLE: wait and retry), not that
   *  its VM does not exist. */
  close(): void {
    for (const vm of this.vms.values()) vm.close();
  }

  get vmIds(): string[] {
    return [...this.vms.keys()];
  }

  totals(): MmuTotals {
    let residentPages = 0;
    for (const v of this.vms.values()) residentPages += v.space.residentPages;
    return { vms: this.vms.size, residentPages, poolFrames: this.pool.capacity, freeFrames: this.pool.available, reservedFrames: this.pool.reserved };
  }
}
