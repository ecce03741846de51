// What a lab without mutual TLS and NATS users gives up (issue 11 item 6): printed whenever
// one starts (`splitvisor up --insecure`, `Lab.start({ secure: false })`), so that nobody
// runs one without being told.
export const INSECURE_LAB_WARNING = [
  'WARNING: this lab is INSECURE (no mutual TLS, no NATS users). Any local user or process that can reach its ports can:',
  '  - read and write any guest\'s RAM through mmu DMA (naming itself "io-backend" in metadata);',
  '  - create VMs whose images and disks name any host path this user can read or write;',
  '  - start, pause, stop and destroy any VM, and call the admin APIs of cpu, mmu and io-backend;',
  '  - publish console input, IRQ lines, doorbells and lifecycle events for any VM, and read every console;',
  '  - change or purge the JetStream streams and the VM state in KV.',
  'Use it only on a machine where every local user is trusted; `splitvisor up` without --insecure is secure.',
].join('\n');
