/**
 * Which datagrams are the server's. UDP has no connection: any program that
 * knows the client's port can send it a datagram, so the client takes as the
 * reply only one whose source is the server's address and port. For that it
 * needs the server's address as the socket reports a source: `127.1`,
 * `127.000.000.001` and `0:0::1` are spelled differently, and a name such
 * as `localhost` must be looked up first.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { describeError, Failure } from "../common/errors.ts";

/**
 * Normalises an IP address literal the way a URL does (`127.1` and
 * `127.000.000.001` -> `127.0.0.1`, `0:0::1` -> `::1`); `undefined` when
 * `host` is not one, for example a name.
 *
 * @example
 * ```ts
 * ipLiteral("127.000.000.001"); // "127.0.0.1"
 * ipLiteral("0:0:0:0:0:0:0:1"); // "::1"
 * ipLiteral("localhost"); // undefined
 * ```
 */
export function ipLiteral(host: string): string | undefined {
  const v6 = host.includes(":");
  const parsed = URL.parse(`http://${v6 ? `[${host}]` : host}/`)?.hostname ?? "";
  if (v6) return parsed.slice(1, -1) || undefined;
  // A host whose last label is a number is an IPv4 address to the URL parser, or invalid.
  return /^\d+\.\d+\.\d+\.\d+$/.test(parsed) ? parsed : undefined;
}

/**
 * The addresses `hostname` stands for, normalised by {@linkcode ipLiteral}: an IP literal stands
 * for itself; a name is looked up as the operating system does (hosts file, then DNS), which Deno
 * allows only with `--allow-net=NAME`. The first is where a send goes. A failure is one line.
 *
 * @example
 * ```ts
 * await resolveServer("127.1"); // ["127.0.0.1"]
 * ```
 */
export async function resolveServer(hostname: string): Promise<string[]> {
  const literal = ipLiteral(hostname);
  if (literal) return [literal];
  try {
    // verbatim: in the order the system gives, whose first is where Deno's send goes.
    const found = await lookup(hostname, { all: true, verbatim: true });
    return found.map(({ address }) => ipLiteral(address) ?? address);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EPERM") {
      throw new Failure(`permission denied: looking up ${hostname} needs --allow-net=${hostname}`);
    }
    if (code === "ENOTFOUND") throw new Failure(`unknown host ${hostname}`);
    throw new Failure(`could not look up ${hostname}: ${describeError(error)}`);
  }
}

/**
 * Whether a datagram from `from` comes from the server: from its `port`, and from one of its
 * `addresses` (as {@linkcode resolveServer} gives them).
 *
 * @example
 * ```ts
 * const addresses = await resolveServer("127.000.000.001");
 * isFromServer(addresses, 12000, { transport: "udp", hostname: "127.0.0.1", port: 12000 }); // true
 * isFromServer(addresses, 12000, { transport: "udp", hostname: "127.0.0.2", port: 12000 }); // false
 * ```
 */
export function isFromServer(addresses: string[], port: number, from: Deno.NetAddr): boolean {
  return from.port === port && addresses.includes(ipLiteral(from.hostname) ?? from.hostname);
}
