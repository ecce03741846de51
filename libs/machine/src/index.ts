// @splitvisor/machine: the parts of the virt machine that live with the vCPU (DESIGN.md,
// "cpu ... plus its in-kernel irqchip and timer"): CLINT, PLIC and the boot ROM. Knows
// nothing of gRPC, NATS, worker threads or the hart engine: interrupt outputs are
// callbacks that the cpu service connects to `hart.setPendingInterrupt`.
export { LOCAL_OK, type LocalAccessSize, type LocalDevice, type LocalResult } from './local-device.js';
export { IRQ_M_EXT, IRQ_M_SOFT, IRQ_M_TIMER, IRQ_S_EXT, type HartIrqSink } from './irq.js';
export { hostClock, IcountClock, type TickSource } from './clock.js';
export { Clint, CLINT_MAX_HARTS, type ClintOptions } from './clint.js';
export {
  Plic,
  plicContext,
  plicContextHart,
  plicContextIrq,
  PLIC_CONTEXT_BASE,
  PLIC_CONTEXT_STRIDE,
  PLIC_ENABLE_BASE,
  PLIC_ENABLE_STRIDE,
  PLIC_MAX_CONTEXTS,
  PLIC_MAX_PRIORITY,
  PLIC_PENDING_BASE,
  PLIC_PRIORITY_BASE,
  PLIC_PRIORITY_BITS,
  type PlicOptions,
} from './plic.js';
export {
  bootRom,
  BootRom,
  FW_DYNAMIC_INFO_MAGIC,
  FW_DYNAMIC_INFO_NEXT_MODE_M,
  FW_DYNAMIC_INFO_NEXT_MODE_S,
  FW_DYNAMIC_INFO_NEXT_MODE_U,
  FW_DYNAMIC_INFO_SIZE,
  FW_DYNAMIC_INFO_VERSION,
  RESET_VEC_CODE,
  RESET_VEC_SIZE,
  type BootRomDeviceOptions,
  type BootRomOptions,
  type FwDynamicInfo,
} from './boot-rom.js';
export { cpuLocalBus, LocalBus, type LocalMapping } from './local-bus.js';
