export { dom0Service, type Dom0Config } from './service.js';
export { parseVmConfig, parseMemory, ConfigError, type VmConfig } from './vm-config.js';
export { readGuestImage, readKernelImage, checkImageFits, ImageError, type GuestImage, type ImageRole } from './guest-image.js';
export { computeBootLayout, qemuDtbAddr, BootLayoutError, type BootLayout, type BootSegment, type BootInputs } from './boot-layout.js';
