/**
 * Stopping a server on Ctrl+C, portably.
 *
 * @module
 */

/**
 * Calls `stop` on Ctrl+C (and SIGTERM where the OS has it); returns a
 * function that removes the listeners.
 *
 * @example
 * ```ts
 * const server = Deno.listen({ port: 0 });
 * const unlisten = onInterrupt(server.close);
 * // ... serve until stopped ...
 * unlisten();
 * ```
 */
export function onInterrupt(stop: () => void): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  return () => {
    for (const s of signals) Deno.removeSignalListener(s, stop);
  };
}
