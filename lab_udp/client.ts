/**
 * UDP lab client: sends a sentence and prints the upper-case reply, with a
 * timeout and retries (the handout's UDPClient.py, done properly), or pings
 * the server like the textbook's UDP pinger (`--ping`).
 *
 * Run: `deno run --unstable-net --allow-net lab_udp/client.ts [SENTENCE...]`
 *      `deno run --unstable-net --allow-net lab_udp/client.ts --ping [COUNT]`
 *
 * @module
 */

import { formatHostPort } from "../common/addr.ts";
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
import { Failure, runMain } from "../common/errors.ts";
import { ask } from "../common/stdin.ts";
import { stderrTracer, type Tracer } from "../common/trace.ts";
import { DatagramReceiver, MAX_DATAGRAM, openUdpFor, sendTraced } from "../common/udp.ts";

/** Where to send, and how patiently. */
export interface UdpTarget {
  hostname: string;
  port: number;
  /** How long to wait for each reply (default 1 s). */
  timeoutMs?: number;
  trace?: boolean;
}

/** Options for {@linkcode udpEcho}. */
export interface UdpEchoOptions extends UdpTarget {
  sentence: string;
  /** How many times to send before giving up (default 3). */
  tries?: number;
}

const encoder = new TextEncoder();

// "localhost" may resolve to ::1 or 127.0.0.1; a reply is matched by address, so pick one.
const literalHost = (hostname: string) => (hostname === "localhost" ? "127.0.0.1" : hostname);
const isIpLiteral = (host: string) => host.includes(":") || /^\d+\.\d+\.\d+\.\d+$/.test(host);

/** Whether a datagram's source is the server we sent to. */
function fromServer(from: Deno.NetAddr, hostname: string, port: number): boolean {
  if (from.port !== port) return false;
  // A name other than localhost is not resolved here; its port must do.
  return !isIpLiteral(hostname) || from.hostname.toLowerCase() === hostname.toLowerCase();
}

function openClient(target: UdpTarget) {
  const hostname = literalHost(target.hostname);
  const socket = openUdpFor(hostname);
  const trace: Tracer | undefined = target.trace
    ? stderrTracer(formatHostPort(hostname, target.port))
    : undefined;
  const receiver = new DatagramReceiver(socket, { trace });
  const to: Deno.NetAddr = { transport: "udp", hostname, port: target.port };
  return {
    hostname,
    to,
    trace,
    receiver,
    socket,
    async [Symbol.asyncDispose]() {
      socket.close();
      await receiver.drain();
    },
  };
}

/**
 * Sends the sentence and returns the reply, retrying after each timeout.
 * Throws a {@linkcode Failure} after the last try.
 *
 * @example
 * ```ts
 * const { reply } = await udpEcho({ hostname: "127.0.0.1", port: 12000, sentence: "hi" });
 * ```
 */
export async function udpEcho(options: UdpEchoOptions): Promise<{ reply: string; tries: number }> {
  const timeoutMs = options.timeoutMs ?? 1000;
  const tries = options.tries ?? 3;
  const data = encoder.encode(options.sentence);
  if (data.length > MAX_DATAGRAM) {
    throw new Failure(
      `the sentence is ${data.length} bytes; a UDP datagram carries at most ${MAX_DATAGRAM}`,
    );
  }
  await using client = openClient(options);
  for (let attempt = 1; attempt <= tries; attempt++) {
    await sendTraced(client.socket, data, client.to, client.trace);
    const deadline = performance.now() + timeoutMs;
    // Every try sends the same request, so a late reply to an earlier try is just as good.
    while (performance.now() < deadline) {
      const got = await client.receiver.receive(deadline - performance.now());
      if (got === undefined) break;
      if (got === null) throw new Failure("the socket closed");
      const [reply, from] = got;
      if (fromServer(from, client.hostname, options.port)) {
        return { reply: new TextDecoder().decode(reply), tries: attempt };
      }
    }
  }
  throw new Failure(
    `no reply from ${formatHostPort(client.hostname, options.port)} after ${tries} ${
      tries === 1 ? "try" : "tries"
    } (${timeoutMs / 1000} s timeout)`,
  );
}

/** Options for {@linkcode udpPing}. */
export interface UdpPingOptions extends UdpTarget {
  /** How many pings (default 10). */
  count?: number;
  /** Time between sends (default 1 s). */
  intervalMs?: number;
  /** Called with each output line. */
  print?: (line: string) => void;
}

/** What a ping run measured. */
export interface PingStats {
  transmitted: number;
  received: number;
  /** Replies that came after their ping had timed out, not counted. */
  late: number;
  /** Round-trip times of the counted replies, ms. */
  rtts: number[];
}

/**
 * Pings like the textbook's UDP pinger: `Ping <seq> <time>` every interval,
 * one line per ping, then ping's summary.
 *
 * @example
 * ```ts
 * const stats = await udpPing({ hostname: "127.0.0.1", port: 12000, count: 3 });
 * ```
 */
export async function udpPing(options: UdpPingOptions): Promise<PingStats> {
  const print = options.print ?? ((line: string) => console.log(line));
  const count = options.count ?? 10;
  const intervalMs = options.intervalMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 1000;
  await using client = openClient(options);
  const server = formatHostPort(client.hostname, options.port);
  const stats: PingStats = { transmitted: 0, received: 0, late: 0, rtts: [] };
  print(
    `PING ${server}: ${count} pings, ${intervalMs / 1000} s apart, ${timeoutMs / 1000} s timeout`,
  );
  for (let seq = 1; seq <= count; seq++) {
    const sentAt = performance.now();
    await sendTraced(
      client.socket,
      encoder.encode(`Ping ${seq} ${Date.now() / 1000}`),
      client.to,
      client.trace,
    );
    stats.transmitted++;
    let answered = false;
    while (!answered) {
      const left = sentAt + timeoutMs - performance.now();
      const got = left > 0 ? await client.receiver.receive(left) : undefined;
      if (got === undefined) break;
      if (got === null) throw new Failure("the socket closed");
      const [data, from] = got;
      if (!fromServer(from, client.hostname, options.port)) continue;
      const replySeq = Number(new TextDecoder().decode(data).match(/^ping (\d+) /i)?.[1]);
      if (replySeq !== seq) {
        // A reply to a ping that already timed out (or a stray): not this one.
        stats.late++;
        continue;
      }
      const rtt = performance.now() - sentAt;
      stats.received++;
      stats.rtts.push(rtt);
      print(`Reply from ${server}: seq=${seq} time=${rtt.toFixed(2)} ms`);
      answered = true;
    }
    if (!answered) print(`Request timed out (seq=${seq})`);
    if (seq < count) {
      const wait = sentAt + intervalMs - performance.now();
      if (wait > 0) await drainFor(client.receiver, wait, stats);
    }
  }
  // Replies still in flight after the last timeout are late too; they are not counted.
  for (const line of summarize(server, stats)) print(line);
  return stats;
}

/** Waits `ms`, counting replies that arrive meanwhile as late. */
async function drainFor(receiver: DatagramReceiver, ms: number, stats: PingStats): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const got = await receiver.receive(end - performance.now());
    if (got === undefined || got === null) return;
    stats.late++;
  }
}

/** ping's closing lines. */
export function summarize(server: string, s: PingStats): string[] {
  const loss = s.transmitted === 0
    ? 0
    : Math.round((100 * (s.transmitted - s.received)) / s.transmitted);
  const lines = [
    `--- ${server} ping statistics ---`,
    `${s.transmitted} packets transmitted, ${s.received} received, ${loss}% packet loss`,
  ];
  if (s.rtts.length > 0) {
    const min = Math.min(...s.rtts);
    const max = Math.max(...s.rtts);
    const avg = s.rtts.reduce((a, b) => a + b, 0) / s.rtts.length;
    const mdev = Math.sqrt(s.rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / s.rtts.length);
    lines.push(
      `rtt min/avg/max/mdev = ${[min, avg, max, mdev].map((x) => x.toFixed(3)).join("/")} ms`,
    );
  }
  if (s.late > 0) lines.push(`${s.late} late ${s.late === 1 ? "reply" : "replies"} discarded`);
  return lines;
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab_udp/client.ts",
      synopsis: "[SENTENCE...] | --ping [COUNT]",
      summary:
        "UDP client: sends a sentence and prints the upper-case reply, retrying after a timeout.\n" +
        "With --ping, pings the server COUNT times (default 10) and prints ping's statistics.",
      options: {
        address: addressOption("127.0.0.1", "server address"),
        port: portOption("12000", "server port"),
        timeout: timeoutOption("1", "how long to wait for each reply"),
        retries: {
          type: "string",
          arg: "N",
          default: "3",
          help: "how many times to send before giving up",
        },
        ping: {
          type: "boolean",
          help: "ping mode: Ping <seq> <time> datagrams and ping's summary",
        },
        interval: {
          type: "string",
          arg: "SECONDS",
          default: "1",
          help: "with --ping: time between pings",
        },
        trace: traceOption,
        help: helpOption,
      },
      maxPositionals: Infinity,
      epilog: "examples:\n" +
        "  deno run --unstable-net --allow-net lab_udp/client.ts hello world\n" +
        "  deno run --unstable-net --allow-net lab_udp/client.ts --ping 10 --interval 0.2",
    });
    const port = parsePort(values.port, "client", usage);
    const timeoutMs = parseTimeoutMs(values.timeout, usage);
    const target = { hostname: values.address, port, timeoutMs, trace: values.trace };

    if (values.ping) {
      if (positionals.length > 1) throw new UsageError("--ping takes at most one COUNT", usage);
      const count = positionals.length
        ? parseNumber(positionals[0], "COUNT", { min: 1, max: 100000 }, usage)
        : 10;
      const intervalMs = 1000 *
        parseNumber(values.interval, "--interval", { min: 0, max: 3600, fraction: true }, usage);
      const stats = await udpPing({ ...target, count, intervalMs });
      return stats.received > 0 ? 0 : 1;
    }

    const tries = parseNumber(values.retries, "--retries", { min: 1, max: 100 }, usage);
    let sentence: string | null = positionals.join(" ");
    if (positionals.length === 0) sentence = await ask("Input lowercase sentence: ");
    if (sentence === null) throw new Failure("no sentence: standard input ended");
    const size = encoder.encode(sentence).length;
    if (size > MAX_DATAGRAM) {
      throw new UsageError(
        `the sentence is ${size} bytes; a UDP datagram carries at most ${MAX_DATAGRAM}`,
        usage,
      );
    }
    const { reply } = await udpEcho({ ...target, sentence, tries });
    console.log(reply);
  });
}
