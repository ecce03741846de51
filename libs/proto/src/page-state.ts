// The one place the proto's HeldState meets the directory protocol's PageState (libs/
// platform): the cpu writes a page's state into a recall's answer, the mmu reads it back.
import { PageState, type PageStateValue } from '@splitvisor/platform';
import type { HeldState, HeldState__Output } from './generated/splitvisor/mmu/v1/HeldState.js';

const BY_NAME = {
  HELD_INVALID: PageState.Invalid,
  HELD_SHARED: PageState.Shared,
  HELD_MODIFIED: PageState.Modified,
} as const satisfies Record<HeldState__Output, PageStateValue>;

// As numbers: the NATS codec turns enum names into numbers for top-level fields only, and
// a page state travels nested (RecalledPage.was).
const TO_WIRE = {
  [PageState.Invalid]: 0,
  [PageState.Shared]: 1,
  [PageState.Modified]: 2,
} as const satisfies Record<PageStateValue, HeldState & number>;
const FROM_NUMBER: readonly PageStateValue[] = [PageState.Invalid, PageState.Shared, PageState.Modified];

/** A page state as the proto's HeldState. */
export function heldStateOf(s: PageStateValue): HeldState {
  return TO_WIRE[s] ?? TO_WIRE[PageState.Invalid];
}

/** A proto HeldState (a name as decoded, or a number) as a page state; anything unknown
 *  reads as Invalid, the state that claims nothing. */
export function pageStateOf(h: HeldState | undefined): PageStateValue {
  if (typeof h === 'number') return FROM_NUMBER[h] ?? PageState.Invalid;
  return (h !== undefined && BY_NAME[h]) || PageState.Invalid;
}
