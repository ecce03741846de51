// The mmu as a process: the host pool sized by --pool-mib, guest RAM in sparse files under
// --data-dir, recalls on the page caches' streams or else over NATS, the handlers on the
// gRPC server. On start it reopens the VMs it finds on disk and announces its new epoch so
// page caches re-register; on SIGTERM it closes the files (they stay for the next start).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subjects } from '@splitvisor/bus';
import { MmuStartedCodec, protos } from '@splitvisor/proto';
import { parseHostPort } from '@splitvisor/rpc';
import { parsers, type ServiceDefinition } from '@splitvisor/runtime';
import { FramePool } from './frame-pool.js';
import { mmuHandlers } from './handlers.js';
import { Mmu } from './mmu.js';
import { ensurePrivateDir } from './private-dir.js';
import { NatsRecaller } from './recaller.js';
import { StreamRecaller } from './recall-stream.js';

export interface MmuConfig {
  /** Host pool size in MiB: the most guest RAM this mmu will ever hold. */
  poolMib: number;
  /** Where guest RAM files and snapshots live; {port} is the listen port. */
  dataDir: string;
}

/** Announcements of a new epoch, after start: NATS core is at most once. */
const ANNOUNCE_AT_MS = [100, 1000, 3000];

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
    dataDir: {
      flag: 'data-dir',
      env: 'SPLITVISOR_MMU_DATA_DIR',
      help: 'guest RAM backing files and snapshots ({port}: the listen port)',
      // Per user, never shared: guest RAM is in there (private-dir.ts).
      default: join(tmpdir(), `splitvisor-mmu-${process.getuid?.() ?? 'user'}`, '{port}'),
      parse: (raw) => raw,
    },
  },
  async setup({ config, log, server, bus }) {
    const dataDir = config.dataDir.replace('{port}', String(parseHostPort(config.listen, '--listen').port));
    ensurePrivateDir(dataDir);
    const pool = FramePool.ofMib(config.poolMib);
    // Recalls on the streams page caches open (Mmu.RecallStream), NATS while none is open.
    // (`mmu` is asked only once a stream says hello, long after it exists.)
    const recaller: StreamRecaller = new StreamRecaller(new NatsRecaller(bus), bus, { hasVm: (vmId) => mmu.has(vmId) });
    const mmu = new Mmu(pool, {
      dataDir,
      recaller,
      onEvent: (msg, fields) => log.info(fields, msg),
    });
    const loaded = mmu.loadAll();
    server.add(protos().mmu.Mmu.service, mmuHandlers(mmu, log, { recallStreams: recaller }));
    log.info({ poolMib: config.poolMib, poolFrames: pool.capacity, dataDir, epoch: mmu.epoch, vmsFound: loaded.length }, 'host pool ready');
    const timers = ANNOUNCE_AT_MS.map((ms) => setTimeout(() => bus.publish(subjects.mmuStarted, MmuStartedCodec, { epoch: mmu.epoch }), ms));
    return {
      async stop() {
        for (const t of timers) clearTimeout(t);
        log.info(mmu.totals(), 'mmu resident at stop');
        mmu.close();
      },
    };
  },
};
