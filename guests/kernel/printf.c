/* kprintf, panic and the string helpers the compiler may also call. */
#include "kernel.h"
#include <stdarg.h>

void *memset(void *d, int c, size_t n) {
  uint8_t *p = d;
  if (((uintptr_t)p & 7) == 0 && (n & 7) == 0 && c == 0) {
    for (size_t i = 0; i < n / 8; i++) ((uint64_t *)p)[i] = 0;
    return d;
  }
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)c;
  return d;
}

void *memcpy(void *d, const void *s, size_t n) {
  uint8_t *a = d;
  const uint8_t *b = s;
  if ((((uintptr_t)a | (uintptr_t)b | n) & 7) == 0) {
    for (size_t i = 0; i < n / 8; i++) ((uint64_t *)a)[i] = ((const uint64_t *)b)[i];
    return d;
  }
  for (size_t i = 0; i < n; i++) a[i] = b[i];
  return d;
}

int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] - y[i];
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

int strncmp(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (a[i] != b[i]) return (uint8_t)a[i] - (uint8_t)b[i];
    if (!a[i]) return 0;
  }
  return 0;
}

int strcmp(const char *a, const char *b) { return strncmp(a, b, (size_t)-1); }

static void put_num(uint64_t v, int base, int width, char pad) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = "0123456789abcdef"[v % (uint64_t)base];
    v /= (uint64_t)base;
  } while (v);
  while (n < width) buf[n++] = pad;
  while (n) console_putc(buf[--n]);
}

static void vkprintf(const char *fmt, va_list ap) {
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      console_putc(*fmt);
      continue;
    }
    fmt++;
    char pad = ' ';
    int width = 0, lng = 0;
    if (*fmt == '0') pad = '0';
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l') { lng = 1; fmt++; }
    switch (*fmt) {
    case 'd': {
      int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
      if (v < 0) { console_putc('-'); v = -v; }
      put_num((uint64_t)v, 10, width, pad);
      break;
    }
    case 'u': put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, uint32_t), 10, width, pad); break;
    case 'x': put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, uint32_t), 16, width, pad); break;
    case 'p': console_write("0x", 2); put_num(va_arg(ap, uint64_t), 16, width, pad); break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      console_write(s ? s : "(null)", strlen(s ? s : "(null)"));
      break;
    }
    case 'c': console_putc((char)va_arg(ap, int)); break;
    case '%': console_putc('%'); break;
    default: console_putc('%'); console_putc(*fmt); break;
    }
  }
}

void kprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vkprintf(fmt, ap);
  va_end(ap);
}

static void vpanic(int code, const char *fmt, va_list ap) __attribute__((noreturn));
static void vpanic(int code, const char *fmt, va_list ap) {
  pv->csr_clear(PV_SSTATUS, 2);
  kprintf("kernel panic: ");
  vkprintf(fmt, ap);
  kprintf("\n");
  machine_exit(code);
}

void panic(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vpanic(2, fmt, ap);
}

void panic_code(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vpanic(code, fmt, ap);
}
