/**
 * UDP helpers: the datagram size limit, a receive with a time limit that
 * keeps one pending receive across tries, and traced sends.
 *
 * @module
 */

import type { Tracer } from "./trace.ts";

/** The largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header bytes). */
export const MAX_DATAGRAM = 65507;

/** A datagram and where it came from. */
export type Datagram = [Uint8Array, Deno.NetAddr];

/**
 * Opens a UDP socket on an ephemeral port of the family `hostname` needs.
 *
 * @example
 * ```ts
 * using socket = openUdpFor("::1"); // bound to [::]:random
 * ```
 */
export function openUdpFor(hostname: string): Deno.DatagramConn {
  return Deno.listenDatagram({
    transport: "udp",
    hostname: hostname.includes(":") ? "::" : "0.0.0.0",
    port: 0,
  });
}

/**
 * Receives datagrams with a deadline. A `DatagramConn.receive()` cannot be
 * cancelled, so one receive stays pending across calls and is reused; close
 * the socket to end it.
 */
export class DatagramReceiver {
  readonly #socket: Deno.DatagramConn;
  readonly #buffer: Uint8Array;
  readonly #trace?: Tracer;
  #pending?: Promise<Datagram | null>;

  constructor(socket: Deno.DatagramConn, options: { bufferSize?: number; trace?: Tracer } = {}) {
    this.#socket = socket;
    this.#buffer = new Uint8Array(options.bufferSize ?? MAX_DATAGRAM + 1);
    this.#trace = options.trace;
  }

  /** The next datagram, or `undefined` when `timeoutMs` passes first, or `null` once the socket is closed. */
  async receive(timeoutMs: number): Promise<Datagram | null | undefined> {
    this.#pending ??= this.#socket.receive(this.#buffer).then(
      ([data, addr]) => {
        // Copy: the buffer is reused by the next receive.
        const copy = data.slice();
        this.#trace?.("<-", copy);
        return [copy, addr as Deno.NetAddr] as Datagram;
      },
      () => null,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((
      resolve,
    ) => (timer = setTimeout(() => resolve(undefined), Math.max(0, timeoutMs))));
    const result = await Promise.race([this.#pending, timeout]);
    clearTimeout(timer);
    if (result !== undefined) this.#pending = undefined;
    return result;
  }

  /** Waits for the pending receive to end (after the socket is closed). */
  async drain(): Promise<void> {
    await this.#pending;
  }
}

/** Sends one datagram, tracing it. */
export async function sendTraced(
  socket: Deno.DatagramConn,
  data: Uint8Array,
  to: Deno.NetAddr,
  trace?: Tracer,
): Promise<void> {
  await socket.send(data, to);
  trace?.("->", data);
}
