/**
 * Lab 2 server: receives a name and an integer, shows both names and the
 * sum, replies with its own name and number. An integer outside 1..100 shuts
 * it down, as the handout asks.
 *
 * Run: `deno run --allow-net lab2_sum/server.ts [PORT] [-a ADDR] [--name NAME] [--number N]`
 *
 * @module
 */

import { formatAddr } from "../common/addr.ts";
import { parseCli, parseNumber, parsePort, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { describeError, listening, runMain } from "../common/errors.ts";
import { IdleTimeoutError, withTimeout, writeAll } from "../common/io.ts";
import { ProtocolError, readAhead, readLine } from "../common/lines.ts";
import { logLine } from "../common/log.ts";
import { acceptWithRetry, onInterrupt } from "../common/server.ts";
import { escapeControl, quote, traced, tracer } from "../common/trace.ts";
import { inRange, MAX_LINE, nameProblem, parseMessage, RANGE } from "./protocol.ts";

/** The handout's port. */
export const DEFAULT_PORT = 12000;
/** The server's name unless `--name` says otherwise. */
export const DEFAULT_NAME = "Server of Deno Socket Labs";

/** Options for {@linkcode serveSum}. */
export interface SumServerOptions {
  /** Address to listen on (default `0.0.0.0`). */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** The name sent to clients. */
  name?: string;
  /** The server's number, 1..100 (default: random, chosen at start). */
  number?: number;
  /** Each request line must arrive within this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Print every socket read and write to stderr. */
  trace?: boolean;
  /** Where log lines go (default: stdout). */
  log?: (line: string) => void;
}

/**
 * Starts the lab 2 server.
 *
 * @example
 * ```ts
 * const server = serveSum({ port: 0, number: 17 });
 * console.log(server.addr.port);
 * server.close();
 * await server.finished;
 * ```
 */
export function serveSum(options: SumServerOptions) {
  const { log = logLine, name = DEFAULT_NAME, idleTimeoutMs = 30_000 } = options;
  const { min, max } = RANGE;
  const number = options.number ?? min + Math.floor(Math.random() * (max - min + 1));
  const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  // The connections being served, each with its task: close() ends them, `finished` awaits them.
  const open = new Map<Deno.TcpConn, Promise<void>>();
  let closing = false;

  async function serveOne(conn: Deno.TcpConn): Promise<void> {
    const peer = formatAddr(conn.remoteAddr, "python");
    log(`Connected by: ${peer}`);
    const socket = options.trace ? traced(conn, tracer(formatAddr(conn.remoteAddr))) : conn;
    const ahead = readAhead();
    // Each line whole within the idle timeout, however its bytes arrive.
    const nextLine = () => withTimeout(idleTimeoutMs, readLine(socket, ahead, MAX_LINE));
    const refuse = (reason: string) => {
      log(`${peer}: ERROR ${reason}`);
      // A client gone before its refusal is not the server's failure: what follows still runs.
      return writeAll(socket, new TextEncoder().encode(`ERROR ${reason}\n`)).catch(() => {});
    };
    try {
      // BEGIN SOLUTION read the two lines, check them, log the sum, reply with your name and number
      // Lines missing or not acceptable: a ProtocolError, refused below.
      const client = parseMessage(await nextLine(), await nextLine());
      if (!inRange(client.number)) {
        await refuse(`${client.number} is outside 1..100: server shutting down`);
        log("Shutting down");
        return close();
      }
      log(`Client's name: ${escapeControl(client.name)}`);
      log(`Server's name: ${name}`);
      log(`${client.number} + ${number} = ${client.number + number}`);
      await writeAll(socket, new TextEncoder().encode(`${name}\n${number}\n`));
      // END SOLUTION
    } catch (error) {
      // A line too long, not UTF-8, cut short, missing, not acceptable or never ended: the client
      // is told why (if it is still there), with what arrived of a line it never ended.
      if (error instanceof IdleTimeoutError) {
        const rest = new TextDecoder().decode(ahead.bytes.subarray(ahead.start, ahead.end));
        const got = `got ${ahead.end - ahead.start} bytes ${quote(rest.slice(0, 60))}`;
        const why = rest ? `${got} and no newline: each line ends with \\n` : undefined;
        await refuse(why ?? "no complete request before the idle timeout");
      } else if (error instanceof ProtocolError) await refuse(error.message);
      else if (!closing) log(`${peer}: ${describeError(error)}`);
    } finally {
      // Closed here, unless close() closed it already.
      if (open.delete(conn) && !closing) conn.close();
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
      name: "lab2_sum/server.ts",
      synopsis: "[PORT]",
      summary: "Lab 2 server: adds a client's integer to its own; one outside 1..100 stops it.",
      options: {
        port: { type: "string", short: "p", help: "port to listen on (default: 12000)" },
        address: { type: "string", short: "a", default: "0.0.0.0", help: "address to listen on" },
        name: { type: "string", default: DEFAULT_NAME, help: "the server's name" },
        number: { type: "string", arg: "N", help: "the server's number, 1..100 (default: random)" },
        timeout: { type: "string", arg: "SECONDS", default: "30", help: "limit for each line" },
        trace: { type: "boolean", help: "print every socket read and write to stderr" },
      },
      maxPositionals: 1,
    });
    const problem = nameProblem(values.name);
    if (problem) throw new UsageError(`invalid --name: ${problem}`, usage);
    const number = values.number === undefined
      ? undefined
      : parseNumber(values.number, "--number", RANGE, usage);
    // The handout's PORT argument, or -p PORT.
    const port = parsePort(positionals[0] ?? values.port ?? `${DEFAULT_PORT}`, "server", usage);
    const idleTimeoutMs = parseTimeoutMs(values.timeout, usage);
    const { address: hostname, name, trace } = values;
    const server = listening(
      port,
      () => serveSum({ hostname, port, name, number, idleTimeoutMs, trace }),
    );
    logLine(`Server waiting on ${formatAddr(server.addr, "python")}`);
    onInterrupt(() => {
      logLine("Shutting down");
      server.close();
    });
    await server.finished;
  });
}
