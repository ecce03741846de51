// @splitvisor/devices: the device models of the virt machine and the bus that routes guest
// accesses to them. Knows nothing of gRPC or NATS: a service (or `splitvisor exec`) plugs
// the injected sinks into whatever transport it has.
export { done, refused, describeAccess, type DeviceAccessSize, type DeviceResult, type MmioDevice, type SystemEvent } from './device.js';
export { MmioBus, isAccessSize, type AccessSize, type BusResult, type Mapping } from './mmio-bus.js';
export {
  Uart16550,
  UART_RX_CAPACITY,
  decodeUartState,
  type Uart16550Options,
  type UartReadState,
  type UartStats,
  type UartSavedState,
} from './uart16550/uart16550.js';
export { shadowableRegisters, uartReadShadow, type ShadowMask, type UartReadShadow } from './uart16550/read-shadow.js';
export * as uartRegisters from './uart16550/registers.js';
export { SifiveTest, type SifiveTestOptions } from './sifive-test/sifive-test.js';
export { VirtioMmioEmptySlot, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VERSION, VIRTIO_MMIO_VENDOR_QEMU } from './virtio-mmio/empty-slot.js';
export { EmptyWindow } from './empty-window/empty-window.js';
export { GoldfishRtc, type GoldfishRtcOptions } from './goldfish-rtc/goldfish-rtc.js';
export * as rtcRegisters from './goldfish-rtc/goldfish-rtc.js';
export { SavedStateError, parseRecord, savedObject, savedUint, showValue } from './saved-state.js';
