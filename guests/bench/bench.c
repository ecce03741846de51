/*
 * A compute-bound guest for `npm run bench -- cpu`: integer arithmetic, memory traffic,
 * branches and calls, in the spirit of CoreMark but our own code. Deterministic: it prints
 * one checksum, so Splitvisor and QEMU can be checked to have done the same work.
 */
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000)

static void putc_(char c) {
  while ((UART[5] & 0x20) == 0) {
  }
  UART[0] = (uint8_t)c;
}
static void puts_(const char *s) {
  while (*s) putc_(*s++);
}
static void puthex(uint64_t v) {
  for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}

/* Rounds of the whole mix: 30 for bench.elf; bench-long.elf (-DROUNDS=120) runs 4x the work,
 * so an engine's start-up (a translator's compiling) weighs less in its figure. */
#ifndef ROUNDS
#define ROUNDS 30
#endif

#define N 64
static int32_t ma[N][N], mb[N][N], mc[N][N];
static uint32_t list[4096];
static uint8_t text[8192];

/* Matrix multiply: integer multiply-adds and strided loads. */
static uint64_t matrix(uint32_t seed) {
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      seed = seed * 1103515245u + 12345u;
      ma[i][j] = (int32_t)(seed >> 16) % 100 - 50;
      mb[j][i] = (int32_t)(seed >> 8) % 100 - 50;
    }
  uint64_t sum = 0;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      int32_t acc = 0;
      for (int k = 0; k < N; k++) acc += ma[i][k] * mb[k][j];
      mc[i][j] = acc;
      sum += (uint32_t)acc;
    }
  return sum;
}

/* Insertion + merge-ish sorting: data-dependent branches and memory traffic. */
static void sort(uint32_t *a, int n) {
  for (int i = 1; i < n; i++) {
    uint32_t v = a[i];
    int j = i - 1;
    while (j >= 0 && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

static uint64_t sorting(uint32_t seed) {
  uint64_t sum = 0;
  for (int block = 0; block < 4096; block += 256) {
    for (int i = 0; i < 256; i++) {
      seed ^= seed << 13;
      seed ^= seed >> 17;
      seed ^= seed << 5;
      list[block + i] = seed;
    }
    sort(&list[block], 256);
    sum += list[block] ^ list[block + 255];
  }
  return sum;
}

/* A CRC over a text: byte loads, shifts, table-free branches. */
static uint32_t crc32(const uint8_t *p, int n) {
  uint32_t crc = ~0u;
  for (int i = 0; i < n; i++) {
    crc ^= p[i];
    for (int b = 0; b < 8; b++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

/* Recursion: calls and returns. */
static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

/* A small state machine over the text: switch dispatch. */
static uint32_t words(const uint8_t *p, int n) {
  uint32_t count = 0, state = 0;
  for (int i = 0; i < n; i++) {
    switch (p[i] % 4) {
      case 0: if (state == 1) count++; state = 0; break;
      case 1: state = 1; break;
      case 2: state = state ? 2 : 0; break;
      default: state ^= 1; break;
    }
  }
  return count;
}

int main(void) {
  uint64_t check = 0;
  for (int i = 0; i < (int)sizeof text; i++) text[i] = (uint8_t)(i * 7 + (i >> 3));
  for (int round = 0; round < ROUNDS; round++) {
    check += matrix(42 + round);
    check += sorting(7 + round);
    check += crc32(text, sizeof text);
    check += fib(18 + (uint32_t)(round % 4));
    check += words(text, sizeof text);
  }
  puts_("bench checksum ");
  puthex(check);
  puts_("\r\n");
  return 0;
}
