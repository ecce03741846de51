// One bit per guest page, stored in 4 KiB pieces allocated when a bit in them is first set,
// so a VM with a large RAM that touches little of it costs little. The same shape serves
// "has this page been fetched" and the dirty log (KVM_GET_DIRTY_LOG).

const PIECE_BITS = 4096 * 8;

export class PageBitmap {
  private readonly pieces = new Map<number, Uint8Array>();
  private ones = 0;

  constructor(readonly size: number) {}

  get count(): number {
    return this.ones;
  }

  has(i: number): boolean {
    const piece = this.pieces.get(Math.floor(i / PIECE_BITS));
    if (!piece) return false;
    const bit = i % PIECE_BITS;
    return (piece[bit >> 3] & (1 << (bit & 7))) !== 0;
  }

  /** Sets bit `i`; true when it was clear. */
  set(i: number): boolean {
    if (!(i >= 0 && i < this.size)) throw new RangeError(`bit ${i} outside [0, ${this.size})`);
    const key = Math.floor(i / PIECE_BITS);
    let piece = this.pieces.get(key);
    if (!piece) {
      piece = new Uint8Array(PIECE_BITS / 8);
      this.pieces.set(key, piece);
    }
    const bit = i % PIECE_BITS;
    const mask = 1 << (bit & 7);
    if (piece[bit >> 3] & mask) return false;
    piece[bit >> 3] |= mask;
    this.ones++;
    return true;
  }

  /** The bits as bytes, bit i in byte i >> 3 at position i & 7 (KVM_GET_DIRTY_LOG's
   *  layout, which the pieces already have). */
  toBytes(): Buffer {
    const out = Buffer.alloc(Math.ceil(this.size / 8));
    for (const [key, piece] of this.pieces) {
      const at = key * (PIECE_BITS / 8);
      out.set(piece.subarray(0, Math.min(piece.length, out.length - at)), at);
    }
    return out;
  }

  clearAll(): void {
    this.pieces.clear();
    this.ones = 0;
  }
}
