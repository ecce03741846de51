// Split virtqueue layout (virtio 1.2 §2.7): sizes, offsets and flags, in one place.

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** avail.flags: the driver asks not to be interrupted (§2.7.7), ignored with EVENT_IDX. */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags: the device asks not to be notified (§2.7.7). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Largest split queue size the spec allows (§2.7: Queue Size is at most 32768). */
export const MAX_QUEUE_SIZE = 32768;

export const DESC_SIZE = 16;
export const USED_ELEM_SIZE = 8;

/** Bytes of each area for a queue of `size` entries (§2.7, "Queue Size" table). */
export const descTableBytes = (size: number) => DESC_SIZE * size;
/** flags, idx, ring[size], used_event */
export const availRingBytes = (size: number) => 6 + 2 * size;
/** flags, idx, ring[size], avail_event */
export const usedRingBytes = (size: number) => 6 + USED_ELEM_SIZE * size;

/** Alignment each area needs (§2.7, "Alignment" column). */
export const DESC_ALIGN = 16;
export const AVAIL_ALIGN = 2;
export const USED_ALIGN = 4;

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/**
 * §2.7.10 vring_need_event: with EVENT_IDX, signal when the other side's event index lies in
 * [old, new), all mod 2^16.
 */
export function needEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
