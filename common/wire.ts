/**
 * The buffered, traced, time-limited view of a connection that lab3 and lab_http read and write
 * through until they move to `io.ts`'s plain functions (issue 29): {@linkcode Wire}.
 * @module
 */

import type { Tracer } from "./trace.ts";
import { IdleTimeoutError } from "./io.ts";
import { LineTooLongError, ProtocolError, UnexpectedEofError } from "./lines.ts";

export { IdleTimeoutError, LineTooLongError, ProtocolError, UnexpectedEofError };

/** The part of `Deno.Conn` that {@linkcode Wire} uses. */
export type ByteStream = Pick<Deno.Conn, "read" | "write" | "close">;

interface WireOptions {
  /** Called with every socket read and write (`--trace`). */
  trace?: Tracer;
  /** Close the stream when a read or write waits this long (0 or unset: never). */
  timeoutMs?: number;
  /** First size of the read buffer; it grows for long lines (default 16 KiB). */
  bufferSize?: number;
  /** Sent to the peer, best effort, when the idle timeout closes the stream. */
  farewell?: Uint8Array;
}

const LF = 0x0a;
const CR = 0x0d;
/** How long the idle timeout's farewell may take before the socket is closed anyway. */
const FAREWELL_GRACE_MS = 1000;
const NO_BYTES = new Uint8Array(0);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
// Lets the idle clock look at a wire; a symbol keeps it out of the Wire's API.
const LOOK = Symbol("look");

// One timer for every wire with a timeout, instead of one per connection: it looks at each every
// quarter of the shortest timeout, so a stalled wire is closed 1 to 1.25 timeouts after its last
// progress. It stops when its last wire closes, unless held: a server holds it while it accepts
// (`acceptWithRetry`), so clients that come one at a time do not make and clear a timer each,
// which cost a tenth of lab 1's rate at 1 client.
const idleClock = {
  wires: new Set<Wire>(),
  holders: 0,
  periodMs: Infinity,
  timer: undefined as ReturnType<typeof setInterval> | undefined,
  watch(wire: Wire, timeoutMs: number): void {
    this.wires.add(wire);
    if (timeoutMs / 4 >= this.periodMs) return;
    this.periodMs = timeoutMs / 4;
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      const now = performance.now();
      for (const wire of this.wires) wire[LOOK](now);
    }, this.periodMs);
    // A pending read or write keeps the process alive; a wire left unclosed must not.
    Deno.unrefTimer(this.timer);
  },
  forget(wire: Wire): void {
    if (this.wires.delete(wire)) this.stopIfUnused();
  },
  stopIfUnused(): void {
    if (this.wires.size > 0 || this.holders > 0) return;
    clearInterval(this.timer);
    this.periodMs = Infinity;
  },
};

/**
 * Keeps the idle clock of {@linkcode Wire} running between connections until disposed; a server
 * holds it while it accepts.
 * @example
 * ```ts
 * using _clock = holdIdleClock();
 * ```
 */
export function holdIdleClock(): Disposable {
  idleClock.holders++;
  let held = true;
  return {
    [Symbol.dispose]() {
      if (!held) return;
      held = false;
      idleClock.holders--;
      idleClock.stopIfUnused();
    },
  };
}

/**
 * Writes every byte of `data`, looping because `write()` may take only part of it; with
 * `blockSize`, no write spans two blocks, so each block's sends show in the trace.
 * @example
 * ```ts
 * using conn = await Deno.connect({ port: 12000 });
 * await writeAll(conn, new TextEncoder().encode("hello\n"));
 * ```
 */
export async function writeAll(
  writer: Pick<ByteStream, "write">,
  data: Uint8Array,
  trace?: Tracer,
  blockSize: number = data.length,
): Promise<void> {
  for (let off = 0; off < data.length;) {
    // The end of the block `off` is in, even after a partial write inside it.
    const block = data.subarray(off, Math.min(off - (off % blockSize) + blockSize, data.length));
    const n = await writer.write(block);
    trace?.("->", n === block.length ? block : block.subarray(0, n));
    off += n;
  }
}

/**
 * A buffered, traced, time-limited view of one connection.
 * @example
 * ```ts
 * using wire = new Wire(await Deno.connect({ port: 12000 }), { timeoutMs: 5000 });
 * await wire.writeText("Ann\n42\n");
 * const name = await wire.readLine(1024);
 * ```
 */
export class Wire implements Disposable {
  readonly #conn: ByteStream;
  readonly #trace?: Tracer;
  readonly #timeoutMs: number;
  readonly #bufferSize: number;
  // Allocated on the first buffered read: the echo server reads into its own chunk only.
  #buf: Uint8Array = NO_BYTES;
  #r = 0;
  #w = 0;
  #closed = false;
  #deadline = 0;
  #pending = 0;
  // A block write moved bytes since the idle clock last looked.
  #moved = false;
  #timedOut = false;

  /** Sent when the idle timeout closes the stream; clear it once a reply began (it reads as data). */
  farewell?: Uint8Array;

  constructor(conn: ByteStream, options: WireOptions = {}) {
    this.#conn = conn;
    this.#trace = options.trace;
    this.#timeoutMs = options.timeoutMs ?? 0;
    this.farewell = options.farewell;
    this.#bufferSize = options.bufferSize ?? 16 * 1024;
    if (this.#timeoutMs > 0) idleClock.watch(this, this.#timeoutMs);
  }

  /** Reads at most `p.length` bytes: buffered ones first, else one socket read; `null` at the end. */
  async read(p: Uint8Array): Promise<number | null> {
    if (this.#buffered > 0) return this.#take(p);
    if (p.length >= this.#bufferSize) return await this.#readSocket(p);
    return (await this.#fill()) ? this.#take(p) : null;
  }

  /**
   * Reads one line of at most `maxBytes` and drops its `\n` or `\r\n`; `null` if the stream ends
   * first. A stream that ends inside a line throws {@linkcode UnexpectedEofError}, unless
   * `eofEndsLine` (typed input may lack a last newline; protocol lines may not).
   */
  async readLineBytes(maxBytes: number, eofEndsLine = false): Promise<Uint8Array | null> {
    let scanned = 0;
    while (true) {
      const at = this.#buf.subarray(this.#r + scanned, this.#w).indexOf(LF);
      if (at >= 0) {
        const end = this.#r + scanned + at;
        const lineEnd = end > this.#r && this.#buf[end - 1] === CR ? end - 1 : end;
        if (lineEnd - this.#r > maxBytes) throw new LineTooLongError(maxBytes);
        const line = this.#buf.slice(this.#r, lineEnd);
        this.#r = end + 1;
        return line;
      }
      scanned = this.#buffered;
      // One byte of slack: the line may still end in "\r\n".
      if (scanned > maxBytes + 1) throw new LineTooLongError(maxBytes);
      if (await this.#fill(maxBytes + 2)) continue;
      if (this.#buffered === 0) return null;
      if (!eofEndsLine) throw new UnexpectedEofError(this.#buffered);
      const line = this.#buf.slice(this.#r, this.#w);
      this.#r = this.#w = 0;
      return line;
    }
  }

  /** {@linkcode readLineBytes} decoded as strict UTF-8 ({@linkcode ProtocolError} if it is not). */
  async readLine(maxBytes: number): Promise<string | null> {
    const bytes = await this.readLineBytes(maxBytes);
    if (bytes === null) return null;
    try {
      return strictUtf8.decode(bytes);
    } catch {
      throw new ProtocolError("line is not valid UTF-8");
    }
  }

  /**
   * Writes all of `data`; with `blockSize`, as a block protocol sends it, in one timed scope (a
   * promise chain per small block costs more than its system call) where each write that moves
   * bytes is progress, so a slow but steady reader is not cut off.
   */
  write(data: Uint8Array, blockSize?: number): Promise<void> {
    const trace = blockSize === undefined ? this.#trace : this.#progress;
    return this.#timed(writeAll(this.#conn, data, trace, blockSize));
  }

  /** Writes all of `text` as UTF-8. */
  writeText(text: string): Promise<void> {
    return this.write(encoder.encode(text));
  }

  /** Closes the connection (idempotent) and stops the idle timer. */
  close(): void {
    idleClock.forget(this);
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Closed already: a server's `close()` closes its connections itself. (Not `closeAll`:
      // server.ts imports this module.)
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  get #buffered(): number {
    return this.#w - this.#r;
  }

  #take(p: Uint8Array): number {
    const n = Math.min(p.length, this.#buffered);
    p.set(this.#buf.subarray(this.#r, this.#r + n));
    this.#r += n;
    if (this.#r === this.#w) this.#r = this.#w = 0;
    return n;
  }

  // Reads more into the buffer, making room first when it is full.
  async #fill(limit = 0): Promise<boolean> {
    if (this.#buf === NO_BYTES) this.#buf = new Uint8Array(this.#bufferSize);
    if (this.#w === this.#buf.length) this.#compact(limit);
    const n = await this.#readSocket(this.#buf.subarray(this.#w));
    if (n === null) return false;
    this.#w += n;
    return true;
  }

  // Moves unread bytes to the front, or, if all are unread, grows the buffer up to `limit`.
  #compact(limit: number): void {
    if (this.#r > 0) {
      this.#buf.copyWithin(0, this.#r, this.#w);
      this.#w -= this.#r;
      this.#r = 0;
      return;
    }
    // Only a line reader grows it (a plain read finds nothing unread), and `limit` is past its end.
    const bigger = new Uint8Array(Math.min(Math.max(this.#buf.length * 2, 1024), limit));
    bigger.set(this.#buf.subarray(0, this.#w));
    this.#buf = bigger;
  }

  async #readSocket(p: Uint8Array): Promise<number | null> {
    const n = await this.#timed(this.#conn.read(p));
    if (n !== null) this.#trace?.("<-", p.subarray(0, n));
    return n;
  }

  // Only a wire with a timeout pays for the watch.
  #timed<T>(op: Promise<T>): Promise<T> {
    return this.#timeoutMs > 0 ? this.#watched(op) : op;
  }

  async #watched<T>(op: Promise<T>): Promise<T> {
    this.#deadline = performance.now() + this.#timeoutMs;
    this.#moved = false;
    this.#pending++;
    try {
      return await op;
    } catch (error) {
      throw this.#timedOut ? new IdleTimeoutError(this.#timeoutMs) : error;
    } finally {
      this.#pending--;
    }
  }

  // A mark, not a clock reading: reading the clock per 1 KiB block cost 5% of lab 3's rate.
  #progress: Tracer = (direction, bytes) => {
    this.#moved = true;
    this.#trace?.(direction, bytes);
  };

  // The idle clock's look: past the deadline, the wire closes (after the farewell, if any).
  // Marked progress restarts the deadline, at most one clock period late.
  [LOOK](now: number): void {
    if (this.#pending === 0 || this.#timedOut) return;
    if (this.#moved) {
      this.#moved = false;
      this.#deadline = Math.max(this.#deadline, now + this.#timeoutMs);
    }
    if (now < this.#deadline) return;
    this.#timedOut = true;
    const farewell = this.farewell;
    if (!farewell) return this.close();
    // The pending read ends only when the socket closes: say goodbye first, but a peer that
    // reads nothing must not keep the socket open with it.
    const grace = setTimeout(() => this.close(), FAREWELL_GRACE_MS);
    this.#conn.write(farewell).then((n) => this.#trace?.("->", farewell.subarray(0, n)), () => {})
      .finally(() => {
        clearTimeout(grace);
        this.close();
      });
  }
}

/**
 * The accept loop of the servers still on `wire.ts` (lab3, lab_http), as a generator, until they
 * move to {@linkcode acceptWithRetry} (issue 29). Yields connections until `listener` is closed. A client that reset before its accept is skipped;
 * another failure (out of descriptors) is logged once and retried every 100 ms.
 * @example
 * ```ts
 * using listener = Deno.listen({ port: 0 });
 * setTimeout(() => listener.close(), 10);
 * for await (const conn of acceptEach(listener, console.log)) conn.close();
 * ```
 */
export async function* acceptEach(
  listener: Deno.Listener<Deno.TcpConn>,
  log: (line: string) => void,
): AsyncGenerator<Deno.TcpConn> {
  // Connections that come one at a time share one idle clock, not one each.
  using _clock = holdIdleClock();
  let failures = 0;
  while (true) {
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
        return; // The listener was closed: the server is stopping.
      }
      if (
        error instanceof Deno.errors.NotConnected || error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.ConnectionAborted
      ) continue;
      if (failures++ === 0) {
        log(`accept failed: ${(error as Error).message}; retrying every ${100} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    if (failures > 0) log(`accept works again after ${failures} failed tries`);
    failures = 0;
    yield conn;
  }
}

/**
 * Closes every socket given, skipping any closed already (by the task that served it).
 * @example
 * ```ts
 * const listener = Deno.listen({ port: 0 });
 * closeAll([listener]);
 * closeAll([listener]); // no error
 * ```
 */
export function closeAll(sockets: Iterable<{ close(): void }>): void {
  for (const socket of sockets) {
    try {
      socket.close();
    } catch {
      // Closed already.
    }
  }
}
