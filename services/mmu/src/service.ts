// The mmu as a process: the host pool sized by --pool-mib, the handlers on the gRPC server,
// and on SIGTERM a last word on what was resident (nothing to flush until RAM is backed by
// files).
import { protos } from '@splitvisor/proto';
import { parsers, type ServiceDefinition } from '@splitvisor/runtime';
import { FramePool } from './frame-pool.js';
import { mmuHandlers } from './handlers.js';
import { Mmu } from './mmu.js';

export interface MmuConfig {
  /** Host pool size in MiB: the most guest RAM this mmu will ever hold. */
  poolMib: number;
}

export const mmuService: ServiceDefinition<MmuConfig> = {
  name: 'mmu',
  grpcService: 'splitvisor.mmu.v1.Mmu',
  options: {
    poolMib: {
      flag: 'pool-mib',
      env: 'SPLITVISOR_MMU_POOL_MIB',
      help: 'host frame pool for all guest RAM, in MiB',
      default: '1024',
      parse: parsers.positiveInt,
    },
  },
  async setup({ config, log, server }) {
    const pool = FramePool.ofMib(config.poolMib);
    const mmu = new Mmu(pool);
    server.add(protos().mmu.Mmu.service, mmuHandlers(mmu, log));
    log.info({ poolMib: config.poolMib, poolFrames: pool.capacity }, 'host pool ready');
    return {
      async stop() {
        log.info(mmu.totals(), 'mmu resident at stop');
      },
    };
  },
};
