// Entry point: node services/mmu/dist/main.js [--pool-mib N] [--listen host:port] [--nats url]
import { runService } from '@splitvisor/runtime';
import { mmuService } from './service.js';

runService(mmuService).catch((e: unknown) => {
  process.stderr.write(`mmu: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
