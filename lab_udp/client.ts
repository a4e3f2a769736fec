/**
 * UDP lab client: sends a sentence and prints the upper-case reply, with a
 * timeout and retries (the handout's UDPClient.py, done properly), or pings
 * the server like the textbook's UDP pinger (`--ping`).
 *
 * UDP may lose the request or the reply, and any program can send the client
 * a datagram: so the client waits a limited time, sends again, and takes as
 * the reply only a datagram from the server's address and port.
 *
 * Run: `deno run --unstable-net --allow-net=0.0.0.0:0,127.0.0.1 lab_udp/client.ts [SENTENCE...]`
 *      `deno run --unstable-net --allow-net=0.0.0.0:0,127.0.0.1 lab_udp/client.ts --ping [COUNT]`
 *
 * @module
 */

import { formatAddr } from "../common/addr.ts";
import { parseCli, parseNumber, parsePort, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { Failure, runMain } from "../common/errors.ts";
import { IdleTimeoutError, withTimeout } from "../common/io.ts";
import { ask } from "../common/stdin.ts";
import { escapeControl, tracer } from "../common/trace.ts";
import { MAX_DATAGRAM, requireUnstableNet } from "./datagram.ts";
import { isFromServer, resolveServer } from "./server_address.ts";

/** Where to send, and how patiently. */
export interface UdpTarget {
  /** The server's address or name. */
  hostname: string;
  port: number;
  /** How long to wait for each reply (default 1 s). */
  timeoutMs?: number;
  /** Print every datagram sent and received to stderr. */
  trace?: boolean;
}

/** Options for {@linkcode udpEcho}. */
export interface UdpEchoOptions extends UdpTarget {
  sentence: string;
  /** How many times to send before giving up (default 3). */
  tries?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Opens the client's socket on a free port of the server's family: `send()` to the server,
 * `receive(deadline)` for the next datagram from the server, and `close()`.
 */
async function openClient({ hostname, port, trace }: UdpTarget) {
  const addresses = await resolveServer(hostname);
  const anyAddress = addresses[0].includes(":") ? "::" : "0.0.0.0";
  const socket = Deno.listenDatagram({ transport: "udp", hostname: anyAddress, port: 0 });
  const name = formatAddr({ hostname, port });
  const show = trace ? tracer(name, console.error) : undefined;
  // A receive cannot be cancelled: one still waiting at a deadline is the next wait's.
  let pending: Promise<[Uint8Array, Deno.Addr]> | undefined;
  return {
    name,
    async send(data: Uint8Array): Promise<void> {
      await socket.send(data, { transport: "udp", hostname, port });
      show?.("->", data);
    },
    /** The next datagram from the server, or `undefined` once `deadline` (`performance.now()`) passes. */
    async receive(deadline: number): Promise<Uint8Array | undefined> {
      // Checked before each wait: a flood of strangers' datagrams cannot hold the client past it.
      for (let left; (left = deadline - performance.now()) > 0;) {
        pending ??= socket.receive();
        try {
          const [data, from] = await withTimeout(left, pending);
          pending = undefined;
          show?.("<-", data);
          // Any other sender's datagram is not the reply: dropped.
          if (isFromServer(addresses, port, from as Deno.NetAddr)) return data;
        } catch (error) {
          if (error instanceof IdleTimeoutError) return undefined;
          throw error;
        }
      }
      return undefined;
    },
    async close(): Promise<void> {
      socket.close();
      await pending?.catch(() => {}); // Ended by the close.
    },
  };
}

/**
 * Sends the sentence and returns the reply, retrying after each timeout.
 * Throws a {@linkcode Failure} after the last try, a {@linkcode UsageError} for a sentence too big
 * for a datagram.
 *
 * @example
 * ```ts
 * const { reply } = await udpEcho({ hostname: "127.0.0.1", port: 12000, sentence: "hi" });
 * ```
 */
export async function udpEcho(options: UdpEchoOptions): Promise<{ reply: string; tries: number }> {
  const { timeoutMs = 1000, tries = 3 } = options;
  const request = encoder.encode(options.sentence);
  if (request.length > MAX_DATAGRAM) {
    const size = `the sentence is ${request.length} bytes`;
    throw new UsageError(`${size}; a UDP datagram carries at most ${MAX_DATAGRAM}`);
  }
  const client = await openClient(options);
  try {
    // BEGIN SOLUTION send the request and wait timeoutMs for the reply, up to tries times
    for (let attempt = 1; attempt <= tries; attempt++) {
      await client.send(request);
      // Every try sends the same request, so a late reply to an earlier try is just as good.
      const reply = await client.receive(performance.now() + timeoutMs);
      if (reply) return { reply: decoder.decode(reply), tries: attempt };
    }
    const times = `${tries} ${tries === 1 ? "try" : "tries"} (${timeoutMs / 1000} s timeout)`;
    throw new Failure(`no reply from ${client.name} after ${times}`);
    // END SOLUTION
  } finally {
    await client.close();
  }
}

/** Options for {@linkcode udpPing}. */
export interface UdpPingOptions extends UdpTarget {
  /** How many pings (default 10). */
  count?: number;
  /** Time between sends (default 1 s). */
  intervalMs?: number;
  /** Called with each output line (default `console.log`). */
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
  const { count = 10, intervalMs = 1000, timeoutMs = 1000, print = console.log } = options;
  const rtts: number[] = [];
  let late = 0;
  const client = await openClient(options);
  try {
    const timing = `${intervalMs / 1000} s apart, ${timeoutMs / 1000} s timeout`;
    print(`PING ${client.name}: ${count} pings, ${timing}`);
    for (let seq = 1; seq <= count; seq++) {
      const sentAt = performance.now();
      await client.send(encoder.encode(`Ping ${seq} ${Date.now() / 1000}`));
      let reply;
      // A reply to an earlier ping, which timed out, is late: not this one's.
      while ((reply = await client.receive(sentAt + timeoutMs)) && !isReplyTo(seq, reply)) late++;
      if (reply) {
        const rtt = performance.now() - sentAt;
        rtts.push(rtt);
        print(`Reply from ${client.name}: seq=${seq} time=${rtt.toFixed(2)} ms`);
      } else {
        print(`Request timed out (seq=${seq})`);
      }
      // Until the next ping is due, replies that come are late ones.
      while (seq < count && await client.receive(sentAt + intervalMs)) late++;
    }
  } finally {
    await client.close();
  }
  // Replies still in flight after the last timeout are late too; they are not counted.
  const stats = { transmitted: count, received: rtts.length, late, rtts };
  for (const line of summarize(client.name, stats)) print(line);
  return stats;
}

/** Whether `reply` is the reply to ping `seq`: it starts `PING <seq> `, in any case. */
function isReplyTo(seq: number, reply: Uint8Array): boolean {
  return decoder.decode(reply).toUpperCase().startsWith(`PING ${seq} `);
}

/**
 * ping's closing lines.
 *
 * @example
 * ```ts
 * summarize("127.0.0.1:12000", { transmitted: 2, received: 1, late: 0, rtts: [0.5] });
 * // ["--- 127.0.0.1:12000 ping statistics ---", "2 packets transmitted, 1 received, 50% packet loss", ...]
 * ```
 */
export function summarize(server: string, s: PingStats): string[] {
  // NaN, when nothing was sent, is 0% loss.
  const loss = Math.round((100 * (s.transmitted - s.received)) / s.transmitted) || 0;
  const lines = [
    `--- ${server} ping statistics ---`,
    `${s.transmitted} packets transmitted, ${s.received} received, ${loss}% packet loss`,
  ];
  if (s.rtts.length > 0) {
    const avg = s.rtts.reduce((a, b) => a + b, 0) / s.rtts.length;
    const mdev = Math.sqrt(s.rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / s.rtts.length);
    const shown = [Math.min(...s.rtts), avg, Math.max(...s.rtts), mdev].map((x) => x.toFixed(3));
    lines.push(`rtt min/avg/max/mdev = ${shown.join("/")} ms`);
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
        address: { type: "string", short: "a", default: "127.0.0.1", help: "server IP or name" },
        port: { type: "string", short: "p", default: "12000", help: "server port" },
        timeout: { type: "string", arg: "SECONDS", default: "1", help: "wait for each reply" },
        retries: { type: "string", arg: "N", default: "3", help: "tries in all (1: no retry)" },
        ping: { type: "boolean", help: "ping mode: Ping <seq> <time> datagrams, ping's summary" },
        interval: { type: "string", arg: "SECONDS", default: "1", help: "time between pings" },
        trace: { type: "boolean", help: "print every socket read and write to stderr" },
      },
      maxPositionals: Infinity,
      epilog: "examples:\n" +
        "  deno run --unstable-net --allow-net=0.0.0.0:0,127.0.0.1 lab_udp/client.ts hello\n" +
        "  deno run --unstable-net --allow-net=0.0.0.0:0,127.0.0.1 lab_udp/client.ts --ping 5",
    });
    requireUnstableNet("deno run --unstable-net --allow-net=0.0.0.0:0,127.0.0.1 lab_udp/client.ts");
    if (values.address === "") throw new UsageError("the server address is empty", usage);
    const port = parsePort(values.port, "client", usage);
    const timeoutMs = parseTimeoutMs(values.timeout, usage);
    const target = { hostname: values.address, port, timeoutMs, trace: values.trace };

    if (values.ping) {
      if (positionals.length > 1) throw new UsageError("--ping takes at most one COUNT", usage);
      const count = parseNumber(positionals[0] ?? "10", "COUNT", { min: 1, max: 100000 }, usage);
      const intervalMs = 1000 *
        parseNumber(values.interval, "--interval", { min: 0, max: 3600, fraction: true }, usage);
      const stats = await udpPing({ ...target, count, intervalMs });
      return stats.received > 0 ? 0 : 1;
    }

    const tries = parseNumber(values.retries, "--retries", { min: 1, max: 100 }, usage);
    const sentence = positionals.join(" ") || await ask("Input lowercase sentence: ");
    if (sentence === null) throw new Failure("no sentence: standard input ended");
    const { reply } = await udpEcho({ ...target, sentence, tries });
    console.log(escapeControl(reply));
  });
}
