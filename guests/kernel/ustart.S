/* A user program's entry: sp at USER_TOP (demand-zero stack), a0 the exec argument. */
        .section .text.start, "ax"
        .globl _start
_start:
        call    main
        call    exit
1:      j       1b
