/**
 * The servers' output, which can neither stop nor kill a server: log lines on stdout
 * ({@linkcode logLine}) and trace lines on stderr ({@linkcode traceLine}). Each stream's lines go
 * out in one write per turn, at most every 25 ms under load (a write per line halved the UDP
 * server's rate); while the stream takes none, lines past 10,000 are dropped and counted; a closed
 * stream ends its lines, with one line saying so on the other stream.
 * @module
 */

import { writeAll } from "./io.ts";

const FLUSH_MS = 25;
const MAX_PENDING = 10_000;
// How long the exit waits for a stream nobody reads.
const EXIT_FLUSH_MS = 1000;

const encoder = new TextEncoder();

/** One stream's pending lines and the loop that writes them. */
class LineWriter {
  #pending: string[] = [];
  #dropped = 0;
  #lastWrite = -Infinity;
  #closed = false;
  /** The write loop while lines are pending. */
  writing: Promise<void> | undefined;

  constructor(
    readonly stream: { write(p: Uint8Array): Promise<number> },
    // The words of the lines about the stream: "log", "stdout", "standard output".
    readonly words: { lines: string; short: string; long: string },
    // Where the line saying the stream closed goes: the other stream.
    readonly tell: (line: string) => void,
  ) {}

  add(line: string): void {
    if (this.#closed) return;
    if (this.#pending.length < MAX_PENDING) this.#pending.push(line);
    else this.#dropped++;
    this.writing ??= this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    try {
      while (this.#pending.length > 0 || this.#dropped > 0) {
        // The lines of this turn go together, at most one write per FLUSH_MS.
        const wait = Math.max(
          0,
          this.#lastWrite + FLUSH_MS - performance.now(),
        );
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.#dropped > 0) {
          const { lines, short } = this.words;
          this.#pending.push(
            `... ${this.#dropped} ${lines} lines dropped (${short} was not reading)`,
          );
        }
        const bytes = encoder.encode(this.#pending.join("\n") + "\n");
        this.#pending = [];
        this.#dropped = 0;
        this.#lastWrite = performance.now();
        await writeAll(this.stream, bytes);
      }
    } catch (error) {
      // A closed stream, most often (`server | head -1`): its lines stop, the server goes on.
      this.#closed = true;
      this.#pending = [];
      const { lines, long } = this.words;
      const why = error instanceof Deno.errors.BrokenPipe ? `${long} closed` : `${error}`;
      this.tell(`${lines}: ${why}; no more ${lines} lines`);
    }
    this.writing = undefined;
  }
}

const stdout = new LineWriter(
  Deno.stdout,
  { lines: "log", short: "stdout", long: "standard output" },
  traceLine,
);
const stderr = new LineWriter(
  Deno.stderr,
  { lines: "trace", short: "stderr", long: "standard error" },
  logLine,
);

/**
 * Logs one line to stdout, soon and in order.
 * @example
 * ```ts
 * logLine("Server waiting on ('0.0.0.0', 12000)");
 * ```
 */
export function logLine(line: string): void {
  stdout.add(line);
}

/**
 * Writes one line to stderr, soon and in order, as {@linkcode logLine} does to stdout: a server's
 * `--trace` goes through this, so a stderr nobody reads or a closed one cannot hold or end it.
 * @example
 * ```ts
 * traceLine("[127.0.0.1:5000] <- 5 bytes  \"hello\"");
 * ```
 */
export function traceLine(line: string): void {
  stderr.add(line);
}

/**
 * Writes the pending lines of both streams, waiting at most a second; `runMain` calls it before
 * exiting.
 * @example
 * ```ts
 * await flushLog();
 * ```
 */
export async function flushLog(): Promise<void> {
  let limit: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => {
    limit = setTimeout(resolve, EXIT_FLUSH_MS, "expired");
  });
  // Until neither writes: a closed stream's last line starts the other one's loop again.
  while (stdout.writing || stderr.writing) {
    const both = Promise.all([stdout.writing, stderr.writing]);
    if (await Promise.race([both, expired]) === "expired") break;
  }
  clearTimeout(limit);
}
