/**
 * One clock for the idle connections of a server with many (lab3, the HTTP server), instead of a
 * timer per read and write: lab1 keeps a clock per connection in its own script, and lab2 limits
 * each line with `withTimeout` (io.ts).
 * @module
 */

/**
 * Closes each connection of `open` (each mapped to when it last moved) that has been idle for
 * `timeoutMs`, and forgets it: a server runs this every quarter of its timeout, one clock for all
 * its connections.
 * @example
 * ```ts
 * const open = new Map<Deno.TcpConn, number>();
 * const sweep = setInterval(() => closeIdle(open, 30_000), 7_500);
 * clearInterval(sweep);
 * ```
 */
export function closeIdle(open: Map<Deno.Conn, number>, timeoutMs: number): void {
  for (const [conn, lastMoved] of open) {
    if (performance.now() - lastMoved < timeoutMs) continue;
    open.delete(conn);
    conn.close();
  }
}
