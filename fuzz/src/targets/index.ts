// Every fuzz target, by the name `npm run fuzz -- <name>` takes.
import type { FuzzTarget } from '../engine/target.js';
import { elf, fdt, vmConfig } from './formats.js';
import { arp, dhcp, ethernet, icmp, ipv4, tftp, udp } from './netstack.js';
import { virtioMmio, virtqueue } from './virtio.js';

export const TARGETS: Readonly<Record<string, FuzzTarget>> = Object.fromEntries(
  [ethernet, arp, ipv4, udp, icmp, dhcp, tftp, virtqueue, virtioMmio, fdt, elf, vmConfig].map((t) => [t.name, t]),
);
