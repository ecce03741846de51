// The mmu's memory, without a network: the host pool and every VM's address space. The
// gRPC handlers adapt this class; tests and a one-process `splitvisor exec` can drive it
// directly.
import { checkVmId } from '@splitvisor/bus';
import { AddressSpace, checkRamLayout, type SpaceOptions } from './address-space.js';
import { exhausted, exists, invalid, mib, missing } from './errors.js';
import type { FramePool } from './frame-pool.js';

export interface MmuTotals {
  vms: number;
  residentPages: number;
  poolFrames: number;
  freeFrames: number;
}

/** A VM id checked as the bus checks it, as an `invalid` error. A hostile id is cut short
 *  first (still too long to pass) so it cannot balloon the error message. */
export function validVmId(id: string, field = 'vmId'): string {
  try {
    return checkVmId(id.length > 80 ? `${id.slice(0, 80)}…` : id, field);
  } catch (e) {
    throw invalid((e as Error).message);
  }
}

export class Mmu {
  private readonly vms = new Map<string, AddressSpace>();

  constructor(readonly pool: FramePool) {}

  /** Makes an empty address space; no frame is taken until a page is written. */
  createVm(vmId: string, ramBase: number, ramSize: number, opts: SpaceOptions = {}): AddressSpace {
    validVmId(vmId);
    checkRamLayout(ramBase, ramSize);
    if (ramSize > this.pool.capacityBytes) {
      throw exhausted(`vm "${vmId}" asks for ${mib(ramSize)} of RAM but the host pool holds ${mib(this.pool.capacityBytes)}`);
    }
    if (this.vms.has(vmId)) throw exists(`vm "${vmId}" already exists`);
    const space = new AddressSpace(vmId, ramBase, ramSize, this.pool, opts);
    this.vms.set(vmId, space);
    return space;
  }

  /** The VM's address space: `invalid` for an id that cannot exist, `not-found` else. */
  vm(vmId: string): AddressSpace {
    validVmId(vmId);
    const space = this.vms.get(vmId);
    if (!space) throw missing(`vm "${vmId}" not found`);
    return space;
  }

  /** Frees every frame of the VM and forgets it; the count of frames freed. */
  releaseVm(vmId: string): number {
    const space = this.vm(vmId);
    this.vms.delete(vmId);
    return space.release();
  }

  totals(): MmuTotals {
    let residentPages = 0;
    for (const s of this.vms.values()) residentPages += s.residentPages;
    return { vms: this.vms.size, residentPages, poolFrames: this.pool.capacity, freeFrames: this.pool.available };
  }
}
