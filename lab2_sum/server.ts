/**
 * Lab 2 server: receives a name and an integer, shows both names and the
 * sum, replies with its own name and number. An integer outside 1..100 shuts
 * it down, as the handout asks.
 *
 * Run: `deno run --allow-net lab2_sum/server.ts [-a ADDR] [-p PORT] [--name NAME] [--number N]`
 *
 * @module
 */

import { formatPythonAddr } from "../common/addr.ts";
import {
  addressOption,
  helpOption,
  parseCli,
  parseNumber,
  parsePort,
  parseTimeoutMs,
  portOption,
  timeoutOption,
  traceOption,
  UsageError,
} from "../common/cli.ts";
import { runMain } from "../common/errors.ts";
import { logLine } from "../common/log.ts";
import { ProtocolError } from "../common/io.ts";
import { serveUntilInterrupted } from "../common/signals.ts";
import { type Connection, serveTcp, type TcpServer } from "../common/tcp_server.ts";
import {
  inRange,
  MAX_LINE,
  MAX_NUMBER,
  MIN_NUMBER,
  nameProblem,
  parseInteger,
  sumLine,
} from "./protocol.ts";

/** The server's name unless `--name` says otherwise. */
export const DEFAULT_NAME = "Server of Deno Socket Labs";

/** Options for {@linkcode serveSum}. */
export interface SumServerOptions {
  hostname?: string;
  port: number;
  /** The name sent to clients. */
  name?: string;
  /** The server's number, 1..100 (default: random, chosen at start). */
  number?: number;
  idleTimeoutMs?: number;
  trace?: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** A running sum server; `shutdownRequested` tells whether a client stopped it. */
export interface SumServer extends TcpServer {
  number: number;
  shutdownRequested(): boolean;
}

/**
 * Starts the lab 2 server.
 *
 * @example
 * ```ts
 * const server = serveSum({ port: 0, number: 17 });
 * server.close();
 * await server.finished;
 * ```
 */
export function serveSum(options: SumServerOptions): SumServer {
  const log = options.log ?? logLine;
  const name = options.name ?? DEFAULT_NAME;
  const number = options.number ?? MIN_NUMBER + Math.floor(Math.random() * MAX_NUMBER);
  let shutdown = false;

  const handler = async ({ wire, remoteAddr }: Connection) => {
    const peer = formatPythonAddr(remoteAddr);
    log(`Connected by: ${peer}`);
    const refuse = async (reason: string) => {
      log(`${peer}: ERROR ${reason}`);
      await wire.writeText(`ERROR ${reason}\n`);
    };
    let clientName: string | null, numberLine: string | null;
    try {
      clientName = await wire.readLine(MAX_LINE);
      numberLine = clientName === null ? null : await wire.readLine(MAX_LINE);
    } catch (error) {
      if (error instanceof ProtocolError) return await refuse(error.message);
      throw error;
    }
    if (clientName === null || numberLine === null) {
      return log(`${peer}: closed before sending a name and a number`);
    }
    const problem = nameProblem(clientName);
    if (problem) return await refuse(problem);
    const clientNumber = parseInteger(numberLine);
    if (clientNumber === undefined) {
      return await refuse(`not an integer: ${JSON.stringify(numberLine.slice(0, 40))}`);
    }
    if (!inRange(clientNumber)) {
      shutdown = true;
      await refuse(`${clientNumber} is outside ${MIN_NUMBER}..${MAX_NUMBER}: server shutting down`);
      log("Shutting down");
      server.close();
      return;
    }
    log(`Client's name: ${clientName}`);
    log(`Server's name: ${name}`);
    log(sumLine(clientNumber, number));
    await wire.writeText(`${name}\n${number}\n`);
  };

  const server = serveTcp({
    ...options,
    log,
    handler,
    timeoutMessage: "ERROR no complete request before the idle timeout\n",
  });
  return { ...server, number, shutdownRequested: () => shutdown };
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, usage } = parseCli({
      name: "lab2_sum/server.ts",
      summary:
        "Lab 2 server: adds each client's integer to its own and replies with its name and number.\n" +
        "A client integer outside 1..100 shuts the server down.",
      options: {
        address: addressOption("0.0.0.0", "address to listen on (:: for IPv6)"),
        port: portOption("12000", "port to listen on; 0 picks a free one"),
        name: { type: "string", arg: "NAME", default: DEFAULT_NAME, help: "the server's name" },
        number: { type: "string", arg: "N", help: "the server's number, 1..100 (default: random)" },
        timeout: timeoutOption("30", "close a connection idle this many seconds"),
        trace: traceOption,
        help: helpOption,
      },
      epilog: "example: deno run --allow-net lab2_sum/server.ts --name 'Server of Ann'",
    });
    const port = parsePort(values.port, "server", usage);
    const problem = nameProblem(values.name);
    if (problem) throw new UsageError(`invalid --name: ${problem}`, usage);
    const number = values.number === undefined
      ? undefined
      : parseNumber(values.number, "--number", { min: MIN_NUMBER, max: MAX_NUMBER }, usage);
    const server = serveSum({
      hostname: values.address,
      port,
      name: values.name,
      number,
      idleTimeoutMs: parseTimeoutMs(values.timeout, usage),
      trace: values.trace,
    });
    await serveUntilInterrupted(server, `Server waiting on ${formatPythonAddr(server.addr)}`);
  });
}
