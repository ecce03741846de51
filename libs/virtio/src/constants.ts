// Numbers from the virtio 1.2 spec shared by the transport, the queue and the devices.

/** Device status bits (§2.1). */
export const STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const;

/** Reserved feature bits the transport and the ring own (§6). */
export const VIRTIO_RING_F_INDIRECT_DESC = 28;
export const VIRTIO_RING_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

export function featureBit(bit: number): bigint {
  return 1n << BigInt(bit);
}

export function hasFeature(features: bigint, bit: number): boolean {
  return (features & featureBit(bit)) !== 0n;
}

/** Device IDs (§5). */
export const DEVICE_ID = { NET: 1, BLOCK: 2, CONSOLE: 3, ENTROPY: 4 } as const;

/** InterruptStatus bits (§4.2.2). */
export const INTERRUPT = { USED_BUFFER: 1, CONFIG_CHANGE: 2 } as const;
