/**
 * Counts the intervals `fn` starts through the global `setInterval`, so a test can tell one shared
 * timer from one per connection without timing anything.
 * @module
 */

/**
 * Runs `fn` and returns how many intervals were started while it ran.
 * @example
 * ```ts
 * const made = await countIntervals(async () => clearInterval(setInterval(() => {}, 1000)));
 * ```
 */
export async function countIntervals(fn: () => Promise<void>): Promise<number> {
  const real = globalThis.setInterval;
  let made = 0;
  globalThis.setInterval = ((...args: Parameters<typeof real>) => {
    made++;
    return real(...args);
  }) as typeof real;
  try {
    await fn();
  } finally {
    globalThis.setInterval = real;
  }
  return made;
}
