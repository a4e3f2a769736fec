/**
 * HTTP/1.1 responses read by hand (RFC 9112), with a limit on everything:
 * the status line and headers through the bounded line reader, then the
 * body framed by the rules in the RFC's order.
 *
 * @module
 */

import { ProtocolError, UnexpectedEofError, type Wire } from "../common/io.ts";

/** The parsed status line and header section. */
export interface ResponseHead {
  version: string;
  status: number;
  reason: string;
  /** Header fields in order, names as sent. */
  headers: [string, string][];
  /** The raw lines, for `-i` and `-v`. */
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

/** A malformed or over-limit response. */
export class HttpError extends Error {
  override name = "HttpError";
}

/** The body ended before its announced end. */
export class PartialBodyError extends HttpError {
  override name = "PartialBodyError";
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const latin1 = new TextDecoder("latin1");

/** Values of all fields named `name` (case-insensitive). */
export function headerValues(head: ResponseHead, name: string): string[] {
  const lower = name.toLowerCase();
  return head.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/**
 * Reads a status line and header section. Throws {@linkcode HttpError} when
 * malformed or over the limits.
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
      if (error instanceof ProtocolError && /longer than/.test(error.message)) {
        throw new HttpError(`header section larger than ${maxBytes} bytes`);
      }
      throw error;
    }
    if (bytes !== null) budget -= bytes.length + 2;
    // Header bytes beyond ASCII are opaque (RFC 9110 5.5): latin1 keeps every byte.
    return bytes === null ? null : latin1.decode(bytes);
  };
  const statusLine = await next();
  if (statusLine === null) {
    throw new HttpError("the server closed the connection without a response");
  }
  const m = statusLine.match(/^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/);
  if (!m) throw new HttpError(`malformed status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
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
    if (!TOKEN.test(name)) {
      throw new HttpError(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
    }
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
      throw new HttpError(`invalid Content-Length: ${lengths.join(", ")}`);
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
 */
export async function readBody(
  wire: Wire,
  framing: BodyFraming,
  sink: (data: Uint8Array) => Promise<void>,
): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  const copy = async (length: number, got: number, announced: number): Promise<void> => {
    let left = length;
    while (left > 0) {
      const n = await wire.read(buf.subarray(0, Math.min(buf.length, left)));
      if (n === null) {
        throw new PartialBodyError(
          `partial body: got ${got + length - left} of ${announced} bytes`,
        );
      }
      await sink(buf.subarray(0, n));
      left -= n;
    }
  };
  switch (framing.kind) {
    case "none":
      return 0;
    case "length":
      await copy(framing.length, 0, framing.length);
      return framing.length;
    case "close": {
      let total = 0;
      for (let n; (n = await wire.read(buf)) !== null;) {
        await sink(buf.subarray(0, n));
        total += n;
      }
      return total;
    }
    case "chunked": {
      let total = 0;
      while (true) {
        const line = await chunkLine(wire, total);
        // chunk-size [ chunk-ext ]: extensions are allowed and ignored.
        const m = line.match(/^([0-9A-Fa-f]{1,16})[ \t]*(;.*)?$/);
        if (!m) throw new HttpError(`bad chunk size line: ${JSON.stringify(line.slice(0, 40))}`);
        const size = parseInt(m[1], 16);
        if (size > MAX_CHUNK) throw new HttpError(`chunk of ${size} bytes is over the limit`);
        if (size === 0) break;
        try {
          await copy(size, 0, size);
        } catch (error) {
          if (error instanceof PartialBodyError) {
            throw new PartialBodyError(
              `partial body: the connection closed inside a chunk after ${total} bytes`,
            );
          }
          throw error;
        }
        total += size;
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

async function chunkLine(wire: Wire, total: number): Promise<string> {
  let line: Uint8Array | null;
  try {
    line = await wire.readLineBytes(CHUNK_LINE_MAX);
  } catch (error) {
    if (
      error instanceof UnexpectedEofError ||
      (error instanceof ProtocolError && /middle of a line/.test(error.message))
    ) {
      throw new PartialBodyError(
        `partial body: the connection closed inside the chunked body after ${total} bytes`,
      );
    }
    if (error instanceof ProtocolError) throw new HttpError(`chunked body: ${error.message}`);
    throw error;
  }
  if (line === null) {
    throw new PartialBodyError(
      `partial body: the connection closed inside the chunked body after ${total} bytes`,
    );
  }
  return latin1.decode(line);
}
