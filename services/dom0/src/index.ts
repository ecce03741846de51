export { dom0Service, type Dom0Config } from './service.js';
export { parseVmConfig, parseMemory, ConfigError, type VmConfig } from './vm-config.js';
export { readGuestImage, checkImageFits, ImageError, type GuestImage } from './guest-image.js';
