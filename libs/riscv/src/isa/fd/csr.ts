// fflags, frm and fcsr (unpriv 11.2), plugged into the CSR file. All three are
// illegal-instruction while mstatus.FS is Off, and a write sets FS to Dirty.

import { Csr, registerCsr } from '../../csr.js';
import type { HartState } from '../../state.js';
import { fpOff } from './execute.js';

function readable(s: HartState): boolean {
  return !fpOff(s);
}

registerCsr(Csr.fflags, {
  read(s) {
    s.csrLo = s.fflags;
    s.csrHi = 0;
    return readable(s);
  },
  write(s, lo) {
    s.fflags = lo & 0x1f;
    s.mstatusFs = 3;
  },
});

registerCsr(Csr.frm, {
  read(s) {
    s.csrLo = s.frm;
    s.csrHi = 0;
    return readable(s);
  },
  write(s, lo) {
    // WARL over 3 bits: reserved modes are stored, and trap when an instruction uses them.
    s.frm = lo & 7;
    s.mstatusFs = 3;
  },
});

registerCsr(Csr.fcsr, {
  read(s) {
    s.csrLo = (s.frm << 5) | s.fflags;
    s.csrHi = 0;
    return readable(s);
  },
  write(s, lo) {
    s.fflags = lo & 0x1f;
    s.frm = (lo >>> 5) & 7;
    s.mstatusFs = 3;
  },
});
