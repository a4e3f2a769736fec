/**
 * What both UDP scripts need and neither teaches: the datagram size limit and the `--unstable-net`
 * check.
 *
 * @module
 */

import { Failure } from "../common/errors.ts";

/** The largest UDP payload over IPv4 (65,535 - 8 UDP - 20 IP header bytes). */
export const MAX_DATAGRAM = 65507;

/**
 * Throws a one-line {@linkcode Failure} saying to add `--unstable-net` when Deno runs without it:
 * `Deno.listenDatagram` is unstable in Deno 2 and missing without the flag, and calling it would
 * say only `Deno.listenDatagram is not a function`. (Inside this repository `deno.json` turns the
 * flag on; a copied folder has no `deno.json`.) `runLine` is the script's run line, with the flag.
 *
 * @example
 * ```ts
 * requireUnstableNet("deno run --unstable-net --allow-net lab_udp/server.ts");
 * ```
 */
export function requireUnstableNet(runLine: string): void {
  if (typeof Deno.listenDatagram === "function") return;
  throw new Failure(`UDP sockets need Deno's --unstable-net flag: ${runLine}`);
}
