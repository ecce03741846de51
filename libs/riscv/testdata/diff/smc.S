/* Self-modifying code: stores over instructions the hart has already run (and, with the
 * translate engine, compiled), in four shapes. Each pass rewrites an `addi s0, s0, K`
 * with another K, so the sum printed says which version of the code ran every time.
 *  A. store, FENCE.I, then the patched instruction (what the spec requires, priv 3.1.8
 *     and unpriv ch. 3 "Zifencei").
 *  B. the store and the instruction it patches in one straight-line run, no FENCE.I: the
 *     spec allows the old or the new instruction. QEMU 7.2 runs a mix (its translated
 *     block goes on with the old code until it is retranslated); both our engines run
 *     the new one every time. Printed last.
 *  C. a loop that patches its own body on every iteration, no FENCE.I: as B, the spec
 *     allows either; QEMU 7.2 runs the old code once, our engines the new every time.
 *  D. data stored on the page of the running code (no instruction changes): the code's
 *     translations are dropped and come back, results unchanged. */
#include "prelude.h"

#define ADDI_S0(k) (((k) << 20) | (8 << 15) | (8 << 7) | 0x13)

main:
  /* A */
  li s0, 0
  li s1, 6
  la t0, patch_a
  li t2, ADDI_S0(0x100)
  li t3, ADDI_S0(1)
1:
  andi t4, s1, 1
  mv t5, t3
  beqz t4, 2f
  mv t5, t2
2:
  sw t5, 0(t0)
  fence.i
  .option push
  .option norvc
patch_a:
  addi s0, s0, 7
  .option pop
  addi s1, s1, -1
  bnez s1, 1b
  P s0

  /* C: the loop's body ends with the patched instruction; each pass writes the word the
   * next pass runs (K = the pass number). */
  li s0, 0
  li s1, 40
  la t0, patch_c
3:
  slli t5, s1, 20
  li t6, ADDI_S0(0)
  or t5, t5, t6
  sw t5, 0(t0)
  .option push
  .option norvc
patch_c:
  addi s0, s0, 0
  .option pop
  addi s1, s1, -1
  bnez s1, 3b
  P s0

  /* D */
  li s0, 0
  li s1, 200
  la t0, code_data
4:
  ld t1, 0(t0)
  add t1, t1, s1
  sd t1, 0(t0)
  add s0, s0, t1
  addi s1, s1, -1
  bnez s1, 4b
  P s0

  /* B */
  li s0, 0
  li s1, 6
  la t0, patch_b
  li t2, ADDI_S0(0x200)
  li t3, ADDI_S0(2)
1:
  andi t4, s1, 1
  mv t5, t3
  beqz t4, 2f
  mv t5, t2
2:
  sw t5, 0(t0)
  addi s2, s2, 1
  .option push
  .option norvc
patch_b:
  addi s0, s0, 7
  .option pop
  addi s1, s1, -1
  bnez s1, 1b
  P s0
  j poweroff

  .balign 8
code_data:
  .dword 0x1234
