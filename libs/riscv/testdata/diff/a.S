/* A extension: LR/SC success and failure, every AMO in both widths. */
#include "prelude.h"

.macro AMO_W op
  la s0, word
  li t4, 0x80000001
  sw t4, 0(s0)
  li s1, 0xfffffffe7fffffff
  \op a1, s1, (s0)
  P a1
  ld a1, 0(s0)
  P a1
.endm
.macro AMO_D op
  la s0, dword
  li t4, 0x8000000000000005
  sd t4, 0(s0)
  li s1, 0x7ffffffffffffff0
  \op a1, s1, (s0)
  P a1
  ld a1, 0(s0)
  P a1
.endm

main:
  la s0, word
  /* LR/SC success */
  lr.w a1, (s0)
  addi a2, a1, 1
  sc.w a3, a2, (s0)
  P a1
  P a3
  lw a1, 0(s0)
  P a1
  /* SC without a reservation (the SC above consumed it) */
  sc.w a3, a2, (s0)
  P a3
  /* LR.D / SC.D */
  la s0, dword
  lr.d a1, (s0)
  not a2, a1
  sc.d a3, a2, (s0)
  P a3
  ld a1, 0(s0)
  P a1
  /* SC to another address than the LR */
  lr.d a1, (s0)
  addi s1, s0, 8
  sc.d a3, a2, (s1)
  P a3
  AMO_W amoswap.w
  AMO_W amoadd.w
  AMO_W amoxor.w
  AMO_W amoand.w
  AMO_W amoor.w
  AMO_W amomin.w
  AMO_W amomax.w
  AMO_W amominu.w
  AMO_W amomaxu.w
  AMO_D amoswap.d
  AMO_D amoadd.d
  AMO_D amoxor.d
  AMO_D amoand.d
  AMO_D amoor.d
  AMO_D amomin.d
  AMO_D amomax.d
  AMO_D amominu.d
  AMO_D amomaxu.d
  /* (A misaligned AMO is left to the unit specs: QEMU 7.2 reports it as a load address
   * misaligned, cause 4, where the spec and this hart say store/AMO, cause 6.) */
  j poweroff

  .data
  .balign 16
word:
  .dword 0x1234567800000000
dword:
  .dword 0x0123456789abcdef
  .dword 0
