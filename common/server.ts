/**
 * What every server shares and no lab teaches: its shape, an accept that tells a lost client from
 * a sick server, and Ctrl+C. The accept loop itself stays in each lab's script.
 * @module
 */

import { holdIdleClock } from "./io.ts";

/** A running server, as every lab's `serveX()` returns it (like `Deno.HttpServer`). */
export interface Server extends AsyncDisposable {
  /** The bound address, with the real port when 0 was asked. */
  readonly addr: Deno.NetAddr;
  /** Resolves when the server and every connection it served are closed. */
  readonly finished: Promise<void>;
  /** Stops accepting and closes every open connection (idempotent). */
  close(): void;
}

const ACCEPT_RETRY_MS = 100;

/**
 * Yields connections until `listener` is closed. A client that reset before its accept is skipped;
 * another failure (out of descriptors) is logged once and retried every 100 ms.
 * @example
 * ```ts
 * using listener = Deno.listen({ port: 0 });
 * setTimeout(() => listener.close(), 10);
 * for await (const conn of acceptWithRetry(listener, console.log)) conn.close();
 * ```
 */
export async function* acceptWithRetry(
  listener: Deno.Listener<Deno.TcpConn>,
  log: (line: string) => void,
): AsyncGenerator<Deno.TcpConn> {
  // Connections that come one at a time share one idle clock, not one each.
  using _clock = holdIdleClock();
  let failures = 0;
  while (true) {
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
        return; // The listener was closed: the server is stopping.
      }
      if (
        error instanceof Deno.errors.NotConnected || error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.ConnectionAborted
      ) continue;
      if (failures++ === 0) {
        log(`accept failed: ${(error as Error).message}; retrying every ${ACCEPT_RETRY_MS} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
      continue;
    }
    if (failures > 0) log(`accept works again after ${failures} failed tries`);
    failures = 0;
    yield conn;
  }
}

/**
 * Closes every socket given, skipping any closed already (by the task that served it).
 * @example
 * ```ts
 * const listener = Deno.listen({ port: 0 });
 * closeAll([listener]);
 * closeAll([listener]); // no error
 * ```
 */
export function closeAll(sockets: Iterable<{ close(): void }>): void {
  for (const socket of sockets) {
    try {
      socket.close();
    } catch {
      // Closed already.
    }
  }
}

/**
 * Calls `stop` with the signal's name on Ctrl+C (SIGINT), and on SIGTERM where the OS has one
 * (not Windows), until disposed.
 * @example
 * ```ts
 * using _ = onInterrupt(() => console.log("stopping"));
 * ```
 */
export function onInterrupt(stop: (signal: "SIGINT" | "SIGTERM") => void): Disposable {
  const names = Deno.build.os === "windows" ? ["SIGINT"] as const : ["SIGINT", "SIGTERM"] as const;
  const handlers = names.map((name) => [name, () => stop(name)] as const);
  for (const [name, handler] of handlers) Deno.addSignalListener(name, handler);
  return {
    [Symbol.dispose]() {
      for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
    },
  };
}
