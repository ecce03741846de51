// A device's config space as the driver reads it: little-endian fields (virtio 1.2 §2.5),
// read at any size the transport allows, bytes past the end reading as zero (the transport
// has already refused reads outside configSize).

/** The `size`-byte little-endian value at `offset` of `config`. */
export function readConfigLe(config: Uint8Array, offset: number, size: 1 | 2 | 4): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (config[offset + i] ?? 0);
  return v;
}
