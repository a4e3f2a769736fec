/**
 * TCP connect with a time limit and a one-line error that names the peer.
 *
 * @module
 */

import { formatHostPort } from "./addr.ts";
import { describeError, Failure } from "./errors.ts";

/** Options for {@linkcode connectTcp}. */
export interface ConnectOptions {
  hostname: string;
  port: number;
  /** Give up after this long (0 or unset: the OS's own limit). */
  timeoutMs?: number;
}

/**
 * Connects, or throws a {@linkcode Failure} such as
 * `could not connect to 127.0.0.1:12000: connection refused`.
 *
 * @example
 * ```ts
 * using conn = await connectTcp({ hostname: "127.0.0.1", port: 12000, timeoutMs: 5000 });
 * ```
 */
export async function connectTcp(options: ConnectOptions): Promise<Deno.TcpConn> {
  const { hostname, port, timeoutMs = 0 } = options;
  const controller = new AbortController();
  const timer = timeoutMs > 0 ? setTimeout(() => controller.abort(), timeoutMs) : undefined;
  try {
    return await Deno.connect({ hostname, port, signal: controller.signal });
  } catch (error) {
    const why = controller.signal.aborted
      ? `timed out after ${timeoutMs / 1000} s`
      : describeError(error);
    throw new Failure(`could not connect to ${formatHostPort(hostname, port)}: ${why}`);
  } finally {
    clearTimeout(timer);
  }
}
