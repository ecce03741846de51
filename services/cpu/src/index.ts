export { cpuService, type CpuConfig } from './service.js';
export { VmManager } from './vm-manager.js';
