/* Shared by the differential programs: entry, a hex printer on the ns16550a UART of QEMU
 * virt, the sifive_test poweroff, and a trap handler that prints the trap and powers
 * off. The program provides `main`, which ends by jumping to `poweroff`.
 * Registers: print_hex clobbers a0, t0-t3 and ra (through the call) only. */
#define UART 0x10000000
#define FINISHER 0x100000

/* P reg: prints the register as 16 hex digits and a newline. */
.macro P reg
  mv a0, \reg
  call print_hex
.endm

  .section .text.start, "ax"
  .globl _start
_start:
  la sp, stack_top
  li t0, 0x6000          /* mstatus.FS = Dirty: FP instructions allowed */
  csrs mstatus, t0
  la t0, trap
  csrw mtvec, t0
#ifdef VS_GUEST
  /* Run `main` in VS-mode under two-stage translation (H extension; the program is
   * assembled with _hh): PMP open, an Sv39x4 G-stage mapping GPA 0..1 GiB (UART,
   * finisher) and the GiB of DRAM to themselves with U, vsatp Bare, FS on in vsstatus
   * too. Traps still go to M, and print as below. */
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  la t0, vs_groot
  li t1, 0xdf                /* D A U X W R V, PPN 0 */
  sd t1, 0(t0)
  li t1, (0x80000000 >> 12) << 10 | 0xdf
  sd t1, 16(t0)
  srli t0, t0, 12
  li t1, 8 << 60
  or t0, t0, t1
  csrw hgatp, t0
  li t0, 0x6000
  csrw vsstatus, t0
  li t0, 0x1800
  csrc mstatus, t0
  li t0, 1                   /* MPV = 1, MPP = S */
  slli t0, t0, 39
  li t1, 0x800
  or t0, t0, t1
  csrs mstatus, t0
  la t0, main
  csrw mepc, t0
  mret
  .pushsection .bss
  .balign 16384
vs_groot:
  .space 16384
  .popsection
#else
  j main
#endif

print_hex:
  li t2, UART
  li t0, 60
1:
  srl t1, a0, t0
  andi t1, t1, 15
  addi t1, t1, '0'
  li t3, '9' + 1
  blt t1, t3, 2f
  addi t1, t1, 'a' - '0' - 10
2:
  lbu t3, 5(t2)          /* LSR.THRE */
  andi t3, t3, 0x20
  beqz t3, 2b
  sb t1, 0(t2)
  addi t0, t0, -4
  bgez t0, 1b
3:
  lbu t3, 5(t2)
  andi t3, t3, 0x20
  beqz t3, 3b
  li t1, '\n'
  sb t1, 0(t2)
  ret

poweroff:
  li t0, FINISHER
  li t1, 0x5555
  sw t1, 0(t0)
1:
  j 1b

  .balign 4
trap:
  li a0, 0x7777777777777777
  call print_hex
  csrr a0, mcause
  call print_hex
  csrr a0, mepc
  call print_hex
  csrr a0, mtval
  call print_hex
  j poweroff
