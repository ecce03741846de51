/* The user programs' library: system calls (usys.S) and a few helpers (ulib.c). */
#ifndef ULIB_H
#define ULIB_H
#include "abi.h"

void exit(int status) __attribute__((noreturn));
int getpid(void);
int fork(void);
int exec(const char *name, uint64_t arg);
int wait(int *status);
int kill(int pid);
int64_t write(int fd, const void *buf, uint64_t n);
int64_t read(int fd, void *buf, uint64_t n);
int pipe(int fds[2]);
int close(int fd);
int64_t sbrk(int64_t delta);
int mprotect(void *page, int rw);
int open(const char *name, int create);
int fsync(int fd);
int64_t pread(int fd, void *buf, uint64_t n, uint64_t off);
int64_t pwrite(int fd, const void *buf, uint64_t n, uint64_t off);
int sysinfo(struct sysinfo *si);
int getargs(char *buf, uint64_t n);
uint64_t mmio_lsr(void);
uint64_t tickwait(void);
int drain(void);
int yield(void);
int sleep(uint64_t ms);
uint64_t ebreaks(void);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
void printf(const char *fmt, ...);
/* snprintf into a fixed buffer, as printf formats */
void sformat(char *buf, size_t n, const char *fmt, ...);

static inline uint64_t rdtime(void) {
  uint64_t t;
  __asm__ volatile("rdtime %0" : "=r"(t));
  return t;
}

/* ---- the run (init.c), the self-tests (selftest.c), the benchmarks (ubench.c) ---- */
struct run_args {
  int selftest, bench, sync, hang_test, bench_fail_test;
  uint64_t iters;          /* 0: each benchmark's default */
  char bench_list[160];    /* run=bench:<a>,<b>: the names; empty: all */
};
extern struct run_args args;
int run_selftests(void);   /* the number failed */
int run_benchmarks(void);  /* the number failed */
#endif
