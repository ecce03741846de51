// @splitvisor/io-backend: the device model service; main.ts runs its definition. Its logic
// (backend.ts, vm-devices.ts, virtio/) is reached by its own specs, not by other packages.
export { ioBackendService, type IoConfig } from './service.js';
