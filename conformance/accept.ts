/**
 * The accept loop the kit's own TCP servers share (its HTTP origin, its
 * relay): every connection handled on its own, and a close that ends the
 * loop, the open connections and their handlers.
 *
 * @module
 */

/** Closes a connection that may be closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed already */ }
}

/** A running accept loop. */
export interface Acceptor {
  /** Open connections; a handler may add others it opens, to be closed with them. */
  conns: Set<Deno.Conn>;
  /** Stops accepting, closes every connection, waits for the handlers. */
  close(): Promise<void>;
}

/**
 * Accepts connections on `listener` and runs `handle` for each.
 *
 * @example
 * ```ts
 * const acceptor = acceptAll(Deno.listen({ hostname: "127.0.0.1", port: 0 }), async (conn) => {
 *   await conn.write(new TextEncoder().encode("hi\n"));
 * });
 * await acceptor.close();
 * ```
 */
export function acceptAll(
  listener: Deno.Listener,
  handle: (conn: Deno.Conn) => Promise<void>,
): Acceptor {
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        const task = handle(conn).catch(() => {}).finally(() => {
          conns.delete(conn);
          closeQuietly(conn);
        });
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // Listener closed.
    }
  })();
  return {
    conns,
    async close() {
      try {
        listener.close();
      } catch { /* closed already */ }
      await loop;
      for (const conn of conns) closeQuietly(conn);
      await Promise.allSettled([...tasks]);
    },
  };
}
