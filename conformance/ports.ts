/**
 * Ports for the servers under test. A port is chosen free, then handed to
 * another program to bind: in between, an outgoing connection anywhere on
 * the machine may take it as its local port. Ports below the ephemeral
 * ranges (Linux 32768-60999, macOS and Windows 49152-65535) are not handed
 * out that way, so the kit picks one there.
 *
 * @module
 */

import { portFree } from "./command.ts";
import { freePort } from "../harness/free_port.ts";

const LOW = 20_000;
const HIGH = 32_767;

/**
 * A port free for TCP and UDP on loopback, below the ephemeral ranges
 * when one is found there.
 *
 * @example
 * ```ts
 * const port = quietPort(); // e.g. 27413
 * ```
 */
export function quietPort(): number {
  for (let i = 0; i < 50; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (portFree(port, "tcp") && portFree(port, "udp")) return port;
  }
  return freePort();
}

/**
 * Whether a program's output says its port was taken: then another port is worth a try.
 *
 * @example
 * ```ts
 * portTaken("OSError: [Errno 98] Address already in use"); // true
 * ```
 */
export function portTaken(output: string): boolean {
  return /address already in use|EADDRINUSE|AddrInUse|errno 98\b|errno 48\b|WSAEADDRINUSE/i.test(
    output,
  );
}
