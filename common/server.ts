/**
 * What every server shares and no lab teaches: an accept that tells a lost client from a sick
 * server, and Ctrl+C. The accept loop itself stays in each lab's script, and each lab's `serveX()`
 * returns the same shape: `addr` (the real port when 0 was asked), `finished` (resolves when the
 * server and every connection are closed) and `close()`.
 * @module
 */

const { BadResource, Interrupted, NotConnected, ConnectionReset, ConnectionAborted } = Deno.errors;
// A client that reset or went before its accept: the server is fine, the next one is accepted.
const LOST = [NotConnected, ConnectionReset, ConnectionAborted];

/**
 * Waits for the next connection: a client that reset before its accept is skipped; another
 * failure (out of descriptors) is logged once and retried every 100 ms. `null` once `listener` is
 * closed: the server is stopping.
 * @example
 * ```ts
 * const listener = Deno.listen({ port: 0 });
 * setTimeout(() => listener.close(), 10);
 * for (let conn; (conn = await acceptWithRetry(listener, console.log)) !== null;) conn.close();
 * ```
 */
export async function acceptWithRetry(listener: Deno.TcpListener, log: (line: string) => void) {
  for (let failures = 0;;) {
    try {
      return await listener.accept();
    } catch (error) {
      if (error instanceof BadResource || error instanceof Interrupted) return null;
      if (LOST.some((lost) => error instanceof lost)) continue;
      const why = `accept failed: ${(error as Error).message}; retrying every 100 ms`;
      if (failures++ === 0) log(why);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * Calls `stop` with the signal's name on Ctrl+C (SIGINT), and on SIGTERM where the OS has one
 * (not Windows); the function returned stops listening.
 * @example
 * ```ts
 * const stopListening = onInterrupt(() => console.log("stopping"));
 * stopListening();
 * ```
 */
export function onInterrupt(stop: (signal: "SIGINT" | "SIGTERM") => void): () => void {
  const names = Deno.build.os === "windows" ? ["SIGINT"] as const : ["SIGINT", "SIGTERM"] as const;
  const handlers = names.map((name) => [name, () => stop(name)] as const);
  for (const [name, handler] of handlers) Deno.addSignalListener(name, handler);
  return () => handlers.forEach(([name, handler]) => Deno.removeSignalListener(name, handler));
}
