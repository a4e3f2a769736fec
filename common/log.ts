/**
 * The servers' output, which can neither stop nor kill a server: log lines on stdout
 * ({@linkcode logLine}) and trace lines on stderr ({@linkcode traceLine}). Each stream's lines go
 * out in one write per turn, at most every 25 ms under load (a write per line halved the UDP
 * server's rate); while the stream takes none, lines past 10,000 are dropped and counted; a closed
 * stream ends its lines, with one line saying so on the other stream.
 * @module
 */

import { writeAll } from "./io.ts";

/** One stream's lines not written yet, and the loop writing them. */
class Lines {
  pending: string[] = [];
  dropped = 0;
  closed = false;
  writing?: Promise<void>;
  constructor(readonly stream: typeof Deno.stdout, readonly kind: string, readonly name: string) {}
}

const out = new Lines(Deno.stdout, "log", "stdout");
const err = new Lines(Deno.stderr, "trace", "stderr");

function add(lines: Lines, line: string): void {
  if (lines.closed) return;
  if (lines.pending.length < 10_000) lines.pending.push(line);
  else lines.dropped++;
  lines.writing ??= writeLoop(lines);
}

async function writeLoop(lines: Lines): Promise<void> {
  try {
    while (lines.pending.length > 0) {
      // The lines of this turn, and of the next 25 ms, go out together.
      await new Promise((resolve) => setTimeout(resolve, 25));
      const { kind, name, dropped } = lines;
      if (dropped > 0) {
        lines.pending.push(`... ${dropped} ${kind} lines dropped (${name} was not reading)`);
      }
      const text = lines.pending.join("\n") + "\n";
      [lines.pending, lines.dropped] = [[], 0];
      await writeAll(lines.stream, new TextEncoder().encode(text));
    }
  } catch (error) {
    // Closed, most often (`server | head -1`): its lines stop, the server goes on.
    lines.closed = true;
    const why = error instanceof Deno.errors.BrokenPipe ? `${lines.name} closed` : `${error}`;
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
 * Writes the pending lines of both streams, waiting at most a second for a stream nobody reads;
 * `runMain` calls it before exiting.
 * @example
 * ```ts
 * await flushLog();
 * ```
 */
export async function flushLog(): Promise<void> {
  const deadline = performance.now() + 1000;
  // Until neither writes: a closed stream's last line starts the other one's loop again.
  while ((out.writing || err.writing) && performance.now() < deadline) {
    const tick = new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.race([Promise.all([out.writing, err.writing]), tick]);
  }
}
