/* System-call stubs, numbered as abi.h's enum. */
        .text
        .globl exit
exit:
        li      a7, 0
        ecall
        ret
        .globl getpid
getpid:
        li      a7, 1
        ecall
        ret
        .globl fork
fork:
        li      a7, 2
        ecall
        ret
        .globl exec
exec:
        li      a7, 3
        ecall
        ret
        .globl wait
wait:
        li      a7, 4
        ecall
        ret
        .globl kill
kill:
        li      a7, 5
        ecall
        ret
        .globl write
write:
        li      a7, 6
        ecall
        ret
        .globl read
read:
        li      a7, 7
        ecall
        ret
        .globl pipe
pipe:
        li      a7, 8
        ecall
        ret
        .globl close
close:
        li      a7, 9
        ecall
        ret
        .globl sbrk
sbrk:
        li      a7, 10
        ecall
        ret
        .globl mprotect
mprotect:
        li      a7, 11
        ecall
        ret
        .globl open
open:
        li      a7, 12
        ecall
        ret
        .globl fsync
fsync:
        li      a7, 13
        ecall
        ret
        .globl pread
pread:
        li      a7, 14
        ecall
        ret
        .globl pwrite
pwrite:
        li      a7, 15
        ecall
        ret
        .globl sysinfo
sysinfo:
        li      a7, 16
        ecall
        ret
        .globl getargs
getargs:
        li      a7, 17
        ecall
        ret
        .globl mmio_lsr
mmio_lsr:
        li      a7, 18
        ecall
        ret
        .globl tickwait
tickwait:
        li      a7, 19
        ecall
        ret
        .globl drain
drain:
        li      a7, 20
        ecall
        ret
        .globl yield
yield:
        li      a7, 21
        ecall
        ret
        .globl sleep
sleep:
        li      a7, 22
        ecall
        ret
        .globl ebreaks
ebreaks:
        li      a7, 23
        ecall
        ret
