// @splitvisor/io-backend: the device model service. Its face is the backend logic (usable
// in-process, as its tests do) and the service definition that main.ts runs.
export { IoBackend, SOURCE, type IoBackendOptions, type VmStats } from './backend.js';
export { ConsoleOut, type ConsoleOutOptions, type ConsoleOutStats } from './console.js';
export { VmDevices, type VmDeviceSinks, type VmDeviceStats, type DeviceCounters } from './vm-devices.js';
export { ioHandlers } from './handlers.js';
export { ioBackendService, type IoConfig } from './service.js';
