// Taking a VM's resources and giving them back: the boot layout from its config, memory
// and the loaded images at mmu, devices at io-backend (the xenbus handshake, xenbus.ts);
// and, in reverse, the vCPU at its cpu node, the devices (flushed), the memory. create, start-after-stop, reboot and every
// end of a VM go through here.
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { DRAM_BASE, hex } from '@splitvisor/platform';
import { invalidArgument, RpcError } from '@splitvisor/rpc';
import type { Logger } from '@splitvisor/log';
import type { DataPlane } from './ports.js';
import type { VmConfig } from './vm-config.js';
import { ImageError, readGuestImage, readInitrd, readKernelImage } from './guest-image.js';
import { BootLayoutError, computeBootLayout, type BootLayout } from './boot-layout.js';
import { VM_DEVICES } from './xenbus.js';
import type { VirtioDeviceConfig } from './device-config.js';

/** The identity io-backend calls mmu under (its certificate's CN, or x-splitvisor-caller). */
export const IO_BACKEND_IDENTITY = 'io-backend';

/**
 * The files a VM's devices name exist and are of the right kind, checked before anything
 * is attached so the error names the device and the path (io-backend opens them itself,
 * on its own host; in compose the same paths must be mounted there).
 */
async function checkDeviceFiles(devices: readonly VirtioDeviceConfig[]): Promise<void> {
  for (const d of devices) {
    const want: [string, 'file' | 'directory'][] = [];
    if (d.params['path'] !== undefined) want.push([d.params['path'], 'file']);
    if (d.params['tftp'] !== undefined) want.push([d.params['tftp'], 'directory']);
    for (const [path, kind] of want) {
      const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
        throw invalidArgument(`${d.id}: ${path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
      });
      if (kind === 'file' && !st.isFile()) throw invalidArgument(`${d.id}: ${path} is not a regular file (a raw disk image is)`);
      if (kind === 'directory' && !st.isDirectory()) throw invalidArgument(`${d.id}: tftp: ${path} is not a directory`);
    }
  }
}

/** Where the hart starts and what it finds: what cpu StartVm needs besides the sizes. */
export interface BootPoint {
  entry: number;
  nextAddr: number;
  dtbAddr: number;
  ramBase: number;
}

/** Reads the images and lays out RAM; a bad config or image is INVALID_ARGUMENT. */
export async function layoutFor(cfg: VmConfig, where: string): Promise<BootLayout> {
  try {
    return computeBootLayout({
      memoryBytes: cfg.memoryBytes,
      harts: cfg.vcpus,
      ...(cfg.cpu?.h && { h: true }),
      ...(cfg.bootargs !== undefined && { bootargs: cfg.bootargs }),
      // As QEMU 7.2 does on every boot: entropy for the kernel's RNG in /chosen/rng-seed.
      rngSeed: randomBytes(32),
      ...(cfg.image !== undefined && { image: await readGuestImage(cfg.image) }),
      ...(cfg.firmware !== undefined && { firmware: await readGuestImage(cfg.firmware, 'firmware') }),
      ...(cfg.kernel !== undefined && { kernel: await readKernelImage(cfg.kernel) }),
      ...(cfg.initrd !== undefined && { initrd: await readInitrd(cfg.initrd) }),
    });
  } catch (e) {
    if (e instanceof ImageError) throw invalidArgument(e.message);
    if (e instanceof BootLayoutError) throw invalidArgument(`${where}: ${e.message}`);
    throw e;
  }
}

export interface ReleaseParts {
  /** Stop the vCPU on this node first (its pages go back to mmu). */
  vcpuOn?: string | undefined;
  /** Keep memory and devices (policy preserve). */
  keepMemoryAndDevices?: boolean;
  /** Keep the memory, and so its reservation at mmu (a reboot: provision with `replace`). */
  keepMemory?: boolean;
  /** How long the vCPU may take to reach a safepoint. */
  timeoutMs?: number;
}

export class Provisioner {
  constructor(
    private readonly plane: DataPlane,
    private readonly log: Logger,
  ) {}

  /** Memory at mmu with the images in it, devices at io-backend; all or nothing. With
   *  `replace`, memory the VM still holds at mmu is taken over afresh (a reboot keeps its
   *  reservation: no other create can take it in between). */
  async provision(cfg: VmConfig, layout: BootLayout, opts: { replace?: boolean } = {}): Promise<BootPoint> {
    const { memory, devices } = this.plane;
    const undo: (() => Promise<unknown>)[] = [];
    try {
      await memory.create(cfg.name, DRAM_BASE, cfg.memoryBytes, { replace: opts.replace ?? false });
      undo.push(() => memory.release(cfg.name));
      const loaded = await memory.load(cfg.name, layout.segments);
      this.log.info(
        {
          vm: cfg.name,
          boot: layout.kind,
          ...(cfg.image !== undefined && { image: cfg.image }),
          ...(cfg.firmware !== undefined && { firmware: cfg.firmware }),
          ...(cfg.kernel !== undefined && { kernel: cfg.kernel }),
          ...(cfg.initrd !== undefined && { initrd: cfg.initrd }),
          segments: layout.segments.map((s) => `${s.role} ${hex(s.addr)}+${hex(s.data.length)}`),
          bytes: loaded,
          entry: hex(layout.entry),
          ...(layout.kind === 'firmware' && { next: hex(layout.nextAddr) }),
          dtb: hex(layout.dtbAddr),
        },
        'image loaded',
      );
      for (const note of layout.notes) this.log.warn({ vm: cfg.name }, note);
      const virtio = cfg.devices ?? [];
      if (virtio.length > 0) {
        await checkDeviceFiles(virtio);
        // The device backend may DMA into this VM's RAM, and nothing else may (mmu checks
        // every DmaRead/DmaWrite against this grant).
        await memory.allowDma(cfg.name, IO_BACKEND_IDENTITY);
      }
      undo.push(() => devices.disconnect(cfg.name));
      await devices.connect(cfg.name, [...VM_DEVICES, ...virtio.map((d) => ({ id: d.id, params: { kind: d.kind, ...d.params } }))]);
    } catch (e) {
      for (const u of undo.reverse()) await u().catch(() => undefined);
      if (e instanceof RpcError) throw new RpcError(e.code, `creating vm "${cfg.name}": ${e.message}`);
      throw e;
    }
    return { entry: layout.entry, nextAddr: layout.nextAddr, dtbAddr: layout.dtbAddr, ramBase: DRAM_BASE };
  }

  /**
   * Gives back what the VM holds, in the order the data flows: the vCPU stops at a safepoint
   * and writes its pages back; the devices flush (console output stored) and detach; then
   * the memory is freed. Each part that is already gone (NOT_FOUND) is fine; other
   * failures are logged and the rest still released.
   */
  async release(name: string, parts: ReleaseParts): Promise<void> {
    const { memory, devices, cpus } = this.plane;
    const quiet = (what: string) => (e: unknown) => {
      if (e instanceof RpcError && e.code === 'NOT_FOUND') return;
      this.log.warn({ vm: name, err: (e as Error).message }, `${what} failed while releasing the vm`);
    };
    if (parts.vcpuOn !== undefined) {
      const deadlineMs = (parts.timeoutMs ?? 10_000) + 2000;
      await Promise.resolve()
        .then(() => cpus.node(parts.vcpuOn).stop(name, 'released by dom0', deadlineMs))
        .catch(quiet('cpu StopVm'));
    }
    if (parts.keepMemoryAndDevices) return;
    await devices.disconnect(name).catch(quiet('device teardown'));
    if (parts.keepMemory) return;
    await memory.release(name).catch(quiet('mmu ReleaseVm'));
  }
}
