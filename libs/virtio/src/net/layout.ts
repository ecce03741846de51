// virtio-net numbers (virtio 1.2 §5.1).

/** §5.1.3 feature bits we offer. */
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_STATUS = 16;

/** §5.1.2: receiveq1 is 0, transmitq1 is 1 (no multiqueue, no control queue). */
export const RX_QUEUE = 0;
export const TX_QUEUE = 1;

/** §5.1.4 struct virtio_net_config: mac[6], then status (le16). */
export const CONFIG = { MAC: 0, STATUS: 6, SIZE: 8 } as const;
export const VIRTIO_NET_S_LINK_UP = 1;

/**
 * §5.1.6 struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start,
 * csum_offset, num_buffers. With VERSION_1 num_buffers is always there: 12 bytes.
 */
export const NET_HDR_BYTES = 12;
export const HDR = { FLAGS: 0, GSO_TYPE: 1, NUM_BUFFERS: 10 } as const;
export const VIRTIO_NET_HDR_GSO_NONE = 0;

/** Ethernet header + 1500 bytes of payload: the largest frame without offloads. */
export const MAX_FRAME_BYTES = 1514;
export const MIN_FRAME_BYTES = 14;
/** §5.1.6.3.1: without MRG_RXBUF or GUEST_TSO a receive buffer holds 1526 bytes (U-Boot posts exactly that). */
export const RX_BUFFER_BYTES = NET_HDR_BYTES + MAX_FRAME_BYTES;
