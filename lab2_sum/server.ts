/**
 * Lab 2 server: receives a name and an integer, shows both names and the
 * sum, replies with its own name and number. An integer outside 1..100 shuts
 * it down, as the handout asks.
 *
 * Run: `deno run --allow-net lab2_sum/server.ts [-a ADDR] [-p PORT] [--name NAME] [--number N]`
 *
 * @module
 */

import { formatAddr } from "../common/addr.ts";
import {
  option,
  parseCli,
  parseNumber,
  parseTimeoutMs,
  serverPort,
  UsageError,
} from "../common/cli.ts";
import { describeError, runMain } from "../common/errors.ts";
import { IdleTimeoutError, ProtocolError, Wire } from "../common/wire.ts";
import { logLine } from "../common/log.ts";
import { acceptWithRetry, closeAll, onInterrupt, type Server } from "../common/server.ts";
import { escapeControl, quote, serverTracer } from "../common/trace.ts";
import {
  inRange,
  MAX_LINE,
  MAX_NUMBER,
  MIN_NUMBER,
  nameProblem,
  parseInteger,
  sumLine,
} from "./protocol.ts";

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
  /** Close a connection idle this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Print every socket read and write to stderr. */
  trace?: boolean;
  /** Where log lines go (default: stdout). */
  log?: (line: string) => void;
}

/** A running sum server; `shutdownRequested` tells whether a client stopped it. */
export interface SumServer extends Server {
  /** The server's number. */
  readonly number: number;
  /** Whether a client's out-of-range number stopped the server. */
  shutdownRequested(): boolean;
}

/** Sent to a client that sends nothing complete within the idle timeout. */
const IDLE_FAREWELL = new TextEncoder().encode(
  "ERROR no complete request before the idle timeout\n",
);

/**
 * Starts the lab 2 server.
 *
 * @example
 * ```ts
 * await using server = serveSum({ port: 0, number: 17 });
 * console.log(server.addr.port);
 * ```
 */
export function serveSum(options: SumServerOptions): SumServer {
  const log = options.log ?? logLine;
  const name = options.name ?? DEFAULT_NAME;
  const number = options.number ?? MIN_NUMBER + Math.floor(Math.random() * MAX_NUMBER);
  const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  // Each open connection and the task serving it, so close() can end them all.
  const open = new Map<Deno.TcpConn, Promise<void>>();
  let shutdown = false;

  async function serveOne(conn: Deno.TcpConn): Promise<void> {
    const peer = formatAddr(conn.remoteAddr, "python");
    log(`Connected by: ${peer}`);
    using wire = new Wire(conn, {
      timeoutMs: options.idleTimeoutMs ?? 30_000,
      trace: options.trace ? serverTracer(formatAddr(conn.remoteAddr)) : undefined,
      farewell: IDLE_FAREWELL,
    });
    const refuse = async (reason: string) => {
      log(`${peer}: ERROR ${reason}`);
      await wire.writeText(`ERROR ${reason}\n`);
    };
    try {
      // The request: two lines, read exactly, however the bytes arrive.
      const clientName = await wire.readLine(MAX_LINE);
      const numberLine = clientName === null ? null : await wire.readLine(MAX_LINE);
      if (clientName === null || numberLine === null) {
        return log(`${peer}: closed before sending a name and a number`);
      }
      const problem = nameProblem(clientName);
      if (problem) return await refuse(problem);
      const clientNumber = parseInteger(numberLine);
      if (clientNumber === undefined) {
        return await refuse(`not an integer: ${quote(numberLine.slice(0, 40))}`);
      }
      if (!inRange(clientNumber)) {
        shutdown = true;
        await refuse(
          `${clientNumber} is outside ${MIN_NUMBER}..${MAX_NUMBER}: server shutting down`,
        );
        log("Shutting down");
        return close();
      }
      log(`Client's name: ${escapeControl(clientName)}`);
      log(`Server's name: ${name}`);
      log(sumLine(clientNumber, number));
      await wire.writeText(`${name}\n${number}\n`);
    } catch (error) {
      if (error instanceof ProtocolError) return await refuse(error.message).catch(() => {});
      const why = error instanceof IdleTimeoutError ? "idle timeout, closed" : describeError(error);
      if (!closing) log(`${peer}: ${why}`);
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
  return {
    addr: listener.addr,
    finished,
    close,
    number,
    shutdownRequested: () => shutdown,
    [Symbol.asyncDispose]: () => (close(), finished),
  };
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab2_sum/server.ts",
      synopsis: "[PORT]",
      summary:
        "Lab 2 server: adds each client's integer to its own and replies with its name and number.\n" +
        "A client integer outside 1..100 shuts the server down.",
      options: {
        port: option.serverPort(DEFAULT_PORT),
        address: option.address("0.0.0.0", "address to listen on (:: for IPv6 and IPv4)"),
        name: { type: "string", arg: "NAME", default: DEFAULT_NAME, help: "the server's name" },
        number: { type: "string", arg: "N", help: "the server's number, 1..100 (default: random)" },
        timeout: option.timeout("30", "close a connection idle this many seconds"),
        trace: option.trace,
      },
      maxPositionals: 1,
      epilog: "example: deno run --allow-net lab2_sum/server.ts 12000 --name 'Server of Ann'",
    });
    const problem = nameProblem(values.name);
    if (problem) throw new UsageError(`invalid --name: ${problem}`, usage);
    const number = values.number === undefined
      ? undefined
      : parseNumber(values.number, "--number", { min: MIN_NUMBER, max: MAX_NUMBER }, usage);
    await using server = serveSum({
      hostname: values.address,
      port: serverPort(positionals, values.port, DEFAULT_PORT, usage),
      name: values.name,
      number,
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
