/**
 * HTTP/1.1 responses read by hand (RFC 9112), with a limit on everything: the status line and the
 * header fields line by line, then the body, framed by the RFC's rules in their order.
 *
 * Everything here reads from a {@linkcode Reader} (the socket, or the socket with a time limit on
 * each read) through a {@linkcode ReadBuffer}, which keeps what one read brought past the line or
 * body in hand; opening the socket, the time limits and what to print are the client's business
 * (`client.ts`). The buffer is this module's own, not `common/lines.ts`'s `readLine`: header bytes
 * beyond ASCII are opaque (RFC 9110 5.5), so an HTTP line is bytes, one character per byte, where
 * `readLine` decodes strict UTF-8.
 *
 * @module
 */

import { escapeControl, quote } from "../common/trace.ts";

/** The parsed status line and header section. */
export interface ResponseHead {
  version: string;
  status: number;
  /** The reason phrase as sent: peer text, escape it before printing it. */
  reason: string;
  /** Header fields in order, names as sent. */
  headers: [string, string][];
  /** The raw lines, for `-i` and `-v`: peer text, escape them before printing them. */
  lines: string[];
}

/** How the body is delimited. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

/**
 * A malformed or over-limit response. Its message quotes at most a short, escaped piece of what
 * the server sent.
 *
 * @example
 * ```ts
 * new HttpError("more than 100 header fields") instanceof Error; // true
 * ```
 */
export class HttpError extends Error {
  override name = "HttpError";
}

/**
 * The body ended before its announced end: `received` bytes of `expected` (unset when chunked).
 *
 * @example
 * ```ts
 * new PartialBodyError(1200, 5000).message; // "partial body: got 1200 of 5000 bytes"
 * ```
 */
export class PartialBodyError extends HttpError {
  override name = "PartialBodyError";
  constructor(readonly received: number, readonly expected?: number) {
    super(
      expected !== undefined
        ? `partial body: got ${received} of ${expected} bytes`
        : `partial body: the connection closed inside the chunked body after ${received} bytes`,
    );
  }
}

/** What this module reads from: a `Deno.Conn`, or anything with its `read`. */
export type Reader = Pick<Deno.Conn, "read">;

/** Bytes read off the socket and not used yet: `bytes[start, end)`. */
export interface ReadBuffer {
  bytes: Uint8Array;
  start: number;
  end: number;
}

/** The whole header section, status line included. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** The most header fields, and trailer fields. */
export const MAX_FIELDS = 100;
/** Largest chunk accepted: 16 hex digits could announce far more than anyone sends. */
const MAX_CHUNK = 2 ** 40;
const MAX_CHUNK_LINE = 4096;
const LF = 10;
const CR = 13;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// One character per byte, none lost (WHATWG's "latin1" is windows-1252: its 0x80-0x9f include C1
// controls, which are escaped wherever a line is printed).
const latin1 = new TextDecoder("latin1");

/**
 * An empty read buffer for one connection: room for the longest line taken, and more.
 *
 * @example
 * ```ts
 * const buf = readBuffer();
 * ```
 */
export function readBuffer(): ReadBuffer {
  return { bytes: new Uint8Array(MAX_HEAD_BYTES + 4096), start: 0, end: 0 };
}

/**
 * Reads a status line and header section. Throws {@linkcode HttpError} when it is malformed, cut
 * short or over the limits.
 *
 * @example
 * ```ts
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
 * const head = await readResponseHead(conn, readBuffer());
 * console.log(head.status, headerValues(head, "content-type"));
 * ```
 */
export async function readResponseHead(conn: Reader, buf: ReadBuffer): Promise<ResponseHead> {
  const tooLarge = `header section larger than ${MAX_HEAD_BYTES} bytes`;
  let budget = MAX_HEAD_BYTES;
  const next = async () => {
    const line = await readLine(conn, buf, budget, tooLarge);
    if (line !== null) budget -= line.length + 2;
    return line;
  };
  const statusLine = await next();
  if (statusLine === null) {
    // Some bytes and then the end, or none at all.
    throw new HttpError(
      buf.end > buf.start
        ? "the connection closed inside the header section"
        : "the server closed the connection without a response",
    );
  }
  const m = statusLine.match(/^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/);
  if (!m) throw new HttpError(`malformed status line: ${quote(statusLine.slice(0, 80))}`);
  const head: ResponseHead = {
    version: m[1],
    status: Number(m[2]),
    reason: m[3] ?? "",
    headers: [],
    lines: [statusLine],
  };
  for (;;) {
    const line = await next();
    if (line === null) throw new HttpError("the connection closed inside the header section");
    if (line === "") return head;
    if (line[0] === " " || line[0] === "\t") {
      throw new HttpError("obsolete line folding in a header (rejected)");
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) {
      throw new HttpError(`malformed header line: ${quote(line.slice(0, 80))}`);
    }
    if (head.headers.length >= MAX_FIELDS) {
      throw new HttpError(`more than ${MAX_FIELDS} header fields`);
    }
    head.headers.push([name, line.slice(colon + 1).trim()]);
    head.lines.push(line);
  }
}

/**
 * Values of all fields named `name` (case-insensitive).
 *
 * @example
 * ```ts
 * const headers: [string, string][] = [["Location", "/b"]];
 * const head = { version: "1.1", status: 302, reason: "Found", headers, lines: [] };
 * headerValues(head, "location"); // ["/b"]
 * ```
 */
export function headerValues(head: ResponseHead, name: string): string[] {
  const lower = name.toLowerCase();
  return head.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/**
 * How the body of a response to `method` is delimited (RFC 9112 6.3): none for HEAD, 1xx, 204
 * and 304; chunked when it is the last transfer coding; else `Content-Length` (conflicting values
 * rejected); else until the server closes.
 *
 * @example
 * ```ts
 * const headers: [string, string][] = [["Content-Length", "5"]];
 * const head = { version: "1.1", status: 200, reason: "OK", headers, lines: [] };
 * bodyFraming("GET", head); // { kind: "length", length: 5 }
 * ```
 */
export function bodyFraming(method: string, head: ResponseHead): BodyFraming {
  const { status } = head;
  if (method === "HEAD" || (status >= 100 && status < 200) || status === 204 || status === 304) {
    return { kind: "none" };
  }
  const list = (name: string) =>
    headerValues(head, name).flatMap((v) => v.split(",")).map((v) => v.trim());
  const codings = list("transfer-encoding").filter(Boolean);
  if (codings.length > 0) {
    return codings.at(-1)!.toLowerCase() === "chunked" ? { kind: "chunked" } : { kind: "close" };
  }
  const lengths = list("content-length");
  if (lengths.length === 0) return { kind: "close" };
  if (!lengths.every((v) => /^\d{1,15}$/.test(v))) {
    throw new HttpError(
      `invalid Content-Length: ${escapeControl(lengths.join(", ").slice(0, 80))}`,
    );
  }
  if (new Set(lengths.map(Number)).size > 1) {
    throw new HttpError(`conflicting Content-Length values: ${lengths.join(", ")}`);
  }
  return { kind: "length", length: Number(lengths[0]) };
}

/**
 * Streams the body to `sink` as it arrives, exactly as framed; returns its length. Throws
 * {@linkcode PartialBodyError} when it ends early, {@linkcode HttpError} when the chunked framing
 * is malformed. `sink` must be done with each piece before it returns: the buffer is reused.
 *
 * @example
 * ```ts
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
 * const buf = readBuffer();
 * const head = await readResponseHead(conn, buf);
 * const sink = async (data: Uint8Array) => void await Deno.stdout.write(data);
 * await readBody(conn, buf, bodyFraming("GET", head), sink);
 * ```
 */
export async function readBody(
  conn: Reader,
  buf: ReadBuffer,
  framing: BodyFraming,
  sink: (data: Uint8Array) => Promise<void>,
): Promise<number> {
  if (framing.kind === "none") return 0;
  if (framing.kind === "close") return await copy(conn, buf, Infinity, sink);
  if (framing.kind === "length") {
    const got = await copy(conn, buf, framing.length, sink);
    if (got < framing.length) throw new PartialBodyError(got, framing.length);
    return got;
  }
  let total = 0;
  for (;;) {
    const line = await chunkLine(conn, buf, total);
    // chunk-size [ chunk-ext ]: extensions are allowed and ignored.
    const m = line.match(/^([0-9A-Fa-f]{1,16})[ \t]*(;.*)?$/);
    if (!m) throw new HttpError(`bad chunk size line: ${quote(line.slice(0, 40))}`);
    const size = parseInt(m[1], 16);
    if (size > MAX_CHUNK) throw new HttpError(`chunk of ${size} bytes is over the limit`);
    if (size === 0) break;
    const got = await copy(conn, buf, size, sink);
    total += got;
    if (got < size) throw new PartialBodyError(total);
    if ((await chunkLine(conn, buf, total)) !== "") {
      throw new HttpError("missing CRLF after chunk data");
    }
  }
  // Trailer fields, up to the empty line: accepted and ignored.
  for (let fields = 0; (await chunkLine(conn, buf, total)) !== ""; fields++) {
    if (fields >= MAX_FIELDS) throw new HttpError(`more than ${MAX_FIELDS} trailer fields`);
  }
  return total;
}

/** Hands at most `length` bytes to `sink`, the buffered ones first; how many, fewer at the end. */
async function copy(
  conn: Reader,
  buf: ReadBuffer,
  length: number,
  sink: (data: Uint8Array) => Promise<void>,
): Promise<number> {
  let copied = 0;
  while (copied < length) {
    if (buf.start === buf.end && !(await fill(conn, buf))) break;
    const n = Math.min(length - copied, buf.end - buf.start);
    await sink(buf.bytes.subarray(buf.start, buf.start + n));
    buf.start += n;
    copied += n;
  }
  return copied;
}

/** One line of the chunked framing (size, CRLF, trailer); the end of the stream is a cut body. */
async function chunkLine(conn: Reader, buf: ReadBuffer, total: number): Promise<string> {
  const tooLong = `chunked body: line longer than ${MAX_CHUNK_LINE} bytes`;
  const line = await readLine(conn, buf, MAX_CHUNK_LINE, tooLong);
  if (line === null) throw new PartialBodyError(total);
  return line;
}

/**
 * One line of at most `maxBytes`, without its `\n` or `\r\n`, one character per byte; `null` if
 * the stream ends first (what came of the line stays in `buf`). Longer: `HttpError(tooLong)`.
 */
async function readLine(
  conn: Reader,
  buf: ReadBuffer,
  maxBytes: number,
  tooLong: string,
): Promise<string | null> {
  for (let scanned = 0;;) {
    const lf = buf.bytes.subarray(buf.start + scanned, buf.end).indexOf(LF);
    if (lf >= 0) {
      const end = buf.start + scanned + lf;
      const cr = end > buf.start && buf.bytes[end - 1] === CR;
      if (end - buf.start - (cr ? 1 : 0) > maxBytes) throw new HttpError(tooLong);
      const line = latin1.decode(buf.bytes.subarray(buf.start, cr ? end - 1 : end));
      buf.start = end + 1;
      return line;
    }
    scanned = buf.end - buf.start;
    // One byte of slack: the line may still end in "\r\n".
    if (scanned > maxBytes + 1) throw new HttpError(tooLong);
    if (!(await fill(conn, buf))) return null;
  }
}

/** Reads more into `buf` (what is left moves to the front when it is full or used); false at the end. */
async function fill(conn: Reader, buf: ReadBuffer): Promise<boolean> {
  if (buf.end === buf.bytes.length || buf.start === buf.end) {
    buf.bytes.copyWithin(0, buf.start, buf.end);
    buf.end -= buf.start;
    buf.start = 0;
  }
  const n = await conn.read(buf.bytes.subarray(buf.end));
  if (n === null) return false;
  buf.end += n;
  return true;
}
