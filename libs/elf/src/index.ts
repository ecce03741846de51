// @splitvisor/elf: the ELF64 reader dom0's image loader and `splitvisor exec` share.
export { EM_RISCV, ElfError, isElf, parseElf, type ElfImage, type ElfSegment } from './elf.js';
