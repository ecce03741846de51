// A VM's id, everywhere the same: dom0's `name`, the other services' `vm_id`, a NATS subject
// token (sv.vm.<id>.…) and a KV key part (vm.<id>.state). One parser makes a VmId from what
// a request, a config or a file says; a '.' or '*' in an id would let one VM's events land
// on another's subscribers, so nothing else may be one. A refusal is a VmIdError, which the
// rpc layer turns into INVALID_ARGUMENT (libs/rpc toRpcError, vmIdArg): the one mapping.

declare const vmIdBrand: unique symbol;
export type VmId = string & { readonly [vmIdBrand]: true };

const VM_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** How much of a refused value a message quotes: a hostile id cannot balloon it. */
const QUOTED = 80;

export class VmIdError extends Error {
  constructor(
    /** The field as the caller names it (name, vm_id, vmId, holder, network…). */
    readonly field: string,
    value: string,
  ) {
    const shown = value.length > QUOTED ? `${value.slice(0, QUOTED)}…` : value;
    super(`${field}: "${shown}" must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit`);
    this.name = 'VmIdError';
  }
}

/** `raw` as a VmId; throws a VmIdError naming `field` when it cannot be one. */
export function parseVmId(raw: string, field = 'vm id'): VmId {
  if (!VM_ID.test(raw)) throw new VmIdError(field, raw);
  return raw as VmId;
}

/** True when `raw` meets the rule (for names that share it: networks, holders). */
export function isVmId(raw: string): raw is VmId {
  return VM_ID.test(raw);
}
