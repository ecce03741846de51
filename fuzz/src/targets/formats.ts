// The file formats dom0 reads: a device tree blob (devicetree spec v0.4 ch. 5), an ELF64
// image (ELF-64 Object File Format 1.5), and a VM config (YAML). Each parser has one error
// for bad input (FdtError, ElfError, ConfigError); anything else thrown is a bug.
import { parseVmConfig, ConfigError } from '@splitvisor/dom0/vm-config';
import { ElfError, parseElf } from '@splitvisor/elf';
import { FdtError, propCells, propStrings, readFdt, type FdtNode } from '@splitvisor/fdt';
import { REPO_SCOPE, type FuzzTarget } from '../engine/target.js';

function visit(n: FdtNode, depth: number): void {
  for (const p of n.props) {
    // Every value read both ways a consumer would: as cells and as strings.
    for (const read of [propCells, propStrings]) {
      try {
        read(p.value);
      } catch (e) {
        if (!(e instanceof FdtError)) throw e;
      }
    }
  }
  for (const c of n.children) visit(c, depth + 1);
}

export const fdt: FuzzTarget = {
  name: 'fdt',
  about: 'a flattened device tree blob (DTB), read whole and every property decoded',
  maxLen: 16 * 1024,
  expected: (e) => e instanceof FdtError,
  dictionary: [
    Uint8Array.of(0xd0, 0x0d, 0xfe, 0xed),
    Uint8Array.of(0, 0, 0, 1),
    Uint8Array.of(0, 0, 0, 2),
    Uint8Array.of(0, 0, 0, 3),
    Uint8Array.of(0, 0, 0, 4),
    Uint8Array.of(0, 0, 0, 9),
    Uint8Array.of(0, 0, 0, 17),
    Uint8Array.of(0, 0, 0, 16),
  ],
  run(data) {
    visit(readFdt(data).root, 0);
  },
};

export const elf: FuzzTarget = {
  name: 'elf',
  about: 'an ELF64 RISC-V image: program headers, segments, the symbol table',
  maxLen: 16 * 1024,
  expected: (e) => e instanceof ElfError,
  dictionary: [
    Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1),
    Uint8Array.of(243, 0),
    Uint8Array.of(1, 0, 0, 0),
    Uint8Array.of(2, 0, 0, 0),
    Uint8Array.of(0x38, 0),
    Uint8Array.of(0x40, 0),
  ],
  run(data) {
    parseElf(data);
  },
};

const utf8 = new TextDecoder();

export const vmConfig: FuzzTarget = {
  name: 'vm-config',
  about: "a VM config's YAML text, parsed and validated as `splitvisor create` does",
  maxLen: 4096,
  expected: (e) => e instanceof ConfigError,
  // The YAML library's own code guides too: structure (anchors, flow, tags) is half of it.
  scope: [...REPO_SCOPE, /\/node_modules\/yaml\//],
  dictionary: [
    'name: ',
    'memory: ',
    'image: ',
    'firmware: ',
    'kernel: ',
    'initrd: ',
    'bootargs: ',
    'vcpus: ',
    'mode: ',
    'on_poweroff: ',
    'on_reboot: ',
    'on_crash: ',
    'disks:\n  - ',
    'nics:\n  - ',
    'rng: ',
    'path: ',
    'mac: ',
    'net: ',
    'tftp: ',
    'slot: ',
    'readonly: ',
    'emulate',
    'restart',
    '64M',
    '4G',
    '&a ',
    '*a',
    '<<: ',
    '!!binary ',
    '{ ',
    '[ ',
    '\n  ',
  ],
  run(data) {
    parseVmConfig(utf8.decode(data), '/nonexistent/fuzz', 'fuzz.yaml');
  },
};
