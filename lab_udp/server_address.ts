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

/** The server as the client sends to it and recognises its replies. */
export interface ServerAddress {
  /** As the user wrote it: what the client sends to (and `--allow-net` names). */
  hostname: string;
  port: number;
  /** Every address `hostname` stands for, normalised: a reply must come from one of them. */
  addresses: string[];
  /** The family of the address a send goes to (the first): the client's socket must match. */
  family: 4 | 6;
}

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
  try {
    const parsed = new URL(`http://${v6 ? `[${host}]` : host}/`).hostname;
    if (v6) return parsed.slice(1, -1);
    // A host whose last label is a number is an IPv4 address to the URL parser, or invalid.
    return /^\d+\.\d+\.\d+\.\d+$/.test(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Finds the addresses of `hostname`: an IP literal stands for itself; a name
 * is looked up as the operating system does (hosts file, then DNS), which
 * Deno allows only with `--allow-net=NAME`. A failure is one line.
 *
 * @example
 * ```ts
 * const server = await resolveServer("127.1", 12000);
 * server.addresses; // ["127.0.0.1"]
 * ```
 */
export async function resolveServer(hostname: string, port: number): Promise<ServerAddress> {
  const literal = ipLiteral(hostname);
  if (literal !== undefined) {
    return { hostname, port, addresses: [literal], family: literal.includes(":") ? 6 : 4 };
  }
  try {
    // verbatim: in the order the system gives, whose first is where Deno's send goes.
    const found = await lookup(hostname, { all: true, verbatim: true });
    const addresses = found.map(({ address }) => ipLiteral(address) ?? address);
    return { hostname, port, addresses, family: found[0].family === 6 ? 6 : 4 };
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
 * Whether a datagram from `from` comes from the server: one of its
 * addresses, and its port.
 *
 * @example
 * ```ts
 * const server = await resolveServer("127.000.000.001", 12000);
 * isFromServer(server, { transport: "udp", hostname: "127.0.0.1", port: 12000 }); // true
 * isFromServer(server, { transport: "udp", hostname: "127.0.0.2", port: 12000 }); // false
 * ```
 */
export function isFromServer(server: ServerAddress, from: Deno.NetAddr): boolean {
  if (from.port !== server.port) return false;
  return server.addresses.includes(ipLiteral(from.hostname) ?? from.hostname);
}
