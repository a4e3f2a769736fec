/**
 * Stopping a server on Ctrl+C, portably.
 *
 * @module
 */

import { logLine } from "./log.ts";

/**
 * Calls `stop` on Ctrl+C (and SIGTERM where the OS has it); returns a
 * function that removes the listeners.
 *
 * @example
 * ```ts
 * const server = Deno.listen({ port: 0 });
 * const unlisten = onInterrupt(server.close);
 * // ... serve until stopped ...
 * unlisten();
 * ```
 */
export function onInterrupt(stop: () => void): () => void {
  // Windows has no SIGTERM listener; Ctrl+C is SIGINT everywhere.
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  return () => {
    for (const s of signals) Deno.removeSignalListener(s, stop);
  };
}

/** What {@linkcode serveUntilInterrupted} needs of a server. */
export interface Stoppable {
  close(): void;
  finished: Promise<void>;
}

/**
 * The end of every server script: print the banner, serve until the server
 * stops by itself or Ctrl+C stops it (printing `Shutting down`).
 *
 * @example
 * ```ts
 * await serveUntilInterrupted(serveEcho({ port: 12000 }), "Server waiting on ('0.0.0.0', 12000)");
 * ```
 */
export async function serveUntilInterrupted(server: Stoppable, banner: string): Promise<void> {
  logLine(banner);
  const unlisten = onInterrupt(() => {
    logLine("Shutting down");
    server.close();
  });
  try {
    await server.finished;
  } finally {
    unlisten();
  }
}
