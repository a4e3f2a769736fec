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
import { parseCli, parsePort, parseTimeoutMs } from "../common/cli.ts";
import { describeError, listening, runMain } from "../common/errors.ts";
import { writeAll } from "../common/io.ts";
import { logLine } from "../common/log.ts";
import { acceptWithRetry, onInterrupt } from "../common/server.ts";
import { quote, traced, tracer } from "../common/trace.ts";

/** The handout's port. */
export const DEFAULT_PORT = 12000;

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
 * const server = serveEcho({ port: 0 });
 * console.log(server.addr.port);
 * server.close();
 * await server.finished;
 * ```
 */
export function serveEcho(options: EchoServerOptions) {
  const { log = logLine, idleTimeoutMs = 30_000 } = options;
  const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  // The connections being served, each with its task: close() ends them, `finished` awaits them.
  const open = new Map<Deno.TcpConn, Promise<void>>();
  let closing = false;

  async function serveOne(conn: Deno.TcpConn): Promise<void> {
    const peer = formatAddr(conn.remoteAddr, "python");
    log(`Connected by: ${peer}`);
    const socket = options.trace ? traced(conn, tracer(formatAddr(conn.remoteAddr))) : conn;
    const buffer = new Uint8Array(16 * 1024);
    // A character cut between two reads is decoded whole on the next one.
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    // Closed once nothing has moved for idleTimeoutMs: a client gone silent, or one that stopped
    // reading its echo. One clock per connection, looking every quarter of the timeout: a timer
    // on each read and write (withTimeout) cost lab1 a quarter of its connections/s.
    let moved = performance.now();
    const idle = setInterval(() => {
      const quiet = performance.now() - moved >= idleTimeoutMs;
      if (quiet && !closing && open.delete(conn)) conn.close();
    }, idleTimeoutMs / 4);
    let sentence = "";
    try {
      // BEGIN SOLUTION read until the client half-closes, sending each piece back upper-cased
      // Read until the client half-closes; each piece goes back upper-cased as it comes.
      for (let n; (n = await socket.read(buffer)) !== null;) {
        moved = performance.now();
        const text = decoder.decode(buffer.subarray(0, n), { stream: true });
        sentence += sentence.length <= 200 ? text : ""; // The log shows 200 characters at most.
        await writeAll(socket, encoder.encode(text.toUpperCase()));
      }
      await writeAll(socket, encoder.encode(decoder.decode().toUpperCase()));
      // END SOLUTION
    } catch (error) {
      // Not in `open` any more: the idle clock closed it.
      const why = open.has(conn)
        ? describeError(error)
        : `idle for ${idleTimeoutMs / 1000} s, closed`;
      if (!closing) log(`${peer}: ${why}`);
    } finally {
      clearInterval(idle);
      // Closed here, unless the idle clock or close() closed it already.
      if (open.delete(conn) && !closing) conn.close();
      const more = sentence.length > 200 ? "..." : "";
      log(`Data from connected user: ${quote(sentence.slice(0, 200)).slice(1, -1)}${more}`);
    }
  }

  async function acceptLoop(): Promise<void> {
    for (let conn; (conn = await acceptWithRetry(listener, log)) !== null;) {
      // Not awaited: the next client is accepted while this one is served.
      open.set(conn, serveOne(conn));
      if (closing) conn.close(); // Accepted as close() ran: closed as the others were.
    }
    await Promise.all(open.values());
  }

  function close(): void {
    if (closing) return;
    closing = true;
    listener.close();
    for (const conn of open.keys()) conn.close();
  }

  return { addr: listener.addr, finished: acceptLoop(), close };
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab1_echo/server.ts",
      synopsis: "[PORT]",
      summary: "TCP upper-case echo server: replies to every client with its text in upper case.",
      options: {
        port: { type: "string", short: "p", help: "port to listen on (default: 12000)" },
        address: { type: "string", short: "a", default: "0.0.0.0", help: "address to listen on" },
        timeout: { type: "string", arg: "SECONDS", default: "30", help: "close idle connections" },
        trace: { type: "boolean", help: "print every socket read and write to stderr" },
      },
      maxPositionals: 1,
    });
    // The handout's PORT argument, or -p PORT.
    const port = parsePort(positionals[0] ?? values.port ?? `${DEFAULT_PORT}`, "server", usage);
    const idleTimeoutMs = parseTimeoutMs(values.timeout, usage);
    const { address: hostname, trace } = values;
    const server = listening(port, () => serveEcho({ hostname, port, idleTimeoutMs, trace }));
    logLine(`Server waiting on ${formatAddr(server.addr, "python")}`);
    onInterrupt(() => {
      logLine("Shutting down");
      server.close();
    });
    await server.finished;
  });
}
