/**
 * Lab 2 client: sends a name and an integer 1..100, shows both names and the
 * sum of both numbers. Values not given as flags are asked at the keyboard.
 *
 * Run: `deno run --allow-net=127.0.0.1:12000 lab2_sum/client.ts [--name NAME] [--number N]`
 *
 * @module
 */

import { option, parseCli, parsePort, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { formatAddr } from "../common/addr.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { Wire } from "../common/wire.ts";
import { ask } from "../common/stdin.ts";
import { escapeControl, stderrTracer } from "../common/trace.ts";
import {
  inRange,
  MAX_LINE,
  MAX_NUMBER,
  MIN_NUMBER,
  nameProblem,
  parseInteger,
  sumLine,
} from "./protocol.ts";

/** Options for {@linkcode exchangeSum}. */
export interface SumClientOptions {
  hostname: string;
  port: number;
  name: string;
  number: number;
  timeoutMs?: number;
  trace?: boolean;
}

/** The server's answer: its name and number, or the reason it gave for refusing. */
export type SumReply = { name: string; number: number } | { error: string };

/**
 * Sends the name and number, returns the server's reply.
 *
 * @example
 * ```ts
 * const reply = await exchangeSum({ hostname: "127.0.0.1", port: 12000, name: "Ann", number: 42 });
 * ```
 */
export async function exchangeSum(options: SumClientOptions): Promise<SumReply> {
  const { hostname, port } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname, port, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new Failure(
      `could not connect to ${formatAddr({ hostname, port })}: ${describeError(error)}`,
    );
  }
  using wire = new Wire(conn, { timeoutMs, trace: options.trace ? stderrTracer() : undefined });
  await wire.writeText(`${options.name}\n${options.number}\n`);
  // The reply: two lines, or one ERROR line. Each is read whole, however it arrives.
  const first = await wire.readLine(MAX_LINE);
  if (first === null) throw new Failure("the server closed the connection without answering");
  if (first.startsWith("ERROR")) return { error: first.replace(/^ERROR\s*/, "") };
  const problem = nameProblem(first);
  if (problem) throw new Failure(`the server's name is not acceptable: ${problem}`);
  const numberLine = await wire.readLine(MAX_LINE);
  const number = numberLine === null ? undefined : parseInteger(numberLine);
  if (number === undefined) {
    throw new Failure(
      `the server's reply is not a name and an integer: ${
        escapeControl(JSON.stringify(numberLine))
      }`,
    );
  }
  if (!inRange(number)) {
    throw new Failure(`the server's number ${number} is outside ${MIN_NUMBER}..${MAX_NUMBER}`);
  }
  return { name: first, number };
}

/** Asks until the answer passes `check` (which returns a problem, or undefined). */
async function askUntilValid(
  question: string,
  check: (answer: string) => string | undefined,
): Promise<string> {
  while (true) {
    const answer = await ask(question);
    if (answer === null) throw new Failure("standard input ended before a valid answer");
    const problem = check(answer.trim());
    if (!problem) return answer.trim();
    console.log(`Invalid: ${problem}. Try again.`);
  }
}

/** What a client that sends `n` should be told first: an out-of-range number stops the server. */
function shutdownNote(n: number): string | undefined {
  if (inRange(n)) return undefined;
  return `note: ${n} is outside ${MIN_NUMBER}..${MAX_NUMBER}: sending it will shut the server down`;
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, usage } = parseCli({
      name: "lab2_sum/client.ts",
      summary:
        "Lab 2 client: sends a name and an integer 1..100; shows the server's name and the sum.\n" +
        "Values not given as options are asked at the keyboard. An out-of-range --number stops the server.",
      options: {
        address: option.address("127.0.0.1", "server address"),
        port: option.port("12000", "server port"),
        name: { type: "string", arg: "NAME", help: "your name (asked if missing)" },
        number: { type: "string", arg: "N", help: "an integer 1..100 (asked if missing)" },
        timeout: option.timeout("10", "limit for connecting and for the reply"),
        trace: option.trace,
      },
      epilog:
        "example: deno run --allow-net=127.0.0.1:12000 lab2_sum/client.ts --name Ann --number 42",
    });
    const port = parsePort(values.port, "client", usage);
    const timeoutMs = parseTimeoutMs(values.timeout, usage);
    if (values.name !== undefined && nameProblem(values.name)) {
      throw new UsageError(`invalid --name: ${nameProblem(values.name)}`, usage);
    }
    let number: number | undefined;
    if (values.number !== undefined) {
      number = parseInteger(values.number);
      if (number === undefined) {
        throw new UsageError(`invalid --number '${values.number}': not an integer`, usage);
      }
    }
    const name = values.name ?? await askUntilValid("Enter your name: ", nameProblem);
    // As the handout has it, any integer typed is sent: one outside 1..100 stops the server.
    number ??= Number(
      await askUntilValid(
        `Enter an integer between ${MIN_NUMBER} and ${MAX_NUMBER}: `,
        (text) => parseInteger(text) === undefined ? "not an integer" : undefined,
      ),
    );
    const note = shutdownNote(number);
    if (note) console.error(note);

    const reply = await exchangeSum({
      hostname: values.address,
      port,
      name,
      number,
      timeoutMs,
      trace: values.trace,
    });
    if ("error" in reply) throw new Failure(`the server answered: ${escapeControl(reply.error)}`);
    console.log(`Client's name: ${name}`);
    console.log(`Server's name: ${reply.name}`);
    console.log(sumLine(number, reply.number));
  });
}
