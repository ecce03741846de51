import { describe, expect, it } from 'vitest';
import { PageState } from '@splitvisor/platform';
import { RecallReplyCodec } from './codec.js';
import { heldStateOf, pageStateOf } from './page-state.js';

describe('page state on the wire', () => {
  it('round-trips every state through a recall answer', () => {
    for (const s of Object.values(PageState)) {
      const bytes = RecallReplyCodec.encode({ id: 1, pages: [{ gfn: 7, was: heldStateOf(s), zero: true }] });
      const back = RecallReplyCodec.decode(bytes).pages[0]!;
      expect(pageStateOf(back.was)).toBe(s);
      expect(pageStateOf(heldStateOf(s))).toBe(s);
    }
  });

  it('reads a state it does not know as Invalid', () => {
    expect(pageStateOf(7 as never)).toBe(PageState.Invalid);
    expect(pageStateOf('HELD_BOGUS' as never)).toBe(PageState.Invalid);
    expect(pageStateOf(undefined)).toBe(PageState.Invalid);
  });
});
