/* The PLIC (riscv,plic0; PLIC spec 1.0.0 §3-§8): priorities, this hart's S-mode context's
   enables, threshold and claim/complete, at the base and context the DTB gives. */
#include "kernel.h"

static volatile uint32_t *reg(uint64_t off) { return (volatile uint32_t *)(boot.plic.base + off); }

void plic_init(void) {
  *reg(0x200000 + 0x1000UL * boot.plic_ctx) = 0; /* threshold: every priority above 0 */
}

void plic_enable(uint32_t irq) {
  if (!irq || (boot.plic_ndev && irq > boot.plic_ndev)) panic("plic: source %u out of range (ndev %u)", irq, boot.plic_ndev);
  *reg(4UL * irq) = 1;
  *reg(0x2000 + 0x80UL * boot.plic_ctx + 4 * (irq / 32)) |= 1U << (irq % 32);
}

uint32_t plic_claim(void) { return *reg(0x200004 + 0x1000UL * boot.plic_ctx); }

void plic_complete(uint32_t irq) { *reg(0x200004 + 0x1000UL * boot.plic_ctx) = irq; }
