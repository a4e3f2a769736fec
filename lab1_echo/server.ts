/**
 * Lab 1 server: TCP upper-case echo (the handout's TCPServer.py, done properly).
 *
 * Run: `deno run --allow-net lab1_echo/server.ts [-a ADDR] [-p PORT] [--timeout SECONDS]`
 *
 * @module
 */

import { formatPythonAddr } from "../common/addr.ts";
import {
  addressOption,
  helpOption,
  parseCli,
  parsePort,
  parseTimeoutMs,
  portOption,
  timeoutOption,
  traceOption,
} from "../common/cli.ts";
import { runMain } from "../common/errors.ts";
import { logLine } from "../common/log.ts";
import { serveUntilInterrupted } from "../common/signals.ts";
import { type Connection, serveTcp, type TcpServer } from "../common/tcp_server.ts";

/** Options for {@linkcode serveEcho}. */
export interface EchoServerOptions {
  hostname?: string;
  port: number;
  /** Close a connection idle this long (default 30 s). */
  idleTimeoutMs?: number;
  trace?: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

// The log shows what the user sent, cut so a huge sentence cannot flood it.
const LOGGED_CHARS = 200;

/**
 * Starts the upper-case echo server: every byte a client sends comes back
 * upper-cased, as it arrives, until the client half-closes.
 *
 * @example
 * ```ts
 * const server = serveEcho({ port: 0 });
 * console.log(server.addr.port);
 * server.close();
 * await server.finished;
 * ```
 */
export function serveEcho(options: EchoServerOptions): TcpServer {
  const log = options.log ?? logLine;
  return serveTcp({ ...options, log, handler: (conn) => echoUpper(conn, log) });
}

async function echoUpper({ wire, remoteAddr }: Connection, log: (line: string) => void) {
  log(`Connected by: ${formatPythonAddr(remoteAddr)}`);
  // A streaming decoder keeps a multi-byte character split across reads whole.
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  // The wire's own buffer size: reads go straight into this chunk, and a
  // larger one (zero-filled for every connection) cost a tenth of the rate.
  const chunk = new Uint8Array(16 * 1024);
  let seen = "";
  try {
    while (true) {
      const n = await wire.read(chunk);
      const text = n === null
        ? decoder.decode()
        : decoder.decode(chunk.subarray(0, n), { stream: true });
      if (seen.length <= LOGGED_CHARS) seen += text;
      if (text) await wire.write(encoder.encode(text.toUpperCase()));
      if (n === null) break;
    }
  } finally {
    const shown = seen.length > LOGGED_CHARS ? `${seen.slice(0, LOGGED_CHARS)}...` : seen;
    log(`Data from connected user: ${JSON.stringify(shown).slice(1, -1)}`);
  }
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, usage } = parseCli({
      name: "lab1_echo/server.ts",
      summary: "TCP upper-case echo server: replies to every client with its text in upper case.",
      options: {
        address: addressOption("0.0.0.0", "address to listen on (:: or ::1 for IPv6)"),
        port: portOption("12000", "port to listen on; 0 picks a free one"),
        timeout: timeoutOption("30", "close a connection idle this many seconds"),
        trace: traceOption,
        help: helpOption,
      },
      epilog: "example: deno run --allow-net lab1_echo/server.ts -p 12000",
    });
    const server = serveEcho({
      hostname: values.address,
      port: parsePort(values.port, "server", usage),
      idleTimeoutMs: parseTimeoutMs(values.timeout, usage),
      trace: values.trace,
    });
    await serveUntilInterrupted(server, `Server waiting on ${formatPythonAddr(server.addr)}`);
  });
}
