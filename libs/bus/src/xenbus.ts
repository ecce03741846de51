// Device setup and teardown between the toolstack and a device backend, as Xen's xenbus
// does it (xen/include/public/io/xenbus.h): each end of a device writes its XenbusState
// in the store and watches the other's. Here the store is the KV tree, one key per end:
// vm.<id>.device.<dev>.frontend (written by dom0, playing the toolstack and the guest's
// side) and vm.<id>.device.<dev>.backend (written by io-backend, after dom0 creates it).
//
//   dom0:  frontend, backend = Initialising      (the toolstack creates both ends)
//   io:    backend InitWait                     (probed: the device exists, state ready)
//   dom0:  frontend Initialised                 (the guest's end is set up)
//   io:    backend Connected                    (the device takes I/O)
//   dom0:  frontend Connected
// and down again:
//   dom0:  frontend Closing      io: backend Closing   (I/O stops, console flushed)
//   dom0:  frontend Closed       io: backend Closed    (detached; dom0 deletes both keys)

/** enum xenbus_state, by number. */
export const XENBUS_STATES = ['Unknown', 'Initialising', 'InitWait', 'Initialised', 'Connected', 'Closing', 'Closed', 'Reconfiguring', 'Reconfigured'] as const;
export type XenbusState = (typeof XENBUS_STATES)[number];
export type DeviceEnd = 'frontend' | 'backend';

/** The value of one end's key. */
export interface DeviceEndState {
  state: XenbusState;
  /** Which service wrote it. */
  by: string;
  /** ms since the epoch. */
  at: number;
  /** Why a backend refused (state Closed without ever connecting). */
  error?: string;
  /** What the toolstack tells the backend about the device, as Xen's backend/<type>/<dom>/<dev>
   *  directory (params, mode, mac, bridge ...): written by dom0 with the backend's first
   *  state, read by the backend when it is probed. Flat strings, as xenstore's are. */
  params?: Record<string, string>;
}

const DEVICE_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Throws naming the value when `id` cannot be a device id (one key token). */
export function checkDeviceId(id: string): string {
  if (!DEVICE_ID.test(id)) throw new Error(`device id: "${id}" must be 1-32 characters of a-z, 0-9, '_' and '-'`);
  return id;
}

export function encodeDeviceEnd(v: DeviceEndState): string {
  return JSON.stringify(v);
}

/** A key's value as an end state, or undefined when it is not one. */
export function decodeDeviceEnd(bytes: Uint8Array | string): DeviceEndState | undefined {
  try {
    const v = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8')) as Partial<DeviceEndState>;
    if (typeof v.state !== 'string' || !(XENBUS_STATES as readonly string[]).includes(v.state)) return undefined;
    return {
      state: v.state,
      by: String(v.by ?? ''),
      at: Number(v.at ?? 0),
      ...(typeof v.error === 'string' && { error: v.error }),
      ...(isStringRecord(v.params) && { params: v.params }),
    };
  } catch {
    return undefined;
  }
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** vm.<id>.device.<dev>.<end> into its parts, or undefined for any other key. */
export function parseDeviceKey(key: string): { vm: string; dev: string; end: DeviceEnd } | undefined {
  const m = /^vm\.([^.]+)\.device\.([^.]+)\.(frontend|backend)$/.exec(key);
  return m ? { vm: m[1]!, dev: m[2]!, end: m[3] as DeviceEnd } : undefined;
}
