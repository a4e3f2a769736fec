/**
 * The servers' log: one line per event on stdout, written in batches.
 *
 * A busy server logs two lines per request; a `console.log` per line (one
 * write each) halved the UDP server's rate, and a write plus a timer per turn
 * of the event loop still cost the HTTP server a tenth of its rate. So a line
 * logged after a quiet spell is written at the end of the current turn, and
 * under load the lines are gathered and written at most every
 * {@linkcode FLUSH_MS} ms, in order.
 *
 * @module
 */

/** Under load, the longest a line waits before it is written. */
export const FLUSH_MS = 25;
/** More pending lines than this are written at once, to bound memory. */
const MAX_PENDING = 4096;

const encoder = new TextEncoder();
let pending: string[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;
let lastFlush = -Infinity;

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
  if (pending.length >= MAX_PENDING) return flushLog();
  timer ??= setTimeout(flushLog, Math.max(0, lastFlush + FLUSH_MS - performance.now()));
}

/** Writes every pending line now (called before the process exits). */
export function flushLog(): void {
  clearTimeout(timer);
  timer = undefined;
  lastFlush = performance.now();
  if (pending.length === 0) return;
  const bytes = encoder.encode(pending.join("\n") + "\n");
  pending = [];
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}
