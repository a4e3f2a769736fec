/**
 * The servers' log: one line per event on stdout, written in batches.
 *
 * A busy server logs two lines per request; a `console.log` per line (one
 * write each) halved the UDP server's rate. Lines are gathered and written
 * together at the end of the current turn of the event loop, in order.
 *
 * @module
 */

const encoder = new TextEncoder();
let pending: string[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;

/**
 * Logs one line to stdout (soon, in order with every other `logLine`).
 *
 * @example
 * ```ts
 * logLine("Server waiting on ('0.0.0.0', 12000)");
 * ```
 */
export function logLine(line: string): void {
  pending.push(line);
  timer ??= setTimeout(flushLog, 0);
}

/** Writes every pending line now (called before the process exits). */
export function flushLog(): void {
  clearTimeout(timer);
  timer = undefined;
  if (pending.length === 0) return;
  const bytes = encoder.encode(pending.join("\n") + "\n");
  pending = [];
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}
