/**
 * The servers' log: one line per event on stdout, written so that stdout can
 * neither stop nor kill a server.
 *
 * Lines are gathered and written in one asynchronous write, at the end of
 * the turn or at most every 25 ms under load: a write per line halved the
 * UDP server's rate. With one write in flight at a time, a stdout nobody
 * reads holds up only the log: lines past {@linkcode MAX_PENDING} are dropped
 * and counted. A closed stdout (`server.ts | head -1`) ends the log with one
 * line on stderr; the server goes on.
 *
 * @module
 */

const FLUSH_MS = 25;
/** Lines kept while stdout takes none; later ones are dropped and counted. */
export const MAX_PENDING = 10_000;

const encoder = new TextEncoder();
let pending: string[] = [];
let dropped = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let lastWrite = -Infinity;
let writing: Promise<void> | undefined;
let closed = false;

/**
 * Logs one line to stdout, soon and in order.
 *
 * @example
 * ```ts
 * logLine("Server waiting on ('0.0.0.0', 12000)");
 * ```
 */
export function logLine(line: string): void {
  if (closed) return;
  if (pending.length >= MAX_PENDING) {
    dropped++;
  } else {
    pending.push(line);
    if (!writing) {
      timer ??= setTimeout(write, Math.max(0, lastWrite + FLUSH_MS - performance.now()));
    }
  }
}

function write(): void {
  timer = undefined;
  if (closed || writing || (pending.length === 0 && dropped === 0)) return;
  if (dropped > 0) pending.push(`... ${dropped} log lines dropped (stdout was not reading)`);
  const bytes = encoder.encode(pending.join("\n") + "\n");
  pending = [];
  dropped = 0;
  lastWrite = performance.now();
  writing = (async () => {
    for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
  })().then(() => {
    writing = undefined;
    if (pending.length > 0 || dropped > 0) timer ??= setTimeout(write, FLUSH_MS);
  }, (error) => {
    closed = true;
    pending = [];
    const why = error instanceof Deno.errors.BrokenPipe ? "standard output closed" : `${error}`;
    console.error(`log: ${why}; no more log lines`);
  });
}

/**
 * Writes the pending lines, waiting at most `timeoutMs`: a stdout nobody
 * reads must not hold up the exit. `runMain` calls it before exiting.
 *
 * @example
 * ```ts
 * logLine("Shutting down");
 * await flushLog();
 * ```
 */
export async function flushLog(timeoutMs = 1000): Promise<void> {
  let limit: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((
    resolve,
  ) => (limit = setTimeout(resolve, timeoutMs, "expired")));
  try {
    while (!closed && (writing || pending.length > 0 || dropped > 0)) {
      write();
      if (await Promise.race([writing, expired]) === "expired") return;
    }
  } finally {
    clearTimeout(limit);
    clearTimeout(timer);
    timer = undefined;
  }
}
