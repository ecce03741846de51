/*
 * The flattened device tree (devicetree specification v0.4, chapter 5): one pass over the
 * structure block, collecting what the kernel needs. Nothing of the machine is assumed that
 * the DTB does not say: RAM, UART, PLIC (and this hart's S-mode context, from
 * interrupts-extended), the sifive test device, the virtio-mmio slots, timebase, riscv,isa,
 * /chosen/bootargs.
 */
#include "kernel.h"

struct bootinfo boot;

#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9
#define MAX_DEPTH 8

static uint32_t be32(const void *p) {
  const uint8_t *b = p;
  return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static uint64_t cells(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 32) | be32(p + 4 * i);
  return v;
}

/* Does a compatible list (NUL-separated strings) hold `want`? */
static int compat_has(const char *list, uint32_t len, const char *want) {
  uint32_t i = 0;
  while (i < len) {
    if (strcmp(list + i, want) == 0) return 1;
    i += strlen(list + i) + 1;
  }
  return 0;
}

/* What one node says, kept until its end tag. */
struct node {
  const char *name;
  const char *compat;
  uint32_t compat_len;
  const uint8_t *reg;
  uint32_t reg_len;
  const uint8_t *irq_ext;
  uint32_t irq_ext_len;
  uint32_t irq, phandle, ndev;
  int has_irq, is_intc;
  const char *device_type;
  uint32_t addr_cells, size_cells; /* for children */
};

static uint32_t cpu_intc_phandle, want_cpu;
static const uint8_t *plic_irq_ext;
static uint32_t plic_irq_ext_len;

static void reg_of(const struct node *n, const struct node *parent, struct mmio_dev *d) {
  if (!n->reg) return;
  d->base = cells(n->reg, parent->addr_cells);
  d->size = cells(n->reg + 4 * parent->addr_cells, parent->size_cells);
  d->irq = n->has_irq ? n->irq : 0;
}

static int name_is(const char *name, const char *prefix) {
  size_t l = strlen(prefix);
  return strncmp(name, prefix, l) == 0 && (name[l] == '@' || name[l] == 0);
}

static uint64_t parse_hex_unit(const char *name) {
  const char *at = name;
  while (*at && *at != '@') at++;
  if (!*at) return UINT64_MAX;
  uint64_t v = 0;
  for (at++; *at; at++) {
    char c = *at;
    v = v * 16 + (uint64_t)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
  }
  return v;
}

static void node_end(struct node *st, int depth) {
  struct node *n = &st[depth], *parent = &st[depth > 0 ? depth - 1 : 0];
  if (n->device_type && strcmp(n->device_type, "memory") == 0 && n->reg) {
    boot.mem_base = cells(n->reg, parent->addr_cells);
    boot.mem_size = cells(n->reg + 4 * parent->addr_cells, parent->size_cells);
  } else if (n->compat && compat_has(n->compat, n->compat_len, "ns16550a") && !boot.uart.base) {
    reg_of(n, parent, &boot.uart);
  } else if (n->compat && (compat_has(n->compat, n->compat_len, "riscv,plic0") ||
                           compat_has(n->compat, n->compat_len, "sifive,plic-1.0.0"))) {
    reg_of(n, parent, &boot.plic);
    boot.plic_ndev = n->ndev;
    plic_irq_ext = n->irq_ext;
    plic_irq_ext_len = n->irq_ext_len;
  } else if (n->compat && compat_has(n->compat, n->compat_len, "sifive,test0")) {
    reg_of(n, parent, &boot.test);
  } else if (n->compat && compat_has(n->compat, n->compat_len, "virtio,mmio") && boot.nvirtio < MAX_VIRTIO) {
    reg_of(n, parent, &boot.virtio[boot.nvirtio++]);
  } else if (n->is_intc && depth >= 2 && name_is(st[depth - 1].name, "cpu") &&
             parse_hex_unit(st[depth - 1].name) == want_cpu) {
    cpu_intc_phandle = n->phandle;
  }
}

void fdt_parse(uint64_t dtb, uint64_t hartid) {
  const uint8_t *h = (const uint8_t *)dtb;
  if (be32(h) != 0xd00dfeed) panic("dtb at 0x%lx: bad magic 0x%x", dtb, be32(h));
  boot.hartid = hartid;
  boot.dtb_addr = dtb;
  boot.dtb_size = be32(h + 4);
  want_cpu = (uint32_t)hartid;
  const uint8_t *s = h + be32(h + 8);
  const char *strs = (const char *)h + be32(h + 12);
  struct node st[MAX_DEPTH];
  int depth = -1;
  for (;;) {
    uint32_t tok = be32(s);
    s += 4;
    if (tok == FDT_BEGIN_NODE) {
      if (++depth >= MAX_DEPTH) panic("dtb: nodes nested deeper than %d", MAX_DEPTH);
      memset(&st[depth], 0, sizeof st[depth]);
      st[depth].name = (const char *)s;
      st[depth].addr_cells = 2;
      st[depth].size_cells = 1;
      s += (strlen((const char *)s) + 1 + 3) & ~3UL; /* the name, NUL, padding to 4 */
    } else if (tok == FDT_END_NODE) {
      if (depth < 0) panic("dtb: unbalanced end of node");
      node_end(st, depth);
      depth--;
    } else if (tok == FDT_PROP) {
      uint32_t len = be32(s), nameoff = be32(s + 4);
      const uint8_t *val = s + 8;
      const char *pn = strs + nameoff;
      struct node *n = &st[depth];
      s += 8 + ((len + 3) & ~3U);
      if (depth < 0) panic("dtb: property outside a node");
      if (!strcmp(pn, "compatible")) { n->compat = (const char *)val; n->compat_len = len; }
      else if (!strcmp(pn, "reg")) { n->reg = val; n->reg_len = len; }
      else if (!strcmp(pn, "interrupts") && len >= 4) { n->irq = be32(val); n->has_irq = 1; }
      else if (!strcmp(pn, "interrupts-extended")) { n->irq_ext = val; n->irq_ext_len = len; }
      else if (!strcmp(pn, "phandle")) n->phandle = be32(val);
      else if (!strcmp(pn, "interrupt-controller")) n->is_intc = 1;
      else if (!strcmp(pn, "riscv,ndev")) n->ndev = be32(val);
      else if (!strcmp(pn, "device_type")) n->device_type = (const char *)val;
      else if (!strcmp(pn, "#address-cells")) n->addr_cells = be32(val);
      else if (!strcmp(pn, "#size-cells")) n->size_cells = be32(val);
      else if (!strcmp(pn, "timebase-frequency") && depth == 1) boot.timebase_hz = len == 8 ? cells(val, 2) : be32(val);
      else if (!strcmp(pn, "bootargs") && depth == 1 && name_is(st[1].name, "chosen")) {
        size_t l = len < sizeof boot.bootargs ? len : sizeof boot.bootargs - 1;
        memcpy(boot.bootargs, val, l);
        boot.bootargs[l] = 0;
      } else if (!strcmp(pn, "riscv,isa") && depth == 2 && parse_hex_unit(st[2].name) == want_cpu) {
        size_t l = len < sizeof boot.isa ? len : sizeof boot.isa - 1;
        memcpy(boot.isa, val, l);
        boot.isa[l] = 0;
      }
    } else if (tok == FDT_NOP) {
      continue;
    } else if (tok == FDT_END) {
      break;
    } else {
      panic("dtb: unknown token 0x%x", tok);
    }
  }
  /* The PLIC's interrupts-extended lists <intc-phandle irq> per context: ours is the one
     naming this hart's controller with the supervisor external interrupt (9). */
  boot.plic_ctx = 0xffffffff;
  for (uint32_t i = 0; i + 8 <= plic_irq_ext_len; i += 8)
    if (be32(plic_irq_ext + i) == cpu_intc_phandle && be32(plic_irq_ext + i + 4) == 9) boot.plic_ctx = i / 8;
  /* Sstc: a multi-letter extension in riscv,isa ("..._sstc_..."). */
  for (const char *p = boot.isa; *p; p++)
    if (p[0] == '_' && !strncmp(p + 1, "sstc", 4) && (p[5] == 0 || p[5] == '_')) boot.sstc = 1;
  if (!boot.mem_size) panic("dtb: no memory node");
  if (!boot.timebase_hz) panic("dtb: no /cpus timebase-frequency");
  if (!boot.uart.base) panic("dtb: no ns16550a uart");
  if (!boot.plic.base || boot.plic_ctx == 0xffffffff) panic("dtb: no PLIC context for hart %ld", hartid);
}
