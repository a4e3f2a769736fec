/**
 * Lab 1 server: TCP upper-case echo (the handout's TCPServer.py, done properly).
 *
 * The client sends its sentence and half-closes ("that was all"); the server
 * sends the bytes back upper-cased as they arrive, then closes. Many clients
 * are served at once, and one that goes silent is closed after `--timeout`.
 *
 * Run: `deno run --allow-net lab1_echo/server.ts [PORT] [-a ADDR] [--timeout SECONDS]`
 *
 * @module
 */

import { formatAddr } from "../common/addr.ts";
import { option, parseCli, parseTimeoutMs, serverPort } from "../common/cli.ts";
import { describeError, runMain } from "../common/errors.ts";
import { IdleTimeoutError, Wire } from "../common/io.ts";
import { logLine } from "../common/log.ts";
import { acceptWithRetry, closeAll, onInterrupt, type Server } from "../common/server.ts";
import { quote, serverTracer } from "../common/trace.ts";
import { ChunkPool } from "./chunk_pool.ts";
import { UpperCaser } from "./upper_case.ts";

/** The handout's port. */
export const DEFAULT_PORT = 12000;
/** How much of a sentence the log shows, so a huge one cannot flood it. */
const LOGGED_CHARS = 200;
/**
 * The read chunk: the size of the wire's own buffer, so reads go straight
 * into it. A zero-filled 64 KiB chunk per connection cost a tenth of the rate.
 */
const CHUNK_BYTES = 16 * 1024;
// Each connection reads into a chunk that an earlier one gave back (chunk_pool.ts).
const chunks = new ChunkPool(CHUNK_BYTES);

/** Options for {@linkcode serveEcho}. */
export interface EchoServerOptions {
  /** Address to listen on (default `0.0.0.0`). */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Close a connection idle this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Print every socket read and write to stderr. */
  trace?: boolean;
  /** Where log lines go (default: stdout). */
  log?: (line: string) => void;
}

/**
 * Starts the upper-case echo server.
 *
 * @example
 * ```ts
 * await using server = serveEcho({ port: 0 });
 * console.log(server.addr.port);
 * ```
 */
export function serveEcho(options: EchoServerOptions): Server {
  const log = options.log ?? logLine;
  const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  // Each open connection and the task serving it, so close() can end them all.
  const open = new Map<Deno.TcpConn, Promise<void>>();

  async function serveOne(conn: Deno.TcpConn): Promise<void> {
    log(`Connected by: ${formatAddr(conn.remoteAddr, "python")}`);
    using wire = new Wire(conn, {
      timeoutMs: options.idleTimeoutMs ?? 30_000,
      trace: options.trace ? serverTracer(formatAddr(conn.remoteAddr)) : undefined,
    });
    const chunk = chunks.take();
    const upper = new UpperCaser(LOGGED_CHARS);
    try {
      // The sentence: every read upper-cased and sent back as it comes.
      for (let n; (n = await wire.read(chunk)) !== null;) {
        const reply = upper.push(chunk.subarray(0, n));
        if (reply.length > 0) await wire.write(reply);
      }
      // End of stream: the client half-closed, its sentence is complete.
      const rest = upper.end();
      if (rest.length > 0) await wire.write(rest);
    } catch (error) {
      const why = error instanceof IdleTimeoutError ? "idle timeout, closed" : describeError(error);
      if (!closing) log(`${formatAddr(conn.remoteAddr, "python")}: ${why}`);
    } finally {
      // No read or write is pending: the next connection may use the chunk.
      chunks.give(chunk);
      const seen = upper.seen;
      const shown = seen.length > LOGGED_CHARS ? `${seen.slice(0, LOGGED_CHARS)}...` : seen;
      log(`Data from connected user: ${quote(shown).slice(1, -1)}`);
    }
  }

  async function acceptLoop(): Promise<void> {
    for await (const conn of acceptWithRetry(listener, log)) {
      // Not awaited: the next client is accepted while this one is served.
      open.set(conn, serveOne(conn).finally(() => open.delete(conn)));
    }
    await Promise.all(open.values());
  }

  let closing = false;
  const close = () => {
    closing = true;
    closeAll([listener, ...open.keys()]);
  };
  const finished = acceptLoop();
  return { addr: listener.addr, finished, close, [Symbol.asyncDispose]: () => (close(), finished) };
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab1_echo/server.ts",
      synopsis: "[PORT]",
      summary: "TCP upper-case echo server: replies to every client with its text in upper case.",
      options: {
        port: option.serverPort(DEFAULT_PORT),
        address: option.address("0.0.0.0", "address to listen on (:: for IPv6 and IPv4)"),
        timeout: option.timeout("30", "close a connection idle this many seconds"),
        trace: option.trace,
      },
      maxPositionals: 1,
      epilog: "example: deno run --allow-net lab1_echo/server.ts 12000",
    });
    await using server = serveEcho({
      hostname: values.address,
      port: serverPort(positionals, values.port, DEFAULT_PORT, usage),
      idleTimeoutMs: parseTimeoutMs(values.timeout, usage),
      trace: values.trace,
    });
    logLine(`Server waiting on ${formatAddr(server.addr, "python")}`);
    using _ = onInterrupt(() => {
      logLine("Shutting down");
      server.close();
    });
    await server.finished;
  });
}
