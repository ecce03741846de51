// @splitvisor/mmu: the memory virtualizer. Its face is the service definition that main.ts
// runs; nothing else imports this package (a service never imports a service), so the
// memory logic (mmu.ts, vm-memory.ts and its rooms in vm/) is reached through its files by
// its own specs, and is exported again when a consumer appears.
export { mmuService, type MmuConfig } from './service.js';
