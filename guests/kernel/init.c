/*
 * init: the first process. Reads the boot arguments (run=selftest|bench|bench:<names>|all,
 * iters=<N>, sync, hang-test, bench-fail-test), runs what they ask and exits 0 when all of it
 * passed; the kernel then prints `kernel: done` and powers off (any other status: a failure).
 */
#include "ulib.h"

struct run_args args;

static int word_is(const char *w, size_t n, const char *s) { return n == strlen(s) && !strncmp(w, s, n); }

static void parse_args(const char *a) {
  int run_given = 0;
  while (*a) {
    while (*a == ' ') a++;
    const char *w = a;
    while (*a && *a != ' ') a++;
    size_t n = (size_t)(a - w);
    if (n > 4 && !strncmp(w, "run=", 4)) {
      run_given = 1;
      const char *v = w + 4;
      size_t vn = n - 4;
      if (word_is(v, vn, "selftest")) args.selftest = 1;
      else if (word_is(v, vn, "bench")) args.bench = 1;
      else if (word_is(v, vn, "all")) args.selftest = args.bench = 1;
      else if (vn > 6 && !strncmp(v, "bench:", 6) && vn - 6 < sizeof args.bench_list) {
        args.bench = 1;
        memcpy(args.bench_list, v + 6, vn - 6);
        args.bench_list[vn - 6] = 0;
      } else {
        printf("init: unknown run=%s (selftest, bench, bench:<names>, all)\n", v);
        exit(1);
      }
    } else if (n > 6 && !strncmp(w, "iters=", 6)) {
      args.iters = 0;
      for (size_t i = 6; i < n && w[i] >= '0' && w[i] <= '9'; i++) args.iters = args.iters * 10 + (uint64_t)(w[i] - '0');
    } else if (word_is(w, n, "sync")) args.sync = 1;
    else if (word_is(w, n, "hang-test")) args.hang_test = 1;
    else if (word_is(w, n, "bench-fail-test")) args.bench_fail_test = 1;
  }
  if (!run_given) args.selftest = 1;
}

/* hang-test: a process that never ends. Preemption still lets init run beside it; only the
   kernel's watchdog (watchdog=<s>) ends the run. */
static void hang(void) {
  int pid = fork();
  if (pid == 0)
    for (;;) __asm__ volatile("");
  sleep(50);
  printf("hang-test: pid %d spins for ever; init still runs beside it\n", pid);
  int status;
  wait(&status);
  printf("hang-test: the spinning process ended (status %d)\n", status);
  exit(1);
}

int main(void) {
  static char a[256];
  if (getargs(a, sizeof a) < 0) a[0] = 0;
  parse_args(a);
  if (args.hang_test) hang();
  int failed = 0;
  if (args.selftest) failed += run_selftests();
  if (args.bench) failed += run_benchmarks();
  drain();
  return failed ? 1 : 0;
}
