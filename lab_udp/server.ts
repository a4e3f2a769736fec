/**
 * UDP lab server: replies to every datagram with its payload upper-cased
 * (the handout's UDPServer.py), optionally dropping a fraction of requests
 * to practise loss like the textbook's UDP pinger server.
 *
 * Run: `deno run --unstable-net --allow-net lab_udp/server.ts [-a ADDR] [-p PORT] [--drop RATE]`
 *
 * @module
 */

import { formatAddr, formatPythonAddr } from "../common/addr.ts";
import {
  addressOption,
  helpOption,
  parseCli,
  parseNumber,
  parsePort,
  portOption,
  traceOption,
} from "../common/cli.ts";
import { describeError, runMain } from "../common/errors.ts";
import { logLine } from "../common/log.ts";
import { serveUntilInterrupted } from "../common/signals.ts";
import { stderrTracer } from "../common/trace.ts";
import { MAX_DATAGRAM } from "../common/udp.ts";

/** Options for {@linkcode serveUdp}. */
export interface UdpServerOptions {
  hostname?: string;
  port: number;
  /** Fraction of requests to ignore at random, 0..1 (default 0). */
  drop?: number;
  trace?: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Random source for `drop`, for tests (default `Math.random`). */
  random?: () => number;
}

/** A running UDP server. */
export interface UdpServer {
  addr: Deno.NetAddr;
  close(): void;
  finished: Promise<void>;
}

/**
 * Starts the UDP upper-case echo server.
 *
 * @example
 * ```ts
 * const server = serveUdp({ hostname: "127.0.0.1", port: 0 });
 * server.close();
 * await server.finished;
 * ```
 */
export function serveUdp(options: UdpServerOptions): UdpServer {
  const log = options.log ?? logLine;
  const random = options.random ?? Math.random;
  const drop = options.drop ?? 0;
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port,
  });
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    try {
      socket.close();
    } catch {
      // Already closed.
    }
  };
  options.signal?.addEventListener("abort", close, { once: true });

  // One byte more than the largest datagram we accept, so a bigger one shows
  // up as "buffer full" instead of being silently cut.
  const buffer = new Uint8Array(MAX_DATAGRAM + 1);
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();

  const sends = new Set<Promise<void>>();
  const loop = async () => {
    while (!closing) {
      let data: Uint8Array, from: Deno.NetAddr;
      try {
        const [d, a] = await socket.receive(buffer);
        data = d;
        from = a as Deno.NetAddr;
      } catch (error) {
        if (closing || error instanceof Deno.errors.BadResource) break;
        // An ICMP error from an earlier reply, for example: not fatal for a UDP server.
        log(`receive failed: ${describeError(error)}`);
        continue;
      }
      const peer = formatPythonAddr(from);
      const trace = options.trace ? stderrTracer(formatAddr(from)) : undefined;
      trace?.("<-", data);
      log(`Received request from ${peer}`);
      if (data.length > MAX_DATAGRAM) {
        log(`Dropped oversize datagram from ${peer}: more than ${MAX_DATAGRAM} bytes`);
        continue;
      }
      if (drop > 0 && random() < drop) {
        log(`Dropped request from ${peer} (simulated loss)`);
        continue;
      }
      const reply = encoder.encode(decoder.decode(data).toUpperCase());
      // Not awaited: the next receive starts while this reply goes out.
      const sending: Promise<void> = socket.send(reply, from).then(
        () => {
          trace?.("->", reply);
          log(`Sent reply to ${peer}`);
        },
        (error) => {
          if (!closing) log(`Could not reply to ${peer}: ${describeError(error)}`);
        },
      ).finally(() => sends.delete(sending));
      sends.add(sending);
    }
    await Promise.allSettled([...sends]);
    options.signal?.removeEventListener("abort", close);
  };

  return { addr: socket.addr as Deno.NetAddr, close, finished: loop() };
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, usage } = parseCli({
      name: "lab_udp/server.ts",
      summary: "UDP upper-case echo server: replies to each datagram with its text in upper case.",
      options: {
        address: addressOption("0.0.0.0", "address to listen on (:: or ::1 for IPv6)"),
        port: portOption("12000", "port to listen on; 0 picks a free one"),
        drop: {
          type: "string",
          arg: "RATE",
          default: "0",
          help: "ignore this fraction of requests, 0..1, to simulate loss",
        },
        trace: traceOption,
        help: helpOption,
      },
      epilog: "example: deno run --unstable-net --allow-net lab_udp/server.ts --drop 0.3",
    });
    const server = serveUdp({
      hostname: values.address,
      port: parsePort(values.port, "server", usage),
      drop: parseNumber(values.drop, "--drop", { min: 0, max: 1, fraction: true }, usage),
      trace: values.trace,
    });
    await serveUntilInterrupted(server, `Server waiting on ${formatPythonAddr(server.addr)}`);
  });
}
