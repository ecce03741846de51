/* C extension: compressible code (the assembler picks the 16-bit forms under rv64gc):
 * a checksum loop, calls with stack spills, every compressed kind, a jump into the upper
 * half of a word, and a 32-bit instruction straddling a page boundary. */
#include "prelude.h"

main:
  li s0, 0                 /* checksum */
  li s1, 1000
  la a2, buf
loop:
  andi a3, s1, 31
  slli a4, a3, 3
  add a4, a4, a2
  ld a5, 0(a4)
  add a5, a5, s1
  xor a5, a5, s0
  sd a5, 0(a4)
  srli a3, a5, 7
  add s0, s0, a3
  srai a3, s0, 3
  sub s0, s0, a3
  addiw a3, a3, -9
  addw s0, s0, a3
  subw a3, s0, a5
  or s0, s0, a3
  and a3, a3, a5
  xor s0, s0, a3
  mv a0, s1
  call leaf
  add s0, s0, a0
  addi s1, s1, -1
  bnez s1, loop
  P s0
  /* every register-pair form on x8..x15 */
  li s1, 0x55
  lui a1, 0xfffe1
  addi sp, sp, -64
  sd s1, 8(sp)
  sw a1, 16(sp)
  ld a2, 8(sp)
  lw a3, 16(sp)
  lwu a4, 16(sp)
  addi a5, sp, 24
  fld fa0, 8(sp)
  fsd fa0, 32(sp)
  ld a0, 32(sp)
  P a0
  addi sp, sp, 64
  P a1
  P a2
  P a3
  P a4
  /* c.j into the middle of a word */
  li a1, 1
  j 1f
  .balign 4
  .2byte 0x0001            /* c.nop in the lower half */
1:
  addi a1, a1, 2
  beqz a1, 2f
  bnez a1, 3f
2:
  li a1, 99
3:
  P a1
  /* an instruction straddling a page boundary */
  call straddle
  P a0
  j poweroff

leaf:
  addi sp, sp, -16
  sd ra, 8(sp)
  slli a0, a0, 2
  andi a0, a0, 0x3f
  ld ra, 8(sp)
  addi sp, sp, 16
  ret

  .balign 4096
  .skip 4096 - 6
straddle:
  li a0, 5                 /* 2 bytes: c.li */
  nop                      /* 2 bytes: c.nop */
  .option push
  .option norvc
  addi a0, a0, 0x123       /* 4 bytes at offset 0xffe: straddles the page boundary */
  .option pop
  ret

  .data
  .balign 8
buf:
  .fill 32, 8, 0x0123456789abcdef
