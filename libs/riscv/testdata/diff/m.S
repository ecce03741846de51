/* M extension: every instruction on every pair of edge values. */
#include "prelude.h"
#define NVALUES 22

main:
  la s0, values
  li s1, 0                 /* i */
outer:
  li s2, 0                 /* j */
inner:
  slli t4, s1, 3
  add t4, s0, t4
  ld s3, 0(t4)
  slli t4, s2, 3
  add t4, s0, t4
  ld s4, 0(t4)
  mul a1, s3, s4
  P a1
  mulh a1, s3, s4
  P a1
  mulhsu a1, s3, s4
  P a1
  mulhu a1, s3, s4
  P a1
  div a1, s3, s4
  P a1
  divu a1, s3, s4
  P a1
  rem a1, s3, s4
  P a1
  remu a1, s3, s4
  P a1
  mulw a1, s3, s4
  P a1
  divw a1, s3, s4
  P a1
  divuw a1, s3, s4
  P a1
  remw a1, s3, s4
  P a1
  remuw a1, s3, s4
  P a1
  addi s2, s2, 1
  li t4, NVALUES
  blt s2, t4, inner
  addi s1, s1, 1
  blt s1, t4, outer
  j poweroff

  .data
  .balign 8
values:
  .dword 0, 1, -1, 2, -2, 7, -7
  .dword 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000001
  .dword 0xffffffff, 0x100000000, 0x7fffffff, 0xffffffff80000000, 0x80000000
  .dword 0x001fffffffffffff, 0x0020000000000000, 0xffe0000000000000
  .dword 0x123456789abcdef0, 0xfedcba9876543210, 0x00000000ffff0001, 0x0000fffffffffffd
