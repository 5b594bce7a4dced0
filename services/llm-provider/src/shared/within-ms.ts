/**
 * Waits for `work` at most `ms`: its value, or undefined when the time ran out first (the work
 * itself goes on). The timer is cleared either way, so nothing keeps the process alive.
 */
export async function withinMs<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
