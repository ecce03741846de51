// The four services as processes: where each one's entry point is, its default port and the
// environment it reads. deploy/compose.yaml and deploy/services.json say the same; a test
// checks they agree.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ServiceName = 'mmu' | 'io-backend' | 'cpu' | 'dom0';

/** One process of a lab: a service, or an extra cpu node (`cpu-2`, `cpu-3`, …) beside the
 *  first one, which is plain `cpu`. */
export type InstanceName = ServiceName | `cpu-${number}`;

/** Which service an instance runs. */
export function serviceOf(instance: InstanceName): ServiceName {
  return instance.startsWith('cpu-') ? 'cpu' : (instance as ServiceName);
}

/** Start order follows the dependency direction: io-backend -> mmu; cpu -> {mmu, io}; dom0 -> all. */
export const SERVICE_ORDER: readonly ServiceName[] = ['mmu', 'io-backend', 'cpu', 'dom0'];

export const DEFAULT_PORTS: Record<ServiceName, number> = {
  dom0: 50051,
  cpu: 50052,
  mmu: 50053,
  'io-backend': 50054,
};

/** What every service reads: its NATS, its own TLS material and NATS password, where it
 *  listens, how much it logs, how long it waits at start for its material and NATS. */
const COMMON_ENV = [
  'SPLITVISOR_NATS_URL',
  'SPLITVISOR_NATS_PASSWORD_FILE',
  'SPLITVISOR_TLS_DIR',
  'SPLITVISOR_LISTEN',
  'SPLITVISOR_LOG_LEVEL',
  'SPLITVISOR_START_WAIT_S',
] as const;

/** The environment variables each service is given (flags of the same meaning exist too);
 *  SPLITVISOR_TLS_DIR and SPLITVISOR_NATS_PASSWORD_FILE name its own material in a secure
 *  lab (compose's is secure always; `splitvisor up --insecure` leaves them out).
 *  Optional ones are not here: dom0's SPLITVISOR_CPU_ADDR (static cpu nodes beside the node
 *  registry's), the cpu's SPLITVISOR_ADVERTISE_ADDR and SPLITVISOR_NODE_ID. */
export const SERVICE_ENV: Record<ServiceName, readonly string[]> = {
  mmu: [...COMMON_ENV, 'SPLITVISOR_MMU_POOL_MIB', 'SPLITVISOR_MMU_DATA_DIR'],
  'io-backend': [...COMMON_ENV, 'SPLITVISOR_MMU_ADDR'],
  cpu: [...COMMON_ENV, 'SPLITVISOR_MMU_ADDR', 'SPLITVISOR_IO_ADDR', 'SPLITVISOR_EXIT_DEADLINE_MS'],
  dom0: [...COMMON_ENV, 'SPLITVISOR_MMU_ADDR', 'SPLITVISOR_IO_ADDR', 'SPLITVISOR_MAX_VMS', 'SPLITVISOR_IMAGE_DIR', 'SPLITVISOR_UPLOAD_MAX'],
};

/** The repository root (libs/lab/{src,dist}/ -> ../../..). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export function serviceMain(name: ServiceName): string {
  return resolve(REPO_ROOT, 'services', name, 'dist', 'main.js');
}

export const CLI_MAIN = resolve(REPO_ROOT, 'services', 'dom0', 'dist', 'cli', 'main.js');
