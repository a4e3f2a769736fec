/**
 * HTTP/1.1 responses read by hand (RFC 9112), with a limit on everything:
 * the status line and headers through the bounded line reader, then the
 * body framed by the rules in the RFC's order.
 *
 * Everything here reads from a {@linkcode Wire}; opening the socket, the
 * time limits and what to print are the client's business (`client.ts`).
 *
 * @module
 */

import { LineTooLongError, UnexpectedEofError, type Wire } from "../common/wire.ts";
import { escapeControl } from "../common/trace.ts";

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

/** Limits on what a server may send before the body. */
export interface HeadLimits {
  /** Whole header section, status line included (default 64 KiB). */
  maxBytes?: number;
  /** Header fields (default 100). */
  maxHeaders?: number;
}

/** How the body is delimited. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

/**
 * A malformed or over-limit response. Its message quotes at most a short,
 * escaped piece of what the server sent.
 *
 * @example
 * ```ts
 * const error = new HttpError("more than 100 header fields");
 * error instanceof Error; // true
 * ```
 */
export class HttpError extends Error {
  override name = "HttpError";
}

/**
 * The body ended before its announced end.
 *
 * @example
 * ```ts
 * const cut = new PartialBodyError(1200, 5000);
 * cut.message; // "partial body: got 1200 of 5000 bytes"
 * ```
 */
export class PartialBodyError extends HttpError {
  override name = "PartialBodyError";
  /** Body bytes that did arrive (and went to the sink). */
  readonly received: number;
  /** The announced length; `undefined` for a chunked body. */
  readonly expected?: number;
  constructor(received: number, expected?: number) {
    super(
      expected !== undefined
        ? `partial body: got ${received} of ${expected} bytes`
        : `partial body: the connection closed inside the chunked body after ${received} bytes`,
    );
    this.received = received;
    this.expected = expected;
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const latin1 = new TextDecoder("latin1");

/** Server text for an error message: the first `max` characters, quoted, control characters escaped. */
function quote(text: string, max = 80): string {
  return escapeControl(JSON.stringify(text.slice(0, max)));
}

/**
 * Values of all fields named `name` (case-insensitive).
 *
 * @example
 * ```ts
 * const head: ResponseHead = {
 *   version: "1.1",
 *   status: 302,
 *   reason: "Found",
 *   headers: [["Location", "/b"]],
 *   lines: ["HTTP/1.1 302 Found", "Location: /b"],
 * };
 * headerValues(head, "location"); // ["/b"]
 * ```
 */
export function headerValues(head: ResponseHead, name: string): string[] {
  const lower = name.toLowerCase();
  return head.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/**
 * Reads a status line and header section. Throws {@linkcode HttpError} when
 * malformed, cut short or over the limits.
 *
 * @example
 * ```ts
 * import { Wire } from "../common/wire.ts";
 *
 * using wire = new Wire(await Deno.connect({ hostname: "127.0.0.1", port: 8080 }));
 * await wire.writeText("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n");
 * const head = await readResponseHead(wire);
 * console.log(head.status, headerValues(head, "content-type"));
 * ```
 */
export async function readResponseHead(wire: Wire, limits: HeadLimits = {}): Promise<ResponseHead> {
  const maxBytes = limits.maxBytes ?? 64 * 1024;
  const maxHeaders = limits.maxHeaders ?? 100;
  let budget = maxBytes;
  const next = async (): Promise<string | null> => {
    let bytes: Uint8Array | null;
    try {
      bytes = await wire.readLineBytes(budget);
    } catch (error) {
      if (error instanceof LineTooLongError) {
        throw new HttpError(`header section larger than ${maxBytes} bytes`);
      }
      if (error instanceof UnexpectedEofError) {
        throw new HttpError("the connection closed inside the header section");
      }
      throw error;
    }
    if (bytes !== null) budget -= bytes.length + 2;
    // Header bytes beyond ASCII are opaque (RFC 9110 5.5): one character per byte, none lost
    // (WHATWG's "latin1" is windows-1252; its 0x80-0x9f include C1 controls, escaped on output).
    return bytes === null ? null : latin1.decode(bytes);
  };
  const statusLine = await next();
  if (statusLine === null) {
    throw new HttpError("the server closed the connection without a response");
  }
  const m = statusLine.match(/^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/);
  if (!m) throw new HttpError(`malformed status line: ${quote(statusLine)}`);
  const head: ResponseHead = {
    version: m[1],
    status: Number(m[2]),
    reason: m[3] ?? "",
    headers: [],
    lines: [statusLine],
  };
  while (true) {
    const line = await next();
    if (line === null) throw new HttpError("the connection closed inside the header section");
    if (line === "") return head;
    if (line[0] === " " || line[0] === "\t") {
      throw new HttpError("obsolete line folding in a header (rejected)");
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) throw new HttpError(`malformed header line: ${quote(line)}`);
    if (head.headers.length >= maxHeaders) {
      throw new HttpError(`more than ${maxHeaders} header fields`);
    }
    head.headers.push([name, line.slice(colon + 1).trim()]);
    head.lines.push(line);
  }
}

/**
 * How the body of a response to `method` is delimited (RFC 9112 6.3): none
 * for HEAD, 1xx, 204 and 304; chunked when it is the final transfer coding;
 * else Content-Length (conflicting values rejected); else until close.
 *
 * @example
 * ```ts
 * const head: ResponseHead = {
 *   version: "1.1",
 *   status: 200,
 *   reason: "OK",
 *   headers: [["Content-Length", "5"]],
 *   lines: ["HTTP/1.1 200 OK", "Content-Length: 5"],
 * };
 * bodyFraming("GET", head); // { kind: "length", length: 5 }
 * bodyFraming("HEAD", head); // { kind: "none" }
 * ```
 */
export function bodyFraming(method: string, head: ResponseHead): BodyFraming {
  if (
    method === "HEAD" || (head.status >= 100 && head.status < 200) || head.status === 204 ||
    head.status === 304
  ) {
    return { kind: "none" };
  }
  const te = headerValues(head, "transfer-encoding").flatMap((v) => v.split(",")).map((v) =>
    v.trim().toLowerCase()
  )
    .filter(Boolean);
  if (te.length > 0) return te.at(-1) === "chunked" ? { kind: "chunked" } : { kind: "close" };
  const lengths = headerValues(head, "content-length").flatMap((v) => v.split(",")).map((v) =>
    v.trim()
  );
  if (lengths.length > 0) {
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
  return { kind: "close" };
}

/** Largest chunk accepted: 16 hex digits could announce far more than anyone sends. */
const MAX_CHUNK = 2 ** 40;
const CHUNK_LINE_MAX = 4096;

/**
 * Streams the body to `sink` as it arrives, exactly as framed. Throws
 * {@linkcode PartialBodyError} when it ends early, {@linkcode HttpError}
 * when the chunked framing is malformed. Returns the body's length.
 *
 * @example
 * ```ts
 * import { Wire } from "../common/wire.ts";
 *
 * using wire = new Wire(await Deno.connect({ hostname: "127.0.0.1", port: 8080 }));
 * await wire.writeText("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n");
 * const head = await readResponseHead(wire);
 * await readBody(wire, bodyFraming("GET", head), async (data) => void await Deno.stdout.write(data));
 * ```
 */
export async function readBody(
  wire: Wire,
  framing: BodyFraming,
  sink: (data: Uint8Array) => Promise<void>,
): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  /** Copies exactly `length` bytes; returns false when the stream ends first. */
  const copy = async (length: number): Promise<boolean> => {
    for (let left = length; left > 0;) {
      const n = await wire.read(buf.subarray(0, Math.min(buf.length, left)));
      if (n === null) return false;
      await sink(buf.subarray(0, n));
      total += n;
      left -= n;
    }
    return true;
  };
  switch (framing.kind) {
    case "none":
      return 0;
    case "length":
      if (!(await copy(framing.length))) throw new PartialBodyError(total, framing.length);
      return total;
    case "close":
      for (let n; (n = await wire.read(buf)) !== null;) {
        await sink(buf.subarray(0, n));
        total += n;
      }
      return total;
    case "chunked": {
      while (true) {
        const line = await chunkLine(wire, total);
        // chunk-size [ chunk-ext ]: extensions are allowed and ignored.
        const m = line.match(/^([0-9A-Fa-f]{1,16})[ \t]*(;.*)?$/);
        if (!m) throw new HttpError(`bad chunk size line: ${quote(line, 40)}`);
        const size = parseInt(m[1], 16);
        if (size > MAX_CHUNK) throw new HttpError(`chunk of ${size} bytes is over the limit`);
        if (size === 0) break;
        if (!(await copy(size))) throw new PartialBodyError(total);
        if ((await chunkLine(wire, total)) !== "") {
          throw new HttpError("missing CRLF after chunk data");
        }
      }
      // Trailer fields, up to the empty line; accepted and ignored.
      for (let fields = 0; (await chunkLine(wire, total)) !== ""; fields++) {
        if (fields >= 100) throw new HttpError("more than 100 trailer fields");
      }
      return total;
    }
  }
}

/** One line of the chunked framing (size, CRLF, trailer), bounded; the end of stream is a cut body. */
async function chunkLine(wire: Wire, total: number): Promise<string> {
  let line: Uint8Array | null;
  try {
    line = await wire.readLineBytes(CHUNK_LINE_MAX);
  } catch (error) {
    if (error instanceof UnexpectedEofError) {
      throw new PartialBodyError(total);
    }
    if (error instanceof LineTooLongError) throw new HttpError(`chunked body: ${error.message}`);
    throw error;
  }
  if (line === null) throw new PartialBodyError(total);
  return latin1.decode(line);
}
