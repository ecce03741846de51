# Shared rules for one guest folder: set NAME (and ARCH if the guest needs more than
# rv64i) before including this. Builds $(NAME).elf and the flat $(NAME).bin; both are
# committed so the lab and the tests run without the RISC-V toolchain.
CROSS   ?= riscv64-unknown-elf-
CC      := $(CROSS)gcc
OBJCOPY := $(CROSS)objcopy
ARCH    ?= -march=rv64i -mabi=lp64
ASFLAGS := $(ARCH) -mcmodel=medany
LDFLAGS := -nostdlib -nostartfiles $(ARCH) -mcmodel=medany -Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-T,../link.ld

all: $(NAME).elf $(NAME).bin

# Assemble and link in two steps so the ELF's file symbol is $(NAME).S, not a
# random temporary name: the same source then gives the same bytes every time.
$(NAME).o: $(NAME).S Makefile ../common.mk $(wildcard ../*.inc)
	$(CC) $(ASFLAGS) -c -o $@ $<

$(NAME).elf: $(NAME).o ../link.ld
	$(CC) $(LDFLAGS) -o $@ $<

$(NAME).bin: $(NAME).elf
	$(OBJCOPY) -O binary $< $@

clean:
	rm -f $(NAME).elf $(NAME).bin *.o

.PHONY: all clean
