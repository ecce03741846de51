// Entry point: node services/io-backend/dist/main.js [--mmu host:port] [--listen host:port] [--nats url]
import { runService } from '@splitvisor/runtime';
import { ioBackendService } from './service.js';

runService(ioBackendService).catch((e: unknown) => {
  process.stderr.write(`io-backend: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
