/**
 * Lab 1 client: sends a sentence, prints the server's upper-case reply
 * (the handout's TCPClient.py, done properly).
 *
 * Run: `deno run --allow-net=127.0.0.1 lab1_echo/client.ts [SENTENCE...]`
 *
 * @module
 */

import { formatAddr } from "../common/addr.ts";
import { parseCli, parsePort, parseTimeoutMs } from "../common/cli.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { withTimeout, writeAll } from "../common/io.ts";
import { ask } from "../common/stdin.ts";
import { escapeControl, quote, traced, tracer } from "../common/trace.ts";

/** Options for {@linkcode echoOnce}. */
export interface EchoClientOptions {
  hostname: string;
  port: number;
  sentence: string;
  /** Limit for the connect and for each wait on the reply (default 10 s). */
  timeoutMs?: number;
  trace?: boolean;
}

/**
 * Sends `sentence`, half-closes, and returns the whole reply.
 *
 * @example
 * ```ts
 * const reply = await echoOnce({ hostname: "127.0.0.1", port: 12000, sentence: "hi" });
 * ```
 */
export async function echoOnce(options: EchoClientOptions): Promise<string> {
  const { hostname, port, timeoutMs = 10_000 } = options;
  const conn = await Deno.connect({ hostname, port, signal: AbortSignal.timeout(timeoutMs) })
    .catch((error) => {
      throw new Failure(`could not connect to ${formatAddr(options)}: ${describeError(error)}`);
    });
  const socket = options.trace ? traced(conn, tracer(undefined, console.error)) : conn;
  const data = new TextEncoder().encode(options.sentence);
  const decoder = new TextDecoder();
  let reply = "";
  let received = 0;
  try {
    // BEGIN SOLUTION send the sentence, then half-close, while the reply is read below
    // Sent while the reply is read, so a server that echoes as it reads never waits on us.
    const sending = writeAll(socket, data).then(() => conn.closeWrite());
    sending.catch(() => {}); // A send error is thrown below, after what the server replied.
    // END SOLUTION
    // BEGIN SOLUTION read the reply until the server closes, each wait within timeoutMs
    // The reply is everything until the server closes, however many reads it takes.
    const buffer = new Uint8Array(16 * 1024);
    const limit = data.length * 3 + 1024; // Upper case can take more bytes (ΐ: 2, upper 6).
    for (let n; (n = await withTimeout(timeoutMs, socket.read(buffer))) !== null;) {
      received += n;
      if (received > limit) throw new Failure(`the reply is longer than ${limit} bytes`);
      reply += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    reply += decoder.decode();
    await withTimeout(timeoutMs, sending);
    if (received === 0 && data.length > 0) throw new Failure("the server closed without replying");
    // END SOLUTION
    return reply;
  } catch (error) {
    // A server that closed before it read the whole sentence (the handout's one recv()) ends here.
    if (error instanceof Failure || received === 0) throw error;
    const why = `${describeError(error)} after ${received} bytes of the reply`;
    throw new Failure(`${why}: ${quote(reply.slice(0, 60))}`);
  } finally {
    conn.close();
  }
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab1_echo/client.ts",
      synopsis: "[SENTENCE...]",
      summary: "Sends a sentence to the lab 1 server and prints its upper-case reply.\n" +
        "Without a sentence it asks for one on stdin.",
      options: {
        address: { type: "string", short: "a", default: "127.0.0.1", help: "server address" },
        port: { type: "string", short: "p", default: "12000", help: "server port" },
        timeout: { type: "string", arg: "SECONDS", default: "10", help: "connect and reply limit" },
        trace: { type: "boolean", help: "print every socket read and write to stderr" },
      },
      maxPositionals: Infinity,
    });
    const port = parsePort(values.port, "client", usage);
    const timeoutMs = parseTimeoutMs(values.timeout, usage);
    const sentence = positionals.join(" ") || await ask("Input lowercase sentence: ");
    if (sentence === null) throw new Failure("no sentence: standard input ended");
    const { address: hostname, trace } = values;
    const reply = await echoOnce({ hostname, port, sentence, timeoutMs, trace });
    console.log(`Message received: ${escapeControl(reply)}`);
  });
}
