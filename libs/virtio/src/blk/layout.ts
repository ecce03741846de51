// virtio-blk numbers (virtio 1.2 §5.2).

/** Feature bits (§5.2.3). */
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;

/** Request types (§5.2.6). */
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;

/** Status byte values (§5.2.6). */
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** The request header: le32 type, le32 reserved, le64 sector. */
export const BLK_HEADER_BYTES = 16;
/** Sectors are always 512 bytes, whatever blk_size says (§5.2.6). */
export const SECTOR_BYTES = 512;
/** GET_ID answers with a 20-byte serial, NUL-padded when shorter. */
export const BLK_ID_BYTES = 20;

/** Config space offsets (§5.2.4) up to blk_size; the rest is feature-gated and not offered. */
export const CONFIG = {
  CAPACITY: 0, // le64, in 512-byte sectors
  SIZE_MAX: 8, // le32
  SEG_MAX: 12, // le32
  GEOMETRY: 16, // le16 cylinders, u8 heads, u8 sectors
  BLK_SIZE: 20, // le32
  SIZE: 24,
} as const;
