// @splitvisor/cpu: the vCPU executor service; main.ts runs its definition.
export { cpuService, type CpuConfig } from './service.js';
