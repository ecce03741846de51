/** Polls `cond` every 10 ms; throws naming `what` if it is not met within `ms`. */
export async function until(cond: () => boolean, what = 'condition', ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
