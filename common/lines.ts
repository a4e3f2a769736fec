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

/** Bytes read past the last line taken, kept for the next {@linkcode readLine}: `bytes[start, end)`. */
export type ReadAhead = { bytes: Uint8Array; start: number; end: number };

/**
 * An empty read-ahead for one stream, of `size` bytes: at least the longest line read through it
 * plus its `\r\n`.
 * @example
 * ```ts
 * const ahead = readAhead();
 * ```
 */
export function readAhead(size = 8192): ReadAhead {
  return { bytes: new Uint8Array(size), start: 0, end: 0 };
}

// Stateless between calls (no `stream`), so one decoder serves every line of every connection.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads one line of at most `maxBytes` as strict UTF-8, without its `\n` or `\r\n`; `null` if the
 * stream ends first. Bytes after the line stay in `ahead` for the next call. A stream that ends
 * inside a line throws a {@linkcode ProtocolError}; a line too long, {@linkcode LineTooLongError}
 * as soon as it is (not when it ends).
 * @example
 * ```ts
 * using conn = await Deno.connect({ port: 12000 });
 * const ahead = readAhead();
 * const name = await readLine(conn, ahead, 1024);
 * const number = await readLine(conn, ahead, 1024);
 * ```
 */
export async function readLine(conn: Pick<Deno.Conn, "read">, ahead: ReadAhead, maxBytes: number) {
  while (true) {
    const lf = ahead.bytes.subarray(ahead.start, ahead.end).indexOf(10);
    const length = lf < 0 ? ahead.end - ahead.start : lf;
    // One byte of slack for a "\r" before the "\n"; a full read-ahead holds no longer line.
    if (length > maxBytes + 1 || length === ahead.bytes.length) {
      throw new LineTooLongError(maxBytes);
    }
    if (lf >= 0) {
      const line = ahead.bytes.subarray(ahead.start, ahead.start + lf);
      ahead.start += lf + 1;
      const text = line.at(-1) === 13 ? line.subarray(0, -1) : line;
      if (text.length > maxBytes) throw new LineTooLongError(maxBytes);
      try {
        return strictUtf8.decode(text);
      } catch {
        throw new ProtocolError("line is not valid UTF-8");
      }
    }
    // What is not taken yet moves to the front, to make room for the rest of the line.
    if (ahead.end === ahead.bytes.length) {
      ahead.bytes.copyWithin(0, ahead.start, ahead.end);
      [ahead.start, ahead.end] = [0, ahead.end - ahead.start];
    }
    const n = await conn.read(ahead.bytes.subarray(ahead.end));
    if (n === null && ahead.start === ahead.end) return null;
    if (n === null) throw new ProtocolError("connection closed in the middle of a line");
    ahead.end += n;
  }
}
