/* User-side helpers: strings and a printf that writes one line per call to fd 1. */
#include "ulib.h"
#include <stdarg.h>

void *memset(void *d, int c, size_t n) {
  uint8_t *p = d;
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)c;
  return d;
}

void *memcpy(void *d, const void *s, size_t n) {
  uint8_t *a = d;
  const uint8_t *b = s;
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

struct out { char *buf; size_t n, len; };

static void put(struct out *o, char c) {
  if (o->len + 1 < o->n) o->buf[o->len++] = c;
}

static void put_num(struct out *o, uint64_t v, int base) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % (uint64_t)base];
    v /= (uint64_t)base;
  } while (v);
  while (n) put(o, tmp[--n]);
}

static void vformat(struct out *o, const char *fmt, va_list ap) {
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(o, *fmt);
      continue;
    }
    int lng = 0;
    while (*++fmt == 'l') lng = 1;
    switch (*fmt) {
    case 'd': {
      int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
      if (v < 0) { put(o, '-'); v = -v; }
      put_num(o, (uint64_t)v, 10);
      break;
    }
    case 'u': put_num(o, lng ? va_arg(ap, uint64_t) : va_arg(ap, uint32_t), 10); break;
    case 'x': put_num(o, lng ? va_arg(ap, uint64_t) : va_arg(ap, uint32_t), 16); break;
    case 's': for (const char *s = va_arg(ap, const char *); *s; s++) put(o, *s); break;
    case 'c': put(o, (char)va_arg(ap, int)); break;
    default: put(o, '%'); put(o, *fmt); break;
    }
  }
  o->buf[o->len] = 0;
}

void printf(const char *fmt, ...) {
  char buf[256];
  struct out o = {buf, sizeof buf, 0};
  va_list ap;
  va_start(ap, fmt);
  vformat(&o, fmt, ap);
  va_end(ap);
  write(1, buf, o.len);
}

void sformat(char *buf, size_t n, const char *fmt, ...) {
  struct out o = {buf, n, 0};
  va_list ap;
  va_start(ap, fmt);
  vformat(&o, fmt, ap);
  va_end(ap);
}
