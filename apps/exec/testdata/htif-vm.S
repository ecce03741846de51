/*
 * htif-vm: HTIF driven through a virtual mapping, from S-mode (Sv39 or Sv48) or U-mode.
 * Built three times (Makefile): htif-sv39 (S, Sv39), htif-sv48 (S, Sv48), htif-user (U,
 * Sv39). HTIF decodes the physical address (QEMU overlays tohost with a device), so a
 * store to tohost must reach it whatever mode and translation produced it.
 *
 * M: opens PMP, maps DRAM by a 1 GiB identity superpage (S only) and the tohost page
 *    again at TOHOST_VA (0x40000000) with a 4 KiB leaf, plus (user) the code page at
 *    USER_VA; then MRETs to S. A and D are preset, as riscv-tests' env/v does: so the
 *    first access, a load, already gives a translation a store may use.
 * S: (user) SRETs to U at USER_VA; else runs `talk` itself.
 * talk: as real HTIF clients do, waits for tohost == 0 (a load first), prints NAME
 *    ": ok\n" one putchar at a time through TOHOST_VA, and exits with code 0 through it.
 * Any trap to M exits with mcause + 10 through the physical tohost.
 */
#include "paging.inc"
        .equ    TOHOST_VA, 0x40000000
        .equ    USER_VA, 0x40001000
#ifdef USER
        .equ    LEAF_BITS, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
#else
        .equ    LEAF_BITS, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
#endif
#ifdef SV48
        .equ    SATP_MODE, 9
#else
        .equ    SATP_MODE, 8
#endif

        .section .text.start, "ax"
        .globl  _start
_start:
        m_open  m_trap

        /* s0 = the table that maps the low 512 GiB as Sv39's root does. */
        la      s0, l2
#ifdef SV48
        la      t1, l3                  /* Sv48: l3[0] -> l2 */
        srli    t0, s0, 2
        ori     t0, t0, PTE_V
        sd      t0, 0(t1)
#endif
        li      t0, 0x80000000          /* l2[2]: identity gigapage over DRAM */
        srli    t0, t0, 2
        ori     t0, t0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
        sd      t0, 2 * 8(s0)
        pte_to  s0, 1, l1, PTE_V        /* l2[1] -> l1, l1[0] -> l0 */
        la      t1, l1
        pte_to  t1, 0, l0, PTE_V
        la      t1, l0                  /* l0[0]: the tohost page at TOHOST_VA */
        la      t0, tohost
        srli    t0, t0, 12
        slli    t0, t0, 10
        ori     t0, t0, LEAF_BITS
        sd      t0, 0(t1)
#ifdef USER
        pte_to  t1, 1, user_code, PTE_V | PTE_R | PTE_X | PTE_U  /* the user page at USER_VA */
#endif

#ifdef SV48
        la      s1, l3
#else
        la      s1, l2
#endif
        satp_on s1, SATP_MODE
        mret_to_s s_entry

m_trap:                                 /* exit(mcause + 10), physically */
        csrr    t0, mcause
        addi    t0, t0, 10
        slli    t0, t0, 1
        ori     t0, t0, 1
        la      t1, tohost
        sd      t0, 0(t1)
1:      j       1b

s_entry:
#ifdef USER
        li      t0, 1 << 8              /* SPP = U */
        csrc    sstatus, t0
        li      t0, USER_VA
        csrw    sepc, t0
        sret
#else
        la      a0, msg
        j       talk
#endif

/* talk(a0 = message): everything through TOHOST_VA; position-independent, so the user
 * page can run it at USER_VA. */
        .section .text.user, "ax"
        .balign 4096
user_code:
#ifdef USER
        la      a0, msg                 /* pc-relative: msg on this same page */
#endif
talk:
        li      s1, TOHOST_VA
        li      t2, 0x0101              /* device 1, command 1: putchar */
        slli    t2, t2, 48
1:      ld      t1, 0(s1)               /* wait until the host is ready */
        bnez    t1, 1b
        lbu     t1, 0(a0)
        beqz    t1, 2f
        or      t1, t1, t2
        sd      t1, 0(s1)
        addi    a0, a0, 1
        j       1b
2:      li      t1, 1                   /* exit(0) */
        sd      t1, 0(s1)
3:      j       3b
msg:    .asciz  NAME ": ok\n"

#include "htif.inc"

        .section .data
        .balign 4096
l3:     .space  4096
l2:     .space  4096
l1:     .space  4096
l0:     .space  4096
