/**
 * Reading a TCP byte stream, where one `write()` may arrive as several `read()`s and one `read()`
 * may bring two messages: {@linkcode readLine} (Stevens' `readline`), with a read-ahead that
 * keeps what came past the last line. The protocol's errors are classes with fields.
 * @module
 */

/** The peer broke the protocol: a line too long, bad UTF-8, and the like. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** A line went past `maxBytes` (its ending not counted) before it ended. */
export class LineTooLongError extends ProtocolError {
  override name = "LineTooLongError";
  constructor(readonly maxBytes: number) {
    super(`line longer than ${maxBytes} bytes`);
  }
}

/** The stream ended after `received` of `expected` bytes, or inside a line (`expected` unset). */
export class UnexpectedEofError extends ProtocolError {
  override name = "UnexpectedEofError";
  constructor(readonly received: number, readonly expected?: number) {
    super(
      expected === undefined
        ? `connection closed in the middle of a line (${received} bytes without "\\n")`
        : `connection closed after ${received} of ${expected} bytes`,
    );
  }
}

/** What these helpers read from: a `Deno.Conn`, or anything with its `read`. */
export type Reader = Pick<Deno.Conn, "read">;

/** Bytes read past the last line taken, kept for the next {@linkcode readLine} on that stream. */
export interface ReadAhead {
  bytes: Uint8Array;
  /** `bytes[start, end)` are read and not taken yet. */
  start: number;
  end: number;
}

/**
 * An empty read-ahead for one stream, `size` bytes at first (it grows for a long line).
 * @example
 * ```ts
 * const ahead = readAhead();
 * ```
 */
export function readAhead(size = 4096): ReadAhead {
  return { bytes: new Uint8Array(size), start: 0, end: 0 };
}

const LF = 10;
const CR = 13;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads one line of at most `maxBytes` as strict UTF-8, without its `\n` or `\r\n`; `null` if the
 * stream ends first. Bytes after the line stay in `ahead` for the next call. A stream that ends
 * inside a line throws {@linkcode UnexpectedEofError}, unless `lastMayLackNewline` (typed input).
 * @example
 * ```ts
 * using conn = await Deno.connect({ port: 12000 });
 * const ahead = readAhead();
 * const name = await readLine(conn, ahead, 1024);
 * const number = await readLine(conn, ahead, 1024);
 * ```
 */
export async function readLine(
  conn: Reader,
  ahead: ReadAhead,
  maxBytes: number,
  lastMayLackNewline = false,
): Promise<string | null> {
  // How many bytes after `ahead.start` were looked at for the "\n" already.
  for (let scanned = 0;;) {
    const lf = ahead.bytes.subarray(ahead.start + scanned, ahead.end).indexOf(LF);
    if (lf >= 0) {
      const end = ahead.start + scanned + lf;
      const cr = end > ahead.start && ahead.bytes[end - 1] === CR;
      const line = ahead.bytes.subarray(ahead.start, cr ? end - 1 : end);
      if (line.length > maxBytes) throw new LineTooLongError(maxBytes);
      ahead.start = end + 1;
      return decodeLine(line);
    }
    scanned = ahead.end - ahead.start;
    // One byte of slack: the line may still end in "\r\n".
    if (scanned > maxBytes + 1) throw new LineTooLongError(maxBytes);
    if (!(await readMore(conn, ahead))) {
      const rest = ahead.bytes.subarray(ahead.start, ahead.end);
      ahead.start = ahead.end;
      if (rest.length === 0) return null;
      if (!lastMayLackNewline) throw new UnexpectedEofError(rest.length);
      return decodeLine(rest);
    }
  }
}

/** Reads into the free end of `ahead`, making room first if it is full; false at the end. */
async function readMore(conn: Reader, ahead: ReadAhead): Promise<boolean> {
  if (ahead.end === ahead.bytes.length) {
    // What is not taken yet moves to the front, into a buffer twice as big if it fills this one
    // (readLine bounds how long a line may grow).
    const rest = ahead.bytes.slice(ahead.start, ahead.end);
    if (ahead.start === 0) ahead.bytes = new Uint8Array(ahead.bytes.length * 2);
    ahead.bytes.set(rest);
    [ahead.start, ahead.end] = [0, rest.length];
  }
  const n = await conn.read(ahead.bytes.subarray(ahead.end));
  if (n === null) return false;
  ahead.end += n;
  return true;
}

function decodeLine(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new ProtocolError("line is not valid UTF-8");
  }
}
