/*
 * hyp: a small hypervisor in HS-mode running a small guest in VS-mode (the H extension,
 * privileged spec 1.12 ch. 8 "Hypervisor Extension"). Run with QEMU's `-cpu rv64,h=true`, or a
 * Splitvisor VM with `cpu: { h: true }`. RV64I + Zicsr + H, no compressed instructions (a
 * handler that skips an instruction adds 4).
 *
 * M-mode (reset, a0 = hartid, a1 = DTB, both ignored): prints misa and the read-back of
 *   medeleg/mideleg, opens PMP, lets S read `time` (mcounteren), delegates the guest's
 *   traps to HS (ECALL from VS, guest-page faults, virtual instruction) and MRETs to HS.
 * HS-mode: builds Sv39x4 G-stage tables mapping guest-physical 0x80000000.. onto the guest
 *   blob (guest.inc), pages 0-4 up front, 5-9 on demand; sets hideleg (VS interrupts go to
 *   VS), hstatus.VTW (WFI in VS traps), hcounteren = 0 (`time` in VS traps) and SRETs
 *   into VS (hstatus.SPV) at guest-physical 0x80000000 with vsatp Bare.
 * VS-mode, the guest (guest.inc): builds its own Sv39 tables (a gigapage over its RAM, and
 *   0x40000000/0x40001000 onto its pages 5 and 6), turns them on, prints through SBI
 *   calls the hypervisor serves (legacy putchar, and a vendor "puts" of a guest-virtual
 *   string the hypervisor reads with HLV.BU), then: a store and a load to its pages 5/6
 *   (store and load guest-page faults, causes 23 and 21), a call into its page 7
 *   (instruction guest-page fault, 20), a load and a store through tables of its own on
 *   pages 8 and 9 (the VS-stage walk's implicit PTE read faults, reported for the original
 *   access: 21 and 23, htval the PTE's address, htinst the walk pseudoinstruction), each
 *   resolved by HS mapping the page; WFI and RDTIME (virtual instruction, cause 22: HS
 *   reads the instruction with HLVX.WU, skips the WFI and emulates the RDTIME), an SBI
 *   send_ipi (HS injects VSSIP through hvip; the guest takes the software interrupt and
 *   clears it in sip) and an SBI set_timer (HS injects VSTIP through hvip; the guest takes
 *   the timer interrupt and cancels it with set_timer(-1), HS clears hvip), and an SBI
 *   system reset.
 * HS prints each trap that is not console output (scause, sepc, stval, htval, htinst,
 *   hstatus), what it did, and at the reset the counts and the VS CSRs as it sees them;
 *   then powers off with pass (exit 0).
 * Fails: the guest's own unexpected exception: code 2 (through SBI system reset); an
 *   unexpected trap into HS: 3; an unknown SBI call: 4; any trap into M: 5.
 */
        .equ UART0,       0x10000000
        .equ UART_THR,    0
        .equ UART_LSR,    5
        .equ LSR_THRE,    0x20
        .equ SIFIVE_TEST, 0x100000
        .equ TEST_PASS,   0x5555
        .equ TEST_FAIL,   0x3333

        .equ GUEST_GPA,   0x80000000     /* guest RAM, as on virt */
        .equ GUEST_PAGES, 10             /* guest blob: pages 0..9 */
        .equ LAZY_FIRST,  5              /* pages 5..9 are mapped on first touch */
        .equ GL1_OFF,     0x4000         /* G-stage tables: gl1 and gl0 after the root */
        .equ GL0_OFF,     0x5000
        .equ PTE_V,       0x01
        .equ PTE_GLEAF,   0xdf           /* G-stage leaf: D A U X W R V (U: G-stage accesses count as U-mode) */
        .equ SATP_SV39,   8              /* hgatp Sv39x4 and satp Sv39 both use mode 8 */

        /* SBI (v2.0): the extensions the hypervisor serves. */
        .equ SBI_PUTCHAR, 0x01           /* legacy console_putchar(a0) */
        .equ SBI_TIME,    0x54494d45     /* "TIME" set_timer(a0) */
        .equ SBI_IPI,     0x735049       /* "sPI" send_ipi(mask a0, base a1) */
        .equ SBI_SRST,    0x53525354     /* "SRST" system_reset(type a0, reason a1) */
        .equ SBI_PUTS,    0x09000000     /* vendor range: puts(guest-virtual a0) */

/* What the emulated `time` reads. A #define, not an .equ: an absolute symbol beyond 2^53
 * would land in the ELF's symbol table, which the lab's ELF reader refuses. */
#define RDTIME_VALUE 0x0123456789abcdef
        .equ INSN_WFI,    0x10500073
        .equ INSN_RDTIME, 0xc0102073     /* csrrs x?, time, x0 with rd = 0 */
        .equ INSN_RD_MASK, 0xf80         /* rd, bits 11:7 */

/* ------------------------------------------------------------------ M-mode ------- */
        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, hs_stack_top
        li      s1, UART0
        la      t0, m_trap
        csrw    mtvec, t0
        la      a0, m_hello
        call    puts
        csrr    a0, misa
        call    hexln
        li      t0, -1                   /* PMP: all of memory to S and U */
        csrw    pmpaddr0, t0
        li      t0, 0x1f                 /* NAPOT, R W X */
        csrw    pmpcfg0, t0
        li      t0, 7                    /* CY TM IR below M: with hcounteren 0, `time` in VS is
                                          * then a virtual instruction, not an illegal one */
        csrw    mcounteren, t0
        li      t0, (1 << 10) | (1 << 20) | (1 << 21) | (1 << 22) | (1 << 23)
        csrw    medeleg, t0
        li      t0, 0x222                /* SSI STI SEI to HS; VS's are read-only one */
        csrw    mideleg, t0
        la      a0, m_medeleg
        call    puts
        csrr    a0, medeleg
        call    hexln
        la      a0, m_mideleg
        call    puts
        csrr    a0, mideleg
        call    hexln
        li      t0, 0x1800               /* MPP = S */
        csrc    mstatus, t0
        li      t0, 0x800
        csrs    mstatus, t0
        li      t0, 1                    /* MPV = 0: HS, not VS */
        slli    t0, t0, 39
        csrc    mstatus, t0
        la      t0, hs_main
        csrw    mepc, t0
        mret

        .balign 4
m_trap:
        li      s1, UART0
        la      sp, hs_stack_top
        la      a0, m_unexpected
        call    puts
        csrr    a0, mcause
        call    hexln
        csrr    a0, mepc
        call    hexln
        csrr    a0, mtval
        call    hexln
        li      a0, 5
        j       poweroff_fail

/* ------------------------------------------------------------------ HS-mode ------ */
hs_main:
        la      t0, hs_trap
        csrw    stvec, t0
        la      t0, hs_frame
        csrw    sscratch, t0
        la      a0, hs_hello
        call    puts
        csrr    a0, hstatus
        call    hexln

        /* G-stage, Sv39x4 (priv ch. 8, "Guest Physical Address Translation"): the root has
         * 2048 entries (GPA bits 40:30) and is 16 KiB aligned; GPA 0x80000000 is entry 2
         * -> gl1[0] -> gl0[page]. The tables are carved from gtables at run time: a .bss
         * aligned to 16 KiB would be a second ELF segment, which the flat .bin leaves out. */
        la      t0, gtables
        li      t1, 0x3fff
        add     t0, t0, t1
        srli    t0, t0, 14
        slli    t0, t0, 14
        la      t1, groot
        sd      t0, 0(t1)
        li      t1, GL1_OFF
        add     t1, t0, t1
        srli    t2, t1, 12
        slli    t2, t2, 10
        ori     t2, t2, PTE_V
        sd      t2, 16(t0)
        li      t2, GL0_OFF
        add     t2, t0, t2
        srli    t3, t2, 12
        slli    t3, t3, 10
        ori     t3, t3, PTE_V
        sd      t3, 0(t1)
        li      a0, 0
1:      call    gmap                     /* pages 0 .. LAZY_FIRST-1 now */
        addi    a0, a0, 1
        li      t0, LAZY_FIRST
        blt     a0, t0, 1b
        la      t0, groot
        ld      t0, 0(t0)
        srli    t0, t0, 12
        li      t1, SATP_SV39
        slli    t1, t1, 60
        or      t0, t0, t1
        csrw    hgatp, t0
        hfence.gvma
        la      a0, hs_hgatp
        call    puts
        csrr    a0, hgatp
        call    hexln

        li      t0, 0x444                /* VSSI VSTI VSEI: taken by VS itself */
        csrw    hideleg, t0
        csrw    hedeleg, zero
        csrw    hcounteren, zero         /* `time` in VS: virtual instruction */
        csrw    hvip, zero
        csrw    vsatp, zero
        csrw    vsstatus, zero
        li      t0, (1 << 21) | (1 << 7) /* VTW: WFI in VS traps; SPV: SRET enters VS */
        csrs    hstatus, t0
        li      t0, 0x100                /* SPP = S */
        csrs    sstatus, t0
        li      t0, GUEST_GPA
        csrw    sepc, t0
        la      a0, hs_enter
        call    puts
        csrr    a0, hstatus
        call    hexln
        sret

/* gmap(a0 = guest page 0..GUEST_PAGES-1): map GPA GUEST_GPA + a0*4K onto the blob's page.
 * Keeps a0. */
gmap:
        slli    t0, a0, 12
        la      t1, guest_blob
        add     t1, t1, t0
        srli    t1, t1, 12
        slli    t1, t1, 10
        ori     t1, t1, PTE_GLEAF
        slli    t0, a0, 3
        la      t2, groot
        ld      t2, 0(t2)
        add     t2, t2, t0
        li      t0, GL0_OFF
        add     t2, t2, t0
        sd      t1, 0(t2)
        ret

/* Every trap from the guest. The guest's registers go to hs_frame (x<n> at n*8) and come
 * back from there, so a handler changes a guest register by changing the frame. */
        .balign 4
hs_trap:
        csrrw   sp, sscratch, sp
        .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        sd      x\r, \r*8(sp)
        .endr
        csrr    t0, sscratch
        sd      t0, 2*8(sp)
        csrw    sscratch, sp
        mv      s0, sp                   /* s0: the frame */
        la      sp, hs_stack_top
        li      s1, UART0
        call    hs_handle
        csrr    sp, sscratch
        .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        ld      x\r, \r*8(sp)
        .endr
        ld      x2, 2*8(sp)
        sret

hs_handle:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        csrr    t0, hstatus              /* from HS itself (SPV = 0): a bug of ours */
        andi    t0, t0, 1 << 7
        beqz    t0, hs_unexpected
        csrr    t0, scause
        bltz    t0, hs_unexpected        /* no interrupt is left to HS */
        li      t1, 10
        bne     t0, t1, 1f
        ld      t1, 17*8(s0)             /* a7: the SBI extension */
        li      t2, SBI_PUTCHAR
        beq     t1, t2, sbi_putchar
        li      t2, SBI_PUTS
        beq     t1, t2, sbi_puts
1:      call    hs_report                /* everything but console output is reported */
        csrr    t0, scause
        li      t1, 10
        beq     t0, t1, hs_sbi
        li      t1, 20
        beq     t0, t1, hs_gpf
        li      t1, 21
        beq     t0, t1, hs_gpf
        li      t1, 23
        beq     t0, t1, hs_gpf
        li      t1, 22
        beq     t0, t1, hs_virtual
        j       hs_unexpected

hs_done:                                 /* back to the guest at sepc */
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

hs_skip:                                 /* ... after the trapping instruction */
        csrr    t0, sepc
        addi    t0, t0, 4
        csrw    sepc, t0
        j       hs_done

/* One line per trap: what HS learns of it (priv ch. 8, "Traps": scause, stval, htval,
 * htinst, hstatus.SPV/SPVP/GVA). */
hs_report:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        la      a0, r_cause
        call    puts
        csrr    a0, scause
        call    hex2
        la      a0, r_sepc
        call    puts
        csrr    a0, sepc
        call    hex8
        la      a0, r_stval
        call    puts
        csrr    a0, stval
        call    hex8
        la      a0, r_htval
        call    puts
        csrr    a0, htval
        call    hex8
        la      a0, r_htinst
        call    puts
        csrr    a0, htinst
        call    hex8
        la      a0, r_hstatus
        call    puts
        csrr    a0, hstatus
        call    hexln
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

sbi_putchar:
        ld      a0, 10*8(s0)
        call    putc
        la      t0, n_console
        ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 0(t0)
        sd      zero, 10*8(s0)           /* a0 = SBI_SUCCESS */
        j       hs_skip

/* The string is in the guest's virtual memory: HLV.BU reads it through both stages as
 * the guest's S-mode would (hstatus.SPVP = 1, set by the trap from VS: priv ch. 8, "Hypervisor Virtual-Machine
 * Load and Store Instructions"). */
sbi_puts:
        ld      s2, 10*8(s0)
1:      hlv.bu  a0, (s2)
        beqz    a0, 2f
        call    putc
        addi    s2, s2, 1
        j       1b
2:      la      t0, n_console
        ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 0(t0)
        sd      zero, 10*8(s0)
        j       hs_skip

hs_sbi:
        la      t0, n_sbi
        ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 0(t0)
        la      a0, s_sbi
        call    puts
        ld      a0, 17*8(s0)
        call    hex8
        la      a0, s_fid
        call    puts
        ld      a0, 16*8(s0)             /* a6: the function */
        call    hex2
        la      a0, s_arg
        call    puts
        ld      a0, 10*8(s0)
        call    hexln
        ld      t1, 17*8(s0)
        ld      t2, 10*8(s0)
        li      t0, SBI_IPI
        beq     t1, t0, sbi_ipi
        li      t0, SBI_TIME
        beq     t1, t0, sbi_time
        li      t0, SBI_SRST
        beq     t1, t0, sbi_srst
        la      a0, s_unknown
        call    puts
        li      a0, 4
        j       poweroff_fail

/* send_ipi to this hart: VSSIP through hvip; the guest clears it in its sip, an alias of
 * hvip.VSSIP (priv ch. 8, "Hypervisor Interrupt Registers"). */
sbi_ipi:
        li      t0, 1 << 2
        csrs    hvip, t0
        la      a0, s_vssip
        call    puts
        csrr    a0, hvip
        call    hexln
        sd      zero, 10*8(s0)
        j       hs_skip

/* set_timer: this hypervisor's timer fires at once (VSTIP through hvip); stime_value -1
 * cancels it, as Linux does from its timer interrupt. */
sbi_time:
        li      t0, 1 << 6
        li      t1, -1
        beq     t2, t1, 1f
        csrs    hvip, t0
        j       2f
1:      csrc    hvip, t0
2:      la      a0, s_vstip
        call    puts
        csrr    a0, hvip
        call    hexln
        sd      zero, 10*8(s0)
        j       hs_skip

sbi_srst:
        ld      t1, 11*8(s0)             /* reason: 0 none, else a failure */
        bnez    t1, guest_failed
        la      a0, s_counts
        call    puts
        la      t0, n_console
        ld      a0, 0(t0)
        call    putdec
        la      a0, s_counts_sbi
        call    puts
        la      t0, n_sbi
        ld      a0, 0(t0)
        call    putdec
        la      a0, s_counts_gpf
        call    puts
        la      t0, n_gpf
        ld      a0, 0(t0)
        call    putdec
        la      a0, s_counts_vi
        call    puts
        la      t0, n_virtual
        ld      a0, 0(t0)
        call    putdec
        la      a0, crlf
        call    puts
        /* The guest's supervisor CSRs, which HS reaches as the vs* CSRs (priv ch. 8, "Virtual
         * Supervisor Registers"). */
        la      s2, views
1:      ld      a0, 0(s2)
        beqz    a0, 2f
        call    puts
        ld      t0, 8(s2)
        jalr    t0                       /* a0 = the CSR */
        call    hexln
        addi    s2, s2, 16
        j       1b
2:      la      a0, s_pass
        call    puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
3:      j       3b

guest_failed:
        la      a0, s_failed
        call    puts
        li      a0, 2
        j       poweroff_fail

/* Guest-page fault (priv ch. 8, "Hypervisor Trap Value Register"): htval is the guest-
 * physical address shifted right by 2.
 * A page of the guest's that is not mapped yet is mapped; anything else is a bug. */
hs_gpf:
        la      t0, n_gpf
        ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 0(t0)
        csrr    s2, htval
        slli    s2, s2, 2                /* the GPA, bits 1:0 lost */
        li      t0, GUEST_GPA
        sub     s3, s2, t0
        srli    s3, s3, 12               /* the guest page */
        li      t0, LAZY_FIRST
        bltu    s3, t0, hs_unexpected    /* mapped already: must not fault */
        li      t0, GUEST_PAGES
        bgeu    s3, t0, hs_unexpected    /* not the guest's RAM */
        mv      a0, s3
        call    gmap
        hfence.gvma                      /* not needed after filling an invalid entry, but
                                          * what a hypervisor does */
        la      a0, g_mapped
        call    puts
        srli    a0, s2, 12
        slli    a0, a0, 12
        call    hex8
        la      a0, g_to
        call    puts
        slli    t0, s3, 12
        la      a0, guest_blob
        add     a0, a0, t0
        call    hexln
        j       hs_done                  /* the guest retries the access */

/* Virtual instruction (priv ch. 8, "Virtual-Instruction Exceptions"): the instruction is read back from the guest with
 * HLVX.WU (execute permission, both stages) rather than trusted to stval. */
hs_virtual:
        la      t0, n_virtual
        ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 0(t0)
        csrr    t0, sepc
        hlvx.wu s2, (t0)
        la      a0, v_insn
        call    puts
        mv      a0, s2
        call    hex8
        li      t0, INSN_WFI
        beq     s2, t0, 1f
        li      t0, ~INSN_RD_MASK
        and     t0, s2, t0
        li      t1, INSN_RDTIME
        beq     t0, t1, 2f
        la      a0, crlf
        call    puts
        j       hs_unexpected
1:      la      a0, v_wfi                /* nothing to wait for: skip it */
        call    puts
        j       hs_skip
2:      srli    t0, s2, 7                /* rd */
        andi    t0, t0, 31
        beqz    t0, 3f
        slli    t0, t0, 3
        add     t0, t0, s0
        li      t1, RDTIME_VALUE
        sd      t1, 0(t0)
3:      la      a0, v_rdtime
        call    puts
        j       hs_skip

hs_unexpected:
        la      a0, hs_bad
        call    puts
        call    hs_report
        li      a0, 3
        /* fall through */

/* poweroff_fail(a0 = exit code): QEMU exits with that status. */
poweroff_fail:
        slli    a0, a0, 16
        li      t1, TEST_FAIL
        or      t1, t1, a0
        li      t0, SIFIVE_TEST
        sw      t1, 0(t0)
1:      j       1b

/* The CSR readers of the final view table (each: a0 = the CSR). */
rd_vsstatus:  csrr a0, vsstatus
        ret
rd_vsie:      csrr a0, vsie
        ret
rd_vsip:      csrr a0, vsip
        ret
rd_vstvec:    csrr a0, vstvec
        ret
rd_vsscratch: csrr a0, vsscratch
        ret
rd_vsepc:     csrr a0, vsepc
        ret
rd_vscause:   csrr a0, vscause
        ret
rd_vstval:    csrr a0, vstval
        ret
rd_vsatp:     csrr a0, vsatp
        ret
rd_hvip:      csrr a0, hvip
        ret
rd_hip:       csrr a0, hip
        ret
rd_hie:       csrr a0, hie
        ret
rd_hideleg:   csrr a0, hideleg
        ret

/* hexln(a0): 16 hex digits and a line end; hex8/hex2: 8 or 2 digits (bits above are
 * not printed). */
hexln:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        li      a1, 16
        call    puthex
        la      a0, crlf
        call    puts
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret
hex8:
        li      a1, 8
        j       puthex
hex2:
        li      a1, 2
        j       puthex

#include "../console.inc"

#include "guest.inc"

        .section .rodata
m_hello:       .asciz "hyp: M-mode, misa="
m_medeleg:     .asciz "hyp: medeleg="
m_mideleg:     .asciz "hyp: mideleg="
m_unexpected:  .asciz "hyp: unexpected trap into M (mcause, mepc, mtval):\r\n"
hs_hello:      .asciz "hs: HS-mode, hstatus="
hs_hgatp:      .asciz "hs: G-stage on, hgatp="
hs_enter:      .asciz "hs: entering the guest at 0x80000000, hstatus="
hs_bad:        .asciz "hs: unexpected trap\r\n"
r_cause:       .asciz "hs: trap scause="
r_sepc:        .asciz " sepc="
r_stval:       .asciz " stval="
r_htval:       .asciz " htval="
r_htinst:      .asciz " htinst="
r_hstatus:     .asciz " hstatus="
s_sbi:         .asciz "hs: sbi ext="
s_fid:         .asciz " fid="
s_arg:         .asciz " a0="
s_unknown:     .asciz "hs: unknown SBI call\r\n"
s_vssip:       .asciz "hs: VSSIP injected, hvip="
s_vstip:       .asciz "hs: VS timer, hvip="
s_counts:      .asciz "hs: guest shut down; console calls "
s_counts_sbi:  .asciz ", other sbi calls "
s_counts_gpf:  .asciz ", guest-page faults "
s_counts_vi:   .asciz ", virtual instructions "
s_failed:      .asciz "hs: the guest reports a failure\r\n"
s_pass:        .asciz "hyp: pass\r\n"
g_mapped:      .asciz "hs: mapped gpa "
g_to:          .asciz " to "
v_insn:        .asciz "hs: virtual instruction "
v_wfi:         .asciz ": wfi, skipped\r\n"
v_rdtime:      .asciz ": rdtime, emulated\r\n"
crlf:          .asciz "\r\n"
vn_vsstatus:   .asciz "hs: vsstatus="
vn_vsie:       .asciz "hs: vsie="
vn_vsip:       .asciz "hs: vsip="
vn_vstvec:     .asciz "hs: vstvec="
vn_vsscratch:  .asciz "hs: vsscratch="
vn_vsepc:      .asciz "hs: vsepc="
vn_vscause:    .asciz "hs: vscause="
vn_vstval:     .asciz "hs: vstval="
vn_vsatp:      .asciz "hs: vsatp="
vn_hvip:       .asciz "hs: hvip="
vn_hip:        .asciz "hs: hip="
vn_hie:        .asciz "hs: hie="
vn_hideleg:    .asciz "hs: hideleg="
        .balign 8
views:  .dword vn_vsstatus, rd_vsstatus, vn_vsie, rd_vsie, vn_vsip, rd_vsip
        .dword vn_vstvec, rd_vstvec, vn_vsscratch, rd_vsscratch, vn_vsepc, rd_vsepc
        .dword vn_vscause, rd_vscause, vn_vstval, rd_vstval, vn_vsatp, rd_vsatp
        .dword vn_hvip, rd_hvip, vn_hip, rd_hip, vn_hie, rd_hie, vn_hideleg, rd_hideleg
        .dword 0

        .section .bss
        .balign 16
groot:  .dword 0                         /* the root, gtables rounded up to 16 KiB */
gtables: .space 0x4000 + GL0_OFF + 4096  /* room to round up, then root (16 KiB), gl1, gl0 */
hs_frame: .space 32 * 8
n_console: .dword 0
n_sbi:     .dword 0
n_gpf:     .dword 0
n_virtual: .dword 0
        .balign 16
        .space 4096
hs_stack_top:
