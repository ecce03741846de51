// Who may call what, for the whole system in one table (enforced under mutual TLS by
// libs/rpc's accessInterceptor, by the CN of the caller's certificate). dom0 is the only
// caller of the admin APIs; the data plane calls only what its own work needs.
import type { AccessPolicy } from '@splitvisor/rpc';

const dom0 = ['dom0'] as const;

export const ACCESS: AccessPolicy = {
  // Every process of the lab, and the CLI, may ask whether a service is serving.
  '/grpc.health.v1.Health/*': '*',

  // The toolstack's API: people (the CLI) and dom0 itself.
  '/splitvisor.dom0.v1.Dom0/*': ['cli', 'dom0'],

  // cpu: the vCPU executor's admin API is dom0's alone.
  '/splitvisor.cpu.v1.Cpu/StartVm': dom0,
  '/splitvisor.cpu.v1.Cpu/StopVm': dom0,
  '/splitvisor.cpu.v1.Cpu/PauseVm': dom0,
  '/splitvisor.cpu.v1.Cpu/ResumeVm': dom0,
  '/splitvisor.cpu.v1.Cpu/GetVmStats': dom0,
  '/splitvisor.cpu.v1.Cpu/ProbeIo': ['dom0', 'cli'],

  // mmu: address spaces, images, snapshots and device attachment are dom0's; pages are the
  // cpu's (its page cache); DMA is the device backend's.
  '/splitvisor.mmu.v1.Mmu/CreateVm': dom0,
  '/splitvisor.mmu.v1.Mmu/LoadImage': dom0,
  '/splitvisor.mmu.v1.Mmu/ReleaseVm': dom0,
  '/splitvisor.mmu.v1.Mmu/GetVmStats': dom0,
  '/splitvisor.mmu.v1.Mmu/AttachDevice': dom0,
  '/splitvisor.mmu.v1.Mmu/DetachDevice': dom0,
  '/splitvisor.mmu.v1.Mmu/StartDirtyLog': dom0,
  '/splitvisor.mmu.v1.Mmu/GetDirtyLog': dom0,
  '/splitvisor.mmu.v1.Mmu/StopDirtyLog': dom0,
  '/splitvisor.mmu.v1.Mmu/SnapshotMemory': dom0,
  '/splitvisor.mmu.v1.Mmu/RestoreMemory': dom0,
  '/splitvisor.mmu.v1.Mmu/ProbeRecall': ['dom0', 'cli'],
  '/splitvisor.mmu.v1.Mmu/FetchPages': ['cpu'],
  '/splitvisor.mmu.v1.Mmu/WriteBack': ['cpu'],
  '/splitvisor.mmu.v1.Mmu/Reregister': ['cpu'],
  '/splitvisor.mmu.v1.Mmu/RecallStream': ['cpu'],
  '/splitvisor.mmu.v1.Mmu/DmaRead': ['io-backend'],
  '/splitvisor.mmu.v1.Mmu/DmaWrite': ['io-backend'],
  '/splitvisor.mmu.v1.Mmu/DmaStream': ['io-backend'],

  // io-backend: attaching devices is dom0's; MMIO exits and posted writes are the cpu's.
  '/splitvisor.io.v1.IoBackend/AttachVm': dom0,
  '/splitvisor.io.v1.IoBackend/DetachVm': dom0,
  '/splitvisor.io.v1.IoBackend/GetVmStats': dom0,
  '/splitvisor.io.v1.IoBackend/Mmio': ['cpu'],
  '/splitvisor.io.v1.IoBackend/MmioStream': ['cpu'],
  '/splitvisor.io.v1.IoBackend/PostWrites': ['cpu'],
  '/splitvisor.io.v1.IoBackend/Ping': ['cpu', 'dom0'],
};
