/* The user programs, linked at 0x40000000 (user.ld) and embedded whole: exec loads them
   from here as it would from a file system. */
        .section .rodata
        .balign 8
        .globl init_start, init_end, true_start, true_end
init_start:
        .incbin "init.uelf"
init_end:
        .balign 8
true_start:
        .incbin "true.uelf"
true_end:
