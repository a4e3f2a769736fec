/**
 * The servers' output, which can neither stop nor kill a server: log lines on stdout
 * ({@linkcode logLine}) and trace lines on stderr ({@linkcode traceLine}). Each stream's lines go
 * out in one write per turn, at most every 25 ms under load (a write per line halved the UDP
 * server's rate). While the stream takes none, lines past 10,000 are dropped, so a stream nobody
 * reads holds no more; a closed stream (`server | head -1`) ends its lines, not the server.
 * @module
 */

import { writeAll } from "./io.ts";

/** One stream's lines not written yet, and the loop writing them. */
class Lines {
  pending: string[] = [];
  writing?: Promise<void>;
  closed = false;
  constructor(readonly stream: typeof Deno.stdout) {}

  add(line: string): void {
    if (this.closed || this.pending.length >= 10_000) return;
    this.pending.push(line);
    this.writing ??= this.writeLoop();
  }

  async writeLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        // The lines of this turn, and of the next 25 ms, go out together.
        await new Promise((resolve) => setTimeout(resolve, 25));
        const text = this.pending.join("\n") + "\n";
        this.pending = [];
        await writeAll(this.stream, new TextEncoder().encode(text));
      }
    } catch {
      this.closed = true; // Its lines stop here; the server goes on.
    }
    this.writing = undefined;
  }
}

const out = new Lines(Deno.stdout);
const err = new Lines(Deno.stderr);

/**
 * Logs one line to stdout, soon and in order.
 * @example
 * ```ts
 * logLine("Server waiting on ('0.0.0.0', 12000)");
 * ```
 */
export const logLine = (line: string): void => out.add(line);

/**
 * Writes one line to stderr, soon and in order, as {@linkcode logLine} does to stdout: a server's
 * `--trace` goes through this, so a stderr nobody reads or a closed one cannot hold or end it.
 * @example
 * ```ts
 * traceLine("[127.0.0.1:5000] <- 5 bytes  \"hello\"");
 * ```
 */
export const traceLine = (line: string): void => err.add(line);

/**
 * Writes the pending lines of both streams, waiting at most a second for a stream nobody reads;
 * `runMain` calls it before exiting.
 * @example
 * ```ts
 * await flushLog();
 * ```
 */
export async function flushLog(): Promise<void> {
  const second = new Promise((resolve) => Deno.unrefTimer(setTimeout(resolve, 1000)));
  await Promise.race([Promise.all([out.writing, err.writing]), second]);
}
