/**
 * The servers' log: one line per event on stdout, which can neither stop nor kill a server. Lines
 * go out in one write per turn, at most every 25 ms under load (a write per line halved the UDP
 * server's rate); while stdout takes none, lines past 10,000 are dropped and counted; a closed
 * stdout ends the log with one line on stderr.
 * @module
 */

import { writeAll } from "./io.ts";

const FLUSH_MS = 25;
const MAX_PENDING = 10_000;
// How long the exit waits for a stdout nobody reads.
const EXIT_FLUSH_MS = 1000;

const encoder = new TextEncoder();
let pending: string[] = [];
let dropped = 0;
let lastWrite = -Infinity;
// The write loop while lines are pending; a closed stdout ends the log for good.
let writing: Promise<void> | undefined;
let closed = false;

/**
 * Logs one line to stdout, soon and in order.
 * @example
 * ```ts
 * logLine("Server waiting on ('0.0.0.0', 12000)");
 * ```
 */
export function logLine(line: string): void {
  if (closed) return;
  if (pending.length < MAX_PENDING) pending.push(line);
  else dropped++;
  writing ??= writeLoop();
}

async function writeLoop(): Promise<void> {
  try {
    while (pending.length > 0 || dropped > 0) {
      // The lines of this turn go together, at most one write per FLUSH_MS.
      const wait = Math.max(0, lastWrite + FLUSH_MS - performance.now());
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (dropped > 0) pending.push(`... ${dropped} log lines dropped (stdout was not reading)`);
      const bytes = encoder.encode(pending.join("\n") + "\n");
      pending = [];
      dropped = 0;
      lastWrite = performance.now();
      await writeAll(Deno.stdout, bytes);
    }
  } catch (error) {
    closed = true;
    pending = [];
    const why = error instanceof Deno.errors.BrokenPipe ? "standard output closed" : `${error}`;
    console.error(`log: ${why}; no more log lines`);
  }
  writing = undefined;
}

/**
 * Writes the pending lines, waiting at most a second; `runMain` calls it before exiting.
 * @example
 * ```ts
 * await flushLog();
 * ```
 */
export async function flushLog(): Promise<void> {
  let limit: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise((resolve) => {
    limit = setTimeout(resolve, EXIT_FLUSH_MS);
  });
  await Promise.race([writing, expired]);
  clearTimeout(limit);
}
