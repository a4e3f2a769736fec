/**
 * The concurrent TCP server loop every TCP lab stands on: accept, hand each
 * connection to its own task, close idle connections, survive any client,
 * and stop cleanly (closing every connection) on `close()`.
 *
 * @module
 */

import { formatAddr } from "./addr.ts";
import { describeError } from "./errors.ts";
import { logLine } from "./log.ts";
import { Wire } from "./io.ts";
import { stderrTracer } from "./trace.ts";

/** What a connection handler gets. */
export interface Connection {
  /** Buffered, traced, time-limited reads and writes. */
  wire: Wire;
  /** The peer's address. */
  remoteAddr: Deno.NetAddr;
}

/** Options for {@linkcode serveTcp}. */
export interface TcpServerOptions {
  /** Address to bind (default `0.0.0.0`). */
  hostname?: string;
  /** Port to bind; 0 picks any free port. */
  port: number;
  /** Serves one connection; an exception is logged and only ends that connection. */
  handler: (conn: Connection) => Promise<void>;
  /** Close a connection whose read or write waits this long (default 30 s; 0: never). */
  idleTimeoutMs?: number;
  /** Trace every read and write to stderr. */
  trace?: boolean;
  /** Sent before an idle connection is closed, e.g. `ERROR idle timeout\n`. */
  timeoutMessage?: string;
  /** Where log lines go (default: `logLine`, batched stdout). */
  log?: (line: string) => void;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
}

/** A running server. */
export interface TcpServer {
  /** The bound address, with the real port when 0 was asked. */
  addr: Deno.NetAddr;
  /** Stops accepting and closes every open connection. */
  close(): void;
  /** Resolves when the listener and every connection are closed. */
  finished: Promise<void>;
}

const ACCEPT_RETRY_MS = 100;

/**
 * Starts a concurrent TCP server.
 *
 * @example
 * ```ts
 * const server = serveTcp({
 *   port: 0,
 *   handler: async ({ wire }) => await wire.writeText("hello\n"),
 * });
 * server.close();
 * await server.finished;
 * ```
 */
export function serveTcp(options: TcpServerOptions): TcpServer {
  const log = options.log ?? logLine;
  const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  const open = new Set<Wire>();
  const tasks = new Set<Promise<void>>();
  let closing = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let wakeAcceptLoop = () => {};
  let acceptFailures = 0;

  const close = () => {
    if (closing) return;
    closing = true;
    clearTimeout(retryTimer);
    wakeAcceptLoop();
    try {
      listener.close();
    } catch {
      // Already closed.
    }
    for (const wire of open) wire.close();
  };
  options.signal?.addEventListener("abort", close, { once: true });

  const serveOne = async (conn: Deno.TcpConn) => {
    const remoteAddr = conn.remoteAddr;
    const label = formatAddr(remoteAddr);
    using wire = new Wire(conn, {
      timeoutMs: options.idleTimeoutMs ?? 30_000,
      trace: options.trace ? stderrTracer(label) : undefined,
      farewell: options.timeoutMessage
        ? new TextEncoder().encode(options.timeoutMessage)
        : undefined,
    });
    open.add(wire);
    try {
      await options.handler({ wire, remoteAddr });
    } catch (error) {
      if (!closing) {
        log(`${label}: ${wire.timedOut ? "idle timeout, closed" : describeError(error)}`);
      }
    } finally {
      open.delete(wire);
    }
  };

  const acceptLoop = async () => {
    while (!closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing || error instanceof Deno.errors.BadResource) break;
        // Out of file descriptors and the like: say so once, wait, and keep serving.
        if (acceptFailures++ === 0) {
          log(`accept failed: ${describeError(error)}; retrying every ${ACCEPT_RETRY_MS} ms`);
        }
        await new Promise<void>((resolve) => {
          wakeAcceptLoop = resolve;
          retryTimer = setTimeout(resolve, ACCEPT_RETRY_MS);
        });
        continue;
      }
      if (closing) {
        conn.close();
        break;
      }
      if (acceptFailures > 0) {
        log(`accept works again after ${acceptFailures} failed tries`);
        acceptFailures = 0;
      }
      const task = serveOne(conn).finally(() => tasks.delete(task));
      tasks.add(task);
    }
    while (tasks.size > 0) await Promise.allSettled([...tasks]);
    options.signal?.removeEventListener("abort", close);
  };

  return { addr: listener.addr as Deno.NetAddr, close, finished: acceptLoop() };
}
