import { describe, expect, it } from 'vitest';
import { commonOptions, parseConfig, parsers, type OptionSpecs } from './index.js';

interface Cfg {
  nats: string;
  listen: string;
  logLevel: string;
  mmu: string;
  poolMib: number;
}
const specs: OptionSpecs<Cfg> = {
  ...commonOptions('cpu'),
  mmu: { flag: 'mmu', env: 'SPLITVISOR_MMU_ADDR', help: 'mmu address', parse: parsers.hostPort },
  poolMib: { flag: 'pool-mib', env: 'SPLITVISOR_MMU_POOL_MIB', help: 'pool', default: '1024', parse: parsers.positiveInt },
};

describe('service config', () => {
  it('takes flags over env over defaults', () => {
    const c = parseConfig(specs, ['--mmu', '127.0.0.1:1', '--pool-mib=64'], { SPLITVISOR_MMU_ADDR: 'x:2', SPLITVISOR_LISTEN: '0.0.0.0:9' });
    expect(c).toEqual({
      nats: 'nats://127.0.0.1:4222',
      listen: '0.0.0.0:9',
      logLevel: 'info',
      tlsDir: '',
      natsPasswordFile: '',
      natsReplicas: 1,
      startWait: 10,
      mmu: '127.0.0.1:1',
      poolMib: 64,
    });
  });

  it('names the flag or env variable and the value when something is wrong', () => {
    expect(() => parseConfig(specs, [], {})).toThrow('--mmu (or SPLITVISOR_MMU_ADDR) is required: mmu address');
    expect(() => parseConfig(specs, ['--mmu', 'nohost'], {})).toThrow('--mmu: "nohost" is not host:port');
    expect(() => parseConfig(specs, [], { SPLITVISOR_MMU_ADDR: 'h:1', SPLITVISOR_MMU_POOL_MIB: '-3' })).toThrow(
      'SPLITVISOR_MMU_POOL_MIB: "-3" is not a positive integer',
    );
    expect(() => parseConfig(specs, ['--mmu', 'h:1', '--bogus', '1'], {})).toThrow(/unknown flag --bogus \(known: --nats, --nats-replicas, --listen/);
    expect(() => parseConfig(specs, ['--mmu'], {})).toThrow('flag --mmu needs a value');
    expect(() => parseConfig(specs, ['--mmu', 'h:1', '--nats', 'http://x'], {})).toThrow('--nats: "http://x" is not a NATS URL');
    expect(() => parseConfig(specs, ['--mmu', 'h:1', '--log-level', 'loud'], {})).toThrow(/--log-level: log level: "loud"/);
    expect(() => parseConfig(specs, ['--mmu', 'h:1', '--nats', 'nats://a:1,http://b:2'], {})).toThrow('--nats: "http://b:2" is not a NATS URL');
    expect(() => parseConfig(specs, ['--mmu', 'h:1'], { SPLITVISOR_NATS_REPLICAS: '2' })).toThrow(
      'SPLITVISOR_NATS_REPLICAS: "2" is not a JetStream replica count (1, 3 or 5)',
    );
  });

  it("takes a NATS cluster's servers, comma-separated, and a replica count", () => {
    const c = parseConfig(specs, ['--mmu', 'h:1', '--nats', 'nats://cpu@a:1,nats://b:2,nats://c:3', '--nats-replicas', '3'], {});
    expect(c.nats).toBe('nats://cpu@a:1,nats://b:2,nats://c:3');
    expect((c as Cfg & { natsReplicas: number }).natsReplicas).toBe(3);
  });
});
