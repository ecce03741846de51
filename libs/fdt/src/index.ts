// @splitvisor/fdt: a flattened device tree (DTB) writer and reader, and the QEMU `virt`
// machine's tree built from the machine table.
export { node, prop, cellsOf, u64CellsOf, Phandles, FdtError, type FdtNode, type FdtProp, type Phandle } from './tree.js';
export {
  writeFdt,
  FDT_MAGIC,
  FDT_VERSION,
  FDT_LAST_COMP_VERSION,
  FDT_HEADER_SIZE,
  FDT_BEGIN_NODE,
  FDT_END_NODE,
  FDT_PROP,
  FDT_NOP,
  FDT_END,
  type MemReserve,
  type WriteOptions,
} from './writer.js';
export { readFdt, readFdtHeader, findNode, getProp, propCells, propStrings, type FdtHeader, type ParsedFdt } from './reader.js';
export { buildVirtDtb, virtTree, VIRT_ISA, VIRT_ISA_H, VIRT_MMU_TYPE, VIRT_STDOUT_PATH, UART0_CLOCK_HZ, type VirtDtbOptions } from './virt.js';
