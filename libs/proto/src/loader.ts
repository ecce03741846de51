// Loads proto/ once, for gRPC (proto-loader) and for NATS payloads (protobufjs), with one
// set of conversion options so both sides see the same JS shapes: camelCase fields,
// 64-bit integers as numbers (exact below 2^53), enums as their names, defaults filled.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

import type { ProtoGrpcType as CpuProto } from './generated/cpu.js';
import type { ProtoGrpcType as MmuProto } from './generated/mmu.js';
import type { ProtoGrpcType as IoProto } from './generated/io.js';
import type { ProtoGrpcType as Dom0Proto } from './generated/dom0.js';
import type { ProtoGrpcType as HealthProto } from './generated/health.js';

/** proto/ at the repository root (libs/proto/{src,dist}/ -> ../../../proto). */
export const PROTO_ROOT: string = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = resolve(here, '../../../proto');
  if (!existsSync(dir)) throw new Error(`proto directory not found at ${dir}`);
  return dir;
})();

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

function loadPackage<T>(file: string): T {
  const def = protoLoader.loadSync(join(PROTO_ROOT, file), LOADER_OPTIONS);
  return grpc.loadPackageDefinition(def) as unknown as T;
}

export interface Protos {
  health: HealthProto['grpc']['health']['v1'];
  cpu: CpuProto['splitvisor']['cpu']['v1'];
  mmu: MmuProto['splitvisor']['mmu']['v1'];
  io: IoProto['splitvisor']['io']['v1'];
  dom0: Dom0Proto['splitvisor']['dom0']['v1'];
}

let cached: Protos | undefined;
/** Every gRPC package of the system, loaded once per process. */
export function protos(): Protos {
  cached ??= {
    health: loadPackage<HealthProto>('grpc/health/v1/health.proto').grpc.health.v1,
    cpu: loadPackage<CpuProto>('splitvisor/cpu/v1/cpu.proto').splitvisor.cpu.v1,
    mmu: loadPackage<MmuProto>('splitvisor/mmu/v1/mmu.proto').splitvisor.mmu.v1,
    io: loadPackage<IoProto>('splitvisor/io/v1/io.proto').splitvisor.io.v1,
    dom0: loadPackage<Dom0Proto>('splitvisor/dom0/v1/dom0.proto').splitvisor.dom0.v1,
  };
  return cached;
}

let eventsRoot: protobuf.Root | undefined;
/** The protobufjs root for NATS payloads (proto/splitvisor/events). */
export function eventsProto(): protobuf.Root {
  eventsRoot ??= protobuf.loadSync(join(PROTO_ROOT, 'splitvisor/events/v1/events.proto'));
  return eventsRoot;
}

let mmuRoot: protobuf.Root | undefined;
/** The protobufjs root for mmu's NATS payloads (recalls, MmuStarted in mmu.proto). */
export function mmuProto(): protobuf.Root {
  mmuRoot ??= protobuf.loadSync(join(PROTO_ROOT, 'splitvisor/mmu/v1/mmu.proto'));
  return mmuRoot;
}
