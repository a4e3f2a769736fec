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

/** One stream's lines not written yet, and the loop writing them. */
interface Lines {
  stream: typeof Deno.stdout;
  /** "log" or "trace"; the stream's short and long names. */
  kind: string;
  names: [string, string];
  pending: string[];
  dropped: number;
  writing?: Promise<void>;
  closed: boolean;
}

const out: Lines = {
  stream: Deno.stdout,
  kind: "log",
  names: ["stdout", "standard output"],
  pending: [],
  dropped: 0,
  closed: false,
};
const err: Lines = {
  ...out,
  stream: Deno.stderr,
  kind: "trace",
  names: ["stderr", "standard error"],
};
err.pending = [];

function add(lines: Lines, line: string): void {
  if (lines.closed) return;
  if (lines.pending.length < MAX_PENDING) lines.pending.push(line);
  else lines.dropped++;
  lines.writing ??= writeLoop(lines);
}

async function writeLoop(lines: Lines): Promise<void> {
  try {
    while (lines.pending.length > 0 || lines.dropped > 0) {
      // The lines of this turn, and of the next FLUSH_MS, go out together.
      await new Promise((resolve) => setTimeout(resolve, FLUSH_MS));
      if (lines.dropped > 0) {
        lines.pending.push(
          `... ${lines.dropped} ${lines.kind} lines dropped (${lines.names[0]} was not reading)`,
        );
      }
      const text = lines.pending.join("\n") + "\n";
      lines.pending = [];
      lines.dropped = 0;
      await writeAll(lines.stream, new TextEncoder().encode(text));
    }
  } catch (error) {
    // Closed, most often (`server | head -1`): its lines stop, the server goes on.
    lines.closed = true;
    lines.pending = [];
    const why = error instanceof Deno.errors.BrokenPipe ? `${lines.names[1]} closed` : `${error}`;
    add(lines === out ? err : out, `${lines.kind}: ${why}; no more ${lines.kind} lines`);
  }
  lines.writing = undefined;
}

/**
 * Logs one line to stdout, soon and in order.
 * @example
 * ```ts
 * logLine("Server waiting on ('0.0.0.0', 12000)");
 * ```
 */
export function logLine(line: string): void {
  add(out, line);
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
  add(err, line);
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
  const deadline = performance.now() + EXIT_FLUSH_MS;
  // Until neither writes: a closed stream's last line starts the other one's loop again.
  while ((out.writing || err.writing) && performance.now() < deadline) {
    await Promise.race([
      Promise.all([out.writing, err.writing]),
      new Promise((resolve) => setTimeout(resolve, 50)),
    ]);
  }
}
