/**
 * UDP lab server: replies to every datagram with its text in upper case (the
 * handout's UDPServer.py, done properly), optionally ignoring a fraction of
 * requests to practise loss like the textbook's UDP pinger server.
 *
 * There is no connection: one socket receives every client's datagrams, each
 * with the address it came from, and the reply is sent to that address.
 *
 * Run: `deno run --unstable-net --allow-net lab_udp/server.ts [PORT] [-a ADDR] [--drop RATE]`
 *
 * @module
 */

import { formatAddr } from "../common/addr.ts";
import { parseCli, parseNumber, parsePort } from "../common/cli.ts";
import { describeError, listening, runMain } from "../common/errors.ts";
import { logLine } from "../common/log.ts";
import { onInterrupt } from "../common/server.ts";
import { tracer } from "../common/trace.ts";
import { MAX_DATAGRAM, requireUnstableNet } from "./datagram.ts";

/** The handout's port. */
export const DEFAULT_PORT = 12000;

/** Options for {@linkcode serveUdp}. */
export interface UdpServerOptions {
  /** Address to listen on (default `0.0.0.0`; `::` takes IPv6 and IPv4). */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Fraction of requests to ignore at random, 0..1 (default 0). */
  drop?: number;
  /** Print every datagram received and sent to stderr. */
  trace?: boolean;
  /** Where log lines go (default: stdout). */
  log?: (line: string) => void;
}

/**
 * Why a reply to a datagram from `port` could start a loop that never ends, or `undefined` if it
 * cannot. A sender's address can be forged: one from the server's own port (its own address, or
 * another student's server on 12000) would be answered by an answer, back and forth for ever;
 * so would one from a system service's port (below 1024), such as echo on port 7.
 *
 * @example
 * ```ts
 * loopRisk(12000, 12000); // "from the server's own port"
 * loopRisk(54321, 12000); // undefined
 * ```
 */
export function loopRisk(port: number, ownPort: number): string | undefined {
  if (port === ownPort) return "from the server's own port";
  if (port < 1024) return "from a system port (below 1024)";
  return undefined;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * The reply: the request upper-cased as the handout's `.decode().upper().encode()` does, but never
 * longer than the request. A UDP sender's address can be forged, so a reply that could grow would
 * let anyone aim more bytes at a victim than they send, and a full-size request must get a reply
 * that still fits in one datagram. So bytes that are not UTF-8 (the handout's server dies of a
 * `UnicodeDecodeError` on them), and text with a character whose upper case takes more bytes
 * (`ŉ` -> `ʼN`), get only their `a`-`z` upper-cased, every other byte as it was.
 */
function upperCase(request: Uint8Array): Uint8Array {
  // Plain ASCII, most datagrams, skips the text path: upper-cased in place below, nothing decoded,
  // encoded or allocated. With the text path alone the server ran at 0.80x the Deno floor at 20
  // clients, with this at 0.89x (deno task bench 3 udp 5, 2026-12-06).
  if (!request.every((byte) => byte < 0x80)) {
    try {
      const reply = encoder.encode(strictUtf8.decode(request).toUpperCase());
      if (reply.length <= request.length) return reply;
    } catch {
      // Not UTF-8.
    }
  }
  for (let i = 0; i < request.length; i++) {
    if (request[i] >= 0x61 && request[i] <= 0x7a) request[i] -= 0x20;
  }
  return request;
}

/**
 * Starts the UDP upper-case echo server.
 *
 * @example
 * ```ts
 * const server = serveUdp({ hostname: "127.0.0.1", port: 0 });
 * console.log(server.addr.port);
 * server.close();
 * await server.finished;
 * ```
 */
export function serveUdp(options: UdpServerOptions) {
  const { hostname = "0.0.0.0", port, drop = 0, log = logLine } = options;
  const socket = Deno.listenDatagram({ transport: "udp", hostname, port });
  const addr = socket.addr as Deno.NetAddr;
  // One byte more than the largest datagram we answer, so a bigger one (IPv6
  // allows them) shows up as too big instead of being cut short.
  const buffer = new Uint8Array(MAX_DATAGRAM + 1);
  let closing = false;

  async function receiveLoop(): Promise<void> {
    while (true) {
      let peer = "";
      try {
        const [request, sender] = await socket.receive(buffer);
        const from = sender as Deno.NetAddr;
        peer = formatAddr(from, "python");
        const risk = loopRisk(from.port, addr.port);
        if (risk) {
          log(`Ignored datagram from ${peer}: ${risk}`);
          continue;
        }
        const trace = options.trace ? tracer(formatAddr(from)) : undefined;
        trace?.("<-", request);
        log(`Received request from ${peer}`);
        if (request.length > MAX_DATAGRAM) {
          log(`Dropped oversize datagram from ${peer}: more than ${MAX_DATAGRAM} bytes`);
          continue;
        }
        if (drop > 0 && Math.random() < drop) {
          log(`Dropped request from ${peer} (simulated loss)`);
          continue;
        }
        const reply = upperCase(request);
        // BEGIN SOLUTION send the reply back to the address the request came from
        await socket.send(reply, from);
        // END SOLUTION
        trace?.("->", reply);
        log(`Sent reply to ${peer}`);
      } catch (error) {
        if (closing || error instanceof Deno.errors.BadResource) return;
        // A failed receive (an ICMP error for an earlier reply, for example) or send is not fatal
        // for a UDP server: the next datagram is another request.
        const what = peer ? `Could not reply to ${peer}` : "receive failed";
        log(`${what}: ${describeError(error)}`);
      }
    }
  }

  function close(): void {
    if (!closing) socket.close();
    closing = true;
  }

  return { addr, finished: receiveLoop(), close };
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab_udp/server.ts",
      synopsis: "[PORT]",
      summary: "UDP upper-case echo server: replies to each datagram with its text in upper case.",
      options: {
        port: { type: "string", short: "p", help: "port to listen on (default: 12000)" },
        address: { type: "string", short: "a", default: "0.0.0.0", help: "address to listen on" },
        drop: { type: "string", arg: "RATE", default: "0", help: "fraction of requests to drop" },
        trace: { type: "boolean", help: "print every socket read and write to stderr" },
      },
      maxPositionals: 1,
      epilog: "-a :: listens for IPv6 and IPv4 clients. --drop 0.3 simulates 30% loss:\n" +
        "  deno run --unstable-net --allow-net lab_udp/server.ts 12000 --drop 0.3",
    });
    requireUnstableNet("deno run --unstable-net --allow-net lab_udp/server.ts");
    // The handout's PORT argument, or -p PORT.
    const port = parsePort(positionals[0] ?? values.port ?? `${DEFAULT_PORT}`, "server", usage);
    const drop = parseNumber(values.drop, "--drop", { min: 0, max: 1, fraction: true }, usage);
    const { address: hostname, trace } = values;
    const server = listening(port, () => serveUdp({ hostname, port, drop, trace }));
    logLine(`Server waiting on ${formatAddr(server.addr, "python")}`);
    onInterrupt(() => {
      logLine("Shutting down");
      server.close();
    });
    await server.finished;
  });
}
