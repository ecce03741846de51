// The cpu's admin API (dom0 only): start and stop a VM's vCPUs, report its exit table.
import type { CpuV1 } from '@splitvisor/proto';
import { alreadyExists, failedPrecondition, invalidArgument, notFound, unary, vmIdArg } from '@splitvisor/rpc';
import { subjects, type Bus } from '@splitvisor/bus';
import { LifecycleEventCodec } from '@splitvisor/proto';
import { DEFAULT_ENGINE, DEFAULT_VM_MODE, hex, isVmMode, modeRefusal, PAGE_SIZE, summarize, type LatencySummary, type VmMode } from '@splitvisor/platform';
import { ENGINES, type Engine } from '@splitvisor/riscv';
import type { Logger } from '@splitvisor/log';
import { VcpuHost, type VcpuStats } from './vcpu-host.js';
import type { SpareWorkers } from './spare-workers.js';
import { MmioStream } from './ports/mmio-stream.js';
import { vcpuPorts, type VcpuBackends } from './ports/index.js';

/**
 * The modes this cpu has a monitor for. dom0 refuses the others at create (from the
 * platform's BUILT_VM_MODES); the cpu refuses them again, so a caller that skipped dom0's
 * check (or an older dom0) never gets a guest run in a mode it did not ask for.
 */
export const CPU_MODES: readonly VmMode[] = ['emulate', 'hw', 'trap', 'pv'];

/** GuestRam's limit in this cpu: one SharedArrayBuffer per VM. */
const MAX_RAM = 4 * 1024 * 1024 * 1024;

function validate(req: CpuV1.StartVmRequest__Output): void {
  vmIdArg(req.vmId, 'vm_id');
  if (req.ramBase % PAGE_SIZE !== 0) throw invalidArgument(`ram_base ${hex(req.ramBase)} is not page-aligned`);
  if (req.ramSize <= 0 || req.ramSize % PAGE_SIZE !== 0 || req.ramSize > MAX_RAM) {
    throw invalidArgument(`ram_size ${req.ramSize} must be a multiple of ${PAGE_SIZE} between 4 KiB and 4 GiB`);
  }
  if (req.entry < req.ramBase || req.entry >= req.ramBase + req.ramSize) {
    throw invalidArgument(`entry ${hex(req.entry)} lies outside RAM [${hex(req.ramBase)}, ${hex(req.ramBase + req.ramSize)})`);
  }
  if (req.clock !== '' && req.clock !== 'host' && req.clock !== 'icount') {
    throw invalidArgument(`clock "${req.clock}" must be "host" or "icount"`);
  }
  if (req.engine && !(ENGINES as readonly string[]).includes(req.engine)) {
    throw invalidArgument(`engine "${req.engine}" must be one of ${ENGINES.map((e) => `"${e}"`).join(', ')}`);
  }
  if (req.vcpus !== 1) throw invalidArgument(`vcpus ${req.vcpus}: this cpu runs exactly 1 vCPU per VM for now`);
  const mode = req.mode || DEFAULT_VM_MODE;
  // Only the guest's own hypervisor (emulate: it owns M and HS) gets a hart with H; a mode
  // monitor would have to offer nested virtualization, and none does yet. Checked before
  // the modes this cpu has, as dom0 checks a config's cpu.h.
  if (req.h && isVmMode(mode) && mode !== 'emulate') {
    throw invalidArgument(`h: the H extension needs mode "emulate", not "${mode}" (no monitor offers nested virtualization yet)`);
  }
  const refused = modeRefusal(mode, 'mode', CPU_MODES);
  if (refused) throw invalidArgument(refused);
}

export class VmManager {
  private readonly vms = new Map<string, VcpuHost>();

  constructor(
    private readonly backends: VcpuBackends & { log: Logger; spares?: SpareWorkers },
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  start(req: CpuV1.StartVmRequest__Output): void {
    validate(req);
    if (this.vms.has(req.vmId)) throw alreadyExists(`vm "${req.vmId}" is already running on this cpu`);
    const host = new VcpuHost(
      {
        vmId: req.vmId,
        ramBase: req.ramBase,
        ramSize: req.ramSize,
        entry: req.entry,
        dtbAddr: req.dtbAddr,
        clock: req.clock === 'icount' ? 'icount' : 'host',
        mode: (req.mode || DEFAULT_VM_MODE) as VmMode,
        h: req.h,
        engine: (req.engine || DEFAULT_ENGINE) as Engine,
      },
      vcpuPorts(this.backends, req.vmId),
      this.backends,
    );
    this.vms.set(req.vmId, host);
    void host.exited.then(async (exit) => {
      // Pages go home before anyone hears the vCPU is gone, so a release sees them.
      await host.writeBack();
      this.log.info({ vm: req.vmId, ...exit, instret: host.stats().instret }, 'vCPU exited');
      await this.bus
        .publishDurable(subjects.lifecycle(req.vmId, 'cpu'), LifecycleEventCodec, {
          vmId: req.vmId,
          kind: 'LIFECYCLE_VCPU_EXITED',
          exitCode: exit.exitCode,
          reason: `${exit.cause}: ${exit.reason}`,
          source: 'cpu',
          at: Date.now(),
        })
        .catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'cannot publish vCPU exit'));
    });
  }

  async stop(vmId: string, reason: string): Promise<VcpuStats> {
    const host = this.vms.get(vmId);
    if (!host) throw notFound(`vm "${vmId}" is not running on this cpu`);
    await host.stop(reason || 'stopped by dom0');
    this.vms.delete(vmId);
    return host.stats();
  }

  async pause(vmId: string): Promise<VcpuStats> {
    const host = this.running(vmId);
    await host.pause();
    return host.stats();
  }

  async resume(vmId: string): Promise<VcpuStats> {
    const host = this.running(vmId);
    await host.resume();
    return host.stats();
  }

  private running(vmId: string): VcpuHost {
    const host = this.vms.get(vmId);
    if (!host) throw notFound(`vm "${vmId}" is not running on this cpu`);
    if (!host.running) throw failedPrecondition(`vm "${vmId}": its vCPU has exited`);
    return host;
  }

  stats(vmId: string): VcpuStats {
    const host = this.vms.get(vmId);
    if (!host) throw notFound(`vm "${vmId}" is not running on this cpu`);
    return host.stats();
  }

  /** `count` bare Pings to io-backend, one after another: the floor under an MMIO exit. */
  async probeIo(count: number, streamVmId = ''): Promise<LatencySummary> {
    if (count < 1 || count > 100_000) throw invalidArgument(`count ${count} must be between 1 and 100000`);
    const samples = new Float64Array(count);
    const stream = streamVmId !== '' ? new MmioStream(this.backends.io, this.backends.exitDeadlineMs) : undefined;
    try {
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        if (stream) await stream.call({ vmId: streamVmId, vcpu: 0, postedOnly: true });
        else await this.backends.io.call('Ping', {});
        samples[i] = (performance.now() - t0) * 1000;
      }
    } finally {
      stream?.close();
    }
    return summarize(samples);
  }

  async stopAll(reason: string): Promise<void> {
    await Promise.all([...this.vms.keys()].map((id) => this.stop(id, reason).catch(() => undefined)));
  }

  handlers(): CpuV1.CpuHandlers {
    return {
      StartVm: unary((req: CpuV1.StartVmRequest__Output) => {
        this.start(req);
        return {};
      }),
      StopVm: unary(async (req: CpuV1.StopVmRequest__Output) => ({ stats: await this.stop(req.vmId, req.reason) })),
      GetVmStats: unary((req: CpuV1.GetVmStatsRequest__Output) => this.stats(req.vmId)),
      PauseVm: unary(async (req: CpuV1.PauseVmRequest__Output) => this.pause(req.vmId)),
      ResumeVm: unary(async (req: CpuV1.ResumeVmRequest__Output) => this.resume(req.vmId)),
      ProbeIo: unary((req: CpuV1.ProbeIoRequest__Output) => this.probeIo(req.count, req.streamVmId)),
    };
  }
}
