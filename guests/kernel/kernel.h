/* The kernel's shared declarations: the machine as the DTB describes it, memory, processes. */
#ifndef KERNEL_H
#define KERNEL_H
#include "types.h"
#include "pvops.h"
#include "abi.h"

#define PAGE_SIZE 4096UL
#define PAGE_ROUND_DOWN(a) ((a) & ~(PAGE_SIZE - 1))
#define PAGE_ROUND_UP(a) (((a) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

/* ---- the machine, read from the device tree (fdt.c) ---- */
#define MAX_VIRTIO 8
struct mmio_dev {
  uint64_t base, size;
  uint32_t irq;
};
struct bootinfo {
  uint64_t hartid;
  uint64_t mem_base, mem_size;
  uint64_t dtb_addr, dtb_size;
  uint64_t timebase_hz;
  int sstc;                    /* the hart's riscv,isa names sstc */
  struct mmio_dev uart, plic, test;
  uint32_t plic_ctx;           /* this hart's S-mode context */
  uint32_t plic_ndev;
  int nvirtio;
  struct mmio_dev virtio[MAX_VIRTIO];
  char bootargs[256];
  char isa[128];
};
extern struct bootinfo boot;
void fdt_parse(uint64_t dtb, uint64_t hartid);

/* ---- boot arguments (main.c) ---- */
struct kargs {
  int panic_test, hang_test, bench_fail_test, sync;
  uint64_t watchdog_s;         /* 0: none */
};
extern struct kargs kargs;

/* ---- console (console.c, printf.c) ---- */
void console_init(void);
void console_putc(char c);
void console_write(const char *s, size_t n);
int console_read(char *buf, size_t n);  /* sleeps until one byte at least */
void console_drain(void);               /* sleeps until every byte is out */
void console_flush_polling(void);       /* no interrupts: for the end and panics */
void console_intr(void);
uint64_t console_lsr(void);
void kprintf(const char *fmt, ...);
void panic(const char *fmt, ...) __attribute__((noreturn));          /* exit code 2 */
void panic_code(int code, const char *fmt, ...) __attribute__((noreturn)); /* 3: watchdog */
void console_enable_irq(void);
void machine_exit(int code) __attribute__((noreturn)); /* 0 pass; 1 fail, 2 panic, 3 watchdog */

/* ---- string helpers (printf.c) ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* ---- physical frames with reference counts (mem.c) ---- */
void mem_init(uint64_t free_lo, uint64_t free_hi);
void *frame_alloc(void);       /* zeroed; NULL when none left */
void frame_incref(uint64_t pa);
void frame_decref(uint64_t pa); /* frees at zero */
int frame_refs(uint64_t pa);
uint64_t frames_free(void);

/* ---- Sv39 (vm.c) ---- */
#define PTE_V (1UL << 0)
#define PTE_R (1UL << 1)
#define PTE_W (1UL << 2)
#define PTE_X (1UL << 3)
#define PTE_U (1UL << 4)
#define PTE_G (1UL << 5)
#define PTE_A (1UL << 6)
#define PTE_D (1UL << 7)
#define PTE_COW (1UL << 8)   /* RSW: shared after fork, copied on the first write */
#define PTE_RO (1UL << 9)    /* RSW: read-only by mprotect, a write is a bad access */
#define PTE_PA(pte) (((pte) >> 10) << 12)
#define PA_PTE(pa) (((pa) >> 12) << 10)
#define SATP_SV39 (8UL << 60)
/* The user gigabyte: programs at USER_BASE, the stack below USER_TOP, both demand-zero. */
#define USER_BASE 0x40000000UL
#define USER_TOP 0x80000000UL
#define STACK_PAGES 16
#define STACK_LO (USER_TOP - STACK_PAGES * PAGE_SIZE)

typedef uint64_t pagetable_t;  /* physical address of a root table */
/* The kernel's address space; under direct paging its tables come from the arena. */
void vm_init(uint64_t arena_base, uint64_t arena_pages);
pagetable_t uvm_create(void);
void uvm_free(pagetable_t pt);
int uvm_copy_cow(pagetable_t from, pagetable_t to);
int uvm_map(pagetable_t pt, uint64_t va, uint64_t pa, uint64_t perm);
uint64_t *uvm_pte(pagetable_t pt, uint64_t va);
void uvm_unmap_range(pagetable_t pt, uint64_t lo, uint64_t hi);
uint64_t satp_of(pagetable_t pt);
struct proc;
/* Resolve a user fault (COW, demand zero): 0 handled, -1 a bad access. */
int vm_fault(struct proc *p, uint64_t va, int write, int exec);
int copyout(struct proc *p, uint64_t uva, const void *src, size_t n);
int copyin(struct proc *p, void *dst, uint64_t uva, size_t n);
int copyinstr(struct proc *p, char *dst, uint64_t uva, size_t max);

/* ---- traps (trap.c, entry.S) ---- */
struct trapframe {
  uint64_t ra, sp, gp, tp, t0, t1, t2, s0, s1, a0, a1, a2, a3, a4, a5, a6, a7;
  uint64_t s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, t3, t4, t5, t6;
  uint64_t epc;        /* 31*8 */
  uint64_t kernel_sp;  /* 32*8 */
};
void trap_init(void);
void usertrap_return(void) __attribute__((noreturn));
void uservec(void);
void kernelvec(void);
void pv_uservec(void);   /* entry_pv.S */
void pv_kernelvec(void);
void pv_userret(struct trapframe *tf) __attribute__((noreturn));
void userret(struct trapframe *tf) __attribute__((noreturn));

/* ---- interrupts ---- */
void plic_init(void);
void plic_enable(uint32_t irq);
uint32_t plic_claim(void);
void plic_complete(uint32_t irq);
void timer_init(void);
void timer_intr(void);
void timer_wait_tick(void);      /* the timer_irq benchmark's round trip */
void timer_sleep(uint64_t ticks_of_time);
uint64_t time_now(void);
extern uint64_t timer_irqs;

/* ---- processes (proc.c) ---- */
#define NPROC 128
#define NFD 8
#define KSTACK_SIZE 8192
enum pstate { P_UNUSED, P_RUNNABLE, P_RUNNING, P_SLEEPING, P_ZOMBIE };
struct context { uint64_t ra, sp, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11; };
struct file;
struct proc {
  enum pstate state;
  int pid;
  struct proc *parent;
  pagetable_t pt;
  struct trapframe *tf;
  struct context ctx;
  void *chan;          /* what a sleeping process waits for */
  int killed;
  int xstatus;
  uint64_t brk, heap_lo;
  uint64_t ebreaks;
  struct file *fd[NFD];
  char name[16];
  uint8_t *kstack;
};
struct proc *myproc(void);
void proc_init(void);
void proc_start_init(void);
void scheduler(void) __attribute__((noreturn));
void sched_yield(void);
void sleep_on(void *chan);
void wakeup(void *chan);
int proc_fork(void);
int proc_exec(const char *name, uint64_t arg);
void proc_exit(int status) __attribute__((noreturn));
int proc_wait(uint64_t status_uva);
int proc_kill(int pid);
void proc_kill_fault(struct proc *p, const char *what, uint64_t addr);
void swtch(struct context *from, struct context *to);
int proc_count(void);
void proc_dump(void);          /* what every process is doing, for the watchdog */

/* ---- files: pipes, the console and the file store (pipe.c, fs.c) ---- */
enum ftype { F_CONSOLE, F_PIPE, F_STORE };
struct pipe;
struct file {
  enum ftype type;
  int refs;
  int writable;
  struct pipe *pipe;
  int slot;            /* F_STORE: the file's directory slot */
};
struct file *file_alloc(enum ftype type);
void file_dup(struct file *f);
void file_close(struct file *f);
int pipe_open(struct file **rd, struct file **wr);
int64_t pipe_read(struct pipe *pp, struct proc *p, uint64_t uva, size_t n);
int64_t pipe_write(struct pipe *pp, struct proc *p, uint64_t uva, size_t n);
void pipe_close(struct pipe *pp, int writable);

void virtio_probe(void);       /* boot.nvirtio: the slots with a device behind them */
int virtio_blk_init(void);     /* 0: the first virtio-blk is driven */
int virtio_blk_present(void);
int virtio_blk_rw(uint64_t sector, void *buf, size_t len, int write);
int virtio_blk_flush(void);
void virtio_blk_intr(void);
void virtio_blk_dump(void);
int fs_open(const char *name, int create);   /* a slot, or -1 */
int64_t fs_pread(int slot, struct proc *p, uint64_t uva, size_t n, uint64_t off);
int64_t fs_pwrite(int slot, struct proc *p, uint64_t uva, size_t n, uint64_t off);
int fs_fsync(void);

/* ---- system calls (syscall.c) ---- */
void syscall(struct proc *p);

/* ---- embedded user programs (progs.S) ---- */
struct program { const char *name; const uint8_t *start, *end; };
const struct program *program_find(const char *name);

#endif
