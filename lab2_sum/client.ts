/**
 * Lab 2 client: sends a name and an integer 1..100, shows both names and the
 * sum of both numbers. Values not given as flags are asked at the keyboard.
 *
 * Run: `deno run --allow-net=127.0.0.1 lab2_sum/client.ts [--name NAME] [--number N]`
 *
 * @module
 */

import { formatAddr } from "../common/addr.ts";
import { parseCli, parsePort, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { withTimeout, writeAll } from "../common/io.ts";
import { readAhead, readLine } from "../common/lines.ts";
import { ask } from "../common/stdin.ts";
import { escapeControl, quote, traced, tracer } from "../common/trace.ts";
import { inRange, MAX_LINE, nameProblem, parseInteger, parseMessage, REFUSAL } from "./protocol.ts";

/** Options for {@linkcode exchangeSum}. */
export interface SumClientOptions {
  hostname: string;
  port: number;
  name: string;
  number: number;
  /** Limit for the connect and for each reply line (default 10 s). */
  timeoutMs?: number;
  trace?: boolean;
}

/** The server's answer: its name and its number. */
export type SumReply = { name: string; number: number };

/**
 * Sends the name and number, returns the server's name and number; a {@linkcode Failure} if it
 * refused (its `ERROR` line) or broke the protocol.
 *
 * @example
 * ```ts
 * const reply = await exchangeSum({ hostname: "127.0.0.1", port: 12000, name: "Ann", number: 42 });
 * ```
 */
export async function exchangeSum(options: SumClientOptions): Promise<SumReply> {
  const { hostname, port, timeoutMs = 10_000 } = options;
  const conn = await Deno.connect({ hostname, port, signal: AbortSignal.timeout(timeoutMs) })
    .catch((error) => {
      throw new Failure(`could not connect to ${formatAddr(options)}: ${describeError(error)}`);
    });
  const socket = options.trace ? traced(conn, tracer(undefined, console.error)) : conn;
  // A reply is two lines of at most MAX_LINE: a read-ahead of four holds all of it from its first
  // byte, so a failure part way can show what arrived.
  const ahead = readAhead(4 * MAX_LINE);
  const nextLine = () => withTimeout(timeoutMs, readLine(socket, ahead, MAX_LINE));
  try {
    // BEGIN SOLUTION send the name and the number, one line each
    await writeAll(socket, new TextEncoder().encode(`${options.name}\n${options.number}\n`));
    // END SOLUTION
    // BEGIN SOLUTION read the reply: the server's name and number, or its ERROR line
    const name = await nextLine();
    if (name !== null && REFUSAL.test(name)) {
      throw new Failure(`the server answered: ${escapeControl(name.replace(/^ERROR\s*/, ""))}`);
    }
    // Lines missing or not acceptable: a ProtocolError, told below with what arrived.
    const reply = parseMessage(name, await nextLine());
    if (!inRange(reply.number)) {
      throw new Failure(`the server's number ${reply.number} is outside 1..100`);
    }
    return reply;
    // END SOLUTION
  } catch (error) {
    // Ours say what went wrong already; so does a failure before any byte of the reply.
    if (error instanceof Failure || ahead.end === 0) throw error;
    const text = new TextDecoder().decode(ahead.bytes.subarray(0, ahead.end));
    const arrived = `${ahead.end} bytes of the reply: ${quote(text.slice(0, 60))}`;
    throw new Failure(`${describeError(error)} after ${arrived}`);
  } finally {
    conn.close();
  }
}

/** Asks `question` until the answer passes `check` (which returns a problem, or undefined). */
async function askUntilValid(question: string, check: (answer: string) => string | undefined) {
  for (let answer; (answer = (await ask(question))?.trim()) !== undefined;) {
    const problem = check(answer);
    if (!problem) return answer;
    console.log(`Invalid: ${problem}. Try again.`);
  }
  throw new Failure("standard input ended before a valid answer");
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, usage } = parseCli({
      name: "lab2_sum/client.ts",
      summary: "Lab 2 client: sends a name and an integer; shows the sum. Asks for any not given.",
      options: {
        address: { type: "string", short: "a", default: "127.0.0.1", help: "server address" },
        port: { type: "string", short: "p", default: "12000", help: "server port" },
        name: { type: "string", help: "your name (asked if missing)" },
        number: { type: "string", arg: "N", help: "an integer 1..100 (asked if missing)" },
        timeout: { type: "string", arg: "SECONDS", default: "10", help: "connect and reply limit" },
        trace: { type: "boolean", help: "print every socket read and write to stderr" },
      },
    });
    const port = parsePort(values.port, "client", usage);
    const timeoutMs = parseTimeoutMs(values.timeout, usage);
    // An option's value is checked as a typed answer is; a wrong one is a usage error (exit 2).
    const notInteger = (text: string) => parseInteger(text) === undefined ? "not an integer" : "";
    const nameIssue = values.name === undefined ? undefined : nameProblem(values.name);
    if (nameIssue) throw new UsageError(`invalid --name: ${nameIssue}`, usage);
    const numberIssue = values.number === undefined ? undefined : notInteger(values.number);
    if (numberIssue) throw new UsageError(`invalid --number: ${numberIssue}`, usage);
    const name = values.name ?? await askUntilValid("Enter your name: ", nameProblem);
    // As the handout has it, any integer typed is sent: one outside 1..100 stops the server, which
    // says so in its reply.
    const question = "Enter an integer between 1 and 100: ";
    const number = Number(values.number ?? await askUntilValid(question, notInteger));
    const { address: hostname, trace } = values;
    const reply = await exchangeSum({ hostname, port, timeoutMs, trace, name, number });
    console.log(`Client's name: ${name}`);
    console.log(`Server's name: ${reply.name}`);
    console.log(`${number} + ${reply.number} = ${number + reply.number}`);
  });
}
