// The load or store behind a guest-page fault on a device address: what the monitor must
// do on the guest's behalf, decoded from the instruction (htinst is 0 on our hart for an
// explicit access, as the spec allows, priv H 8.6.3; only a VS-stage walk's own PTE read
// reports its pseudoinstruction), as KVM's kvm_riscv_vcpu_mmio_load/store do.
// Integer loads and stores only, 32-bit and compressed: a device register is never the
// target of an FP or atomic access in the guests we run, and such an access is refused
// (the monitor gives the guest an access fault).

export interface MemInsn {
  /** Bytes of the instruction: 2 (compressed) or 4. */
  readonly length: 2 | 4;
  readonly store: boolean;
  readonly size: 1 | 2 | 4 | 8;
  /** Loads: zero-extend (LBU, LHU, LWU) rather than sign-extend. */
  readonly unsigned: boolean;
  /** Loads: rd; stores: rs2. */
  readonly reg: number;
}

const LOAD_SIZES: readonly (readonly [1 | 2 | 4 | 8, boolean] | undefined)[] = [
  [1, false], // LB
  [2, false], // LH
  [4, false], // LW
  [8, false], // LD
  [1, true], // LBU
  [2, true], // LHU
  [4, true], // LWU
  undefined,
];

/**
 * Decodes the instruction whose first parcel is `lo` (and second `hi`, for 32-bit ones):
 * undefined when it is not an integer load or store.
 */
export function decodeMemInsn(lo: number, hi: number): MemInsn | undefined {
  if ((lo & 3) === 3) {
    const inst = ((hi & 0xffff) << 16) | (lo & 0xffff);
    const opcode = inst & 0x7f;
    const f3 = (inst >>> 12) & 7;
    if (opcode === 0x03) {
      const s = LOAD_SIZES[f3];
      if (!s) return undefined;
      return { length: 4, store: false, size: s[0], unsigned: s[1], reg: (inst >>> 7) & 31 };
    }
    if (opcode === 0x23) {
      if (f3 > 3) return undefined;
      return { length: 4, store: true, size: (1 << f3) as 1 | 2 | 4 | 8, unsigned: false, reg: (inst >>> 20) & 31 };
    }
    return undefined;
  }
  // RVC (unprivileged spec ch. 16): quadrant 0 uses x8-x15 (rd'/rs2' in bits 4:2);
  // quadrant 2's SP-relative forms name any register (rd in 11:7, rs2 in 6:2).
  const q = lo & 3;
  const f3 = (lo >>> 13) & 7;
  const regPrime = 8 + ((lo >>> 2) & 7);
  if (q === 0) {
    switch (f3) {
      case 2: // C.LW
        return { length: 2, store: false, size: 4, unsigned: false, reg: regPrime };
      case 3: // C.LD
        return { length: 2, store: false, size: 8, unsigned: false, reg: regPrime };
      case 6: // C.SW
        return { length: 2, store: true, size: 4, unsigned: false, reg: regPrime };
      case 7: // C.SD
        return { length: 2, store: true, size: 8, unsigned: false, reg: regPrime };
      default:
        return undefined;
    }
  }
  if (q === 2) {
    const rd = (lo >>> 7) & 31;
    const rs2 = (lo >>> 2) & 31;
    switch (f3) {
      case 2: // C.LWSP (rd = 0 is reserved)
        return rd === 0 ? undefined : { length: 2, store: false, size: 4, unsigned: false, reg: rd };
      case 3: // C.LDSP
        return rd === 0 ? undefined : { length: 2, store: false, size: 8, unsigned: false, reg: rd };
      case 6: // C.SWSP
        return { length: 2, store: true, size: 4, unsigned: false, reg: rs2 };
      case 7: // C.SDSP
        return { length: 2, store: true, size: 8, unsigned: false, reg: rs2 };
      default:
        return undefined;
    }
  }
  return undefined;
}

/** A loaded value (lo/hi of `size` bytes, zero-extended) extended to 64 bits as the
 *  instruction says. */
export function extendLoad(insn: MemInsn, lo: number, hi: number): bigint {
  const raw = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const bits = BigInt(insn.size * 8);
  const v = BigInt.asUintN(Number(bits), raw);
  return insn.unsigned ? v : BigInt.asIntN(Number(bits), v);
}

/** The device path a monitor does a guest's access through (the vCPU's, as in emulate). */
export interface DeviceAccessPath {
  load(pa: number, size: 1 | 2 | 4 | 8, out: Int32Array): boolean;
  store(pa: number, size: 1 | 2 | 4 | 8, lo: number, hi: number): boolean;
}

/** Does `insn`'s device access at `pa` for the guest: a store's value from its register, a
 *  load's into its register. False when the device refused (the guest's access fault). */
export function doDeviceAccess(
  insn: MemInsn,
  pa: number,
  regs: { getReg(i: number): bigint; setReg(i: number, v: bigint): void },
  dev: DeviceAccessPath,
  out: Int32Array,
): boolean {
  if (insn.store) {
    const v = BigInt.asUintN(64, regs.getReg(insn.reg));
    return dev.store(pa, insn.size, Number(v & 0xffffffffn) | 0, Number(v >> 32n) | 0);
  }
  if (!dev.load(pa, insn.size, out)) return false;
  if (insn.reg !== 0) regs.setReg(insn.reg, extendLoad(insn, out[0]!, out[1]!));
  return true;
}
