/**
 * What both UDP scripts need and neither teaches: the datagram size limit, the
 * `--unstable-net` check, and a wait with a time limit on a receive that
 * cannot be cancelled.
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

/**
 * Waits for `pending` at most `ms` milliseconds: its value, or `undefined`
 * when the time runs out first. `pending` goes on either way, so a receive
 * that timed out can be waited on again (`DatagramConn.receive()` cannot be
 * cancelled; starting a second one would lose whatever the first gets).
 *
 * @example
 * ```ts
 * const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
 * const pending = socket.receive().catch(() => null);
 * const got = await within(pending, 10); // undefined: nothing came in 10 ms
 * socket.close();
 * await pending; // null: the socket closed
 * ```
 */
export async function within<T>(pending: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), undefined);
  });
  try {
    return await Promise.race([pending, timeUp]);
  } finally {
    clearTimeout(timer);
  }
}
