/**
 * Response building for the static file server: the headers a file gets,
 * conditional requests (304), byte ranges (206, 416), redirects and error
 * pages, and the body of a large file, sent a chunk at a time, which counts
 * what it sent so the log can tell a complete transfer from a cut one.
 *
 * @module
 */

import { contentType } from "./mime.ts";
import { reasonPhrase } from "./response_head.ts";

/** A response, with what the access log needs to know about it. */
export interface Answer {
  /** The status and the fields; its own body is always empty: the body is `body` or `file`. */
  response: Response;
  /** The body's length as announced in `Content-Length`. */
  length?: number;
  /** A large file's body, sent by the server a chunk at a time. */
  file?: FileBody;
  /** With `file`: settles when its sending ends, complete or cut. */
  transfer?: Promise<Transfer>;
  /** The body when it is in memory, written as is. */
  body?: Uint8Array;
  /** The status line and fields as bytes, made once for an answer sent many times. */
  head?: Uint8Array;
}

/** What the handler reads of a request: its method and its header fields. */
export interface Asked {
  /** The method, as sent. */
  method: string;
  /** The header fields (a `Request`'s `Headers` will do). */
  headers: Pick<Headers, "get" | "has">;
}

/** How a streamed body ended. */
export interface Transfer {
  /** Bytes handed to the connection. */
  sent: number;
  /** All of them, or cut short (the client left, or the file shrank). */
  complete: boolean;
}

/**
 * How long after its last change a file may still change again without its
 * size or times showing it: two writes within one timestamp tick leave the
 * same `mtime`, and some file systems count in whole seconds (FAT: 2 s).
 */
export const RACY_MS = 2000;

/** What every response about one version of a file shares. */
export interface Representation {
  size: number;
  /** `Content-Type`. */
  type: string;
  /** `Last-Modified` in milliseconds, for `If-Modified-Since`. */
  mtimeMs: number;
  /**
   * The validators, absent while the file's mtime is within
   * {@linkcode RACY_MS} of now: a client must not keep a copy under a
   * validator that a second write in the same tick would leave unchanged.
   */
  etag?: string;
  lastModified?: string;
}

/**
 * The headers' material for one version of a file (`info` from the open
 * handle), as of `now`.
 *
 * @example
 * ```ts
 * representation("a.txt", Deno.statSync("deno.json"), Date.now()).type; // "text/plain; charset=utf-8"
 * ```
 */
export function representation(name: string, info: Deno.FileInfo, now: number): Representation {
  const mtime = info.mtime ?? new Date(0);
  const rep: Representation = {
    size: info.size,
    type: contentType(name),
    mtimeMs: mtime.getTime(),
  };
  if (now - rep.mtimeMs >= RACY_MS) {
    const ino = info.ino ?? 0;
    rep.etag = `"${ino.toString(16)}-${info.size.toString(16)}-${rep.mtimeMs.toString(16)}"`;
    rep.lastModified = mtime.toUTCString();
  }
  return rep;
}

/**
 * What `--cors` adds to every answer: any origin may read it, send the
 * fields a file request uses (`Range`, the validators; Deno's file server
 * allows these names too), and read the range and validator fields back.
 */
const CORS_FIELDS: readonly [string, string][] = [
  ["access-control-allow-origin", "*"],
  [
    "access-control-allow-headers",
    "Origin, X-Requested-With, Content-Type, Accept, Range, If-None-Match, If-Modified-Since, If-Range",
  ],
  ["access-control-expose-headers", "Content-Range, Accept-Ranges, ETag, Last-Modified"],
];

/**
 * The headers every 200 response for the file carries, as a plain list (cheaper
 * on the hot path than a `Headers` object built field by field).
 *
 * @example
 * ```ts
 * const rep = representation("a.txt", Deno.statSync("deno.json"), Date.now());
 * fileHeaders(rep, false).find(([name]) => name === "content-type");
 * ```
 */
export function fileHeaders(rep: Representation, cors: boolean): [string, string][] {
  const h: [string, string][] = [["content-type", rep.type]];
  if (rep.lastModified) h.push(["last-modified", rep.lastModified]);
  if (rep.etag) h.push(["etag", rep.etag]);
  h.push(["accept-ranges", "bytes"], ["x-content-type-options", "nosniff"]);
  if (cors) h.push(...CORS_FIELDS);
  return h;
}

/**
 * The answer to a GET or HEAD of a file: 304, 416, 206 or 200. The body comes
 * from memory, or is sent a chunk at a time from `file`, which the answer
 * then owns (`answer.file.send` closes it, `cancel` closes it unsent); when
 * the answer has no `file`, the caller closes it.
 *
 * @example
 * ```ts
 * const rep = representation("a.txt", Deno.statSync("deno.json"), Date.now());
 * const body = new TextEncoder().encode("x".repeat(rep.size));
 * const { response } = fileAnswer(new Request("http://x/a.txt"), rep, body, false);
 * response.status; // 200
 * ```
 */
export function fileAnswer(
  req: Asked,
  rep: Representation,
  body: Uint8Array<ArrayBuffer> | Deno.FsFile,
  cors: boolean,
): Answer {
  if (notModified(req.headers, rep)) {
    // The validators only (RFC 9110 15.4.5): the client has the rest.
    const h: [string, string][] = [["etag", rep.etag!], ["last-modified", rep.lastModified!]];
    if (cors) h.push(...CORS_FIELDS);
    return { response: new Response(null, { status: 304, headers: h }) };
  }
  const h = fileHeaders(rep, cors);
  const { size } = rep;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = req.headers.get("range");
  if (range !== null && ifRangeHolds(req.headers.get("if-range"), rep)) {
    const r = parseRange(range, size);
    if (r === "unsatisfiable") {
      return errorAnswer(416, cors, [
        ...h.filter(([name]) => name !== "content-type"),
        ["content-range", `bytes */${size}`],
      ]);
    }
    if (r) {
      [start, end] = r;
      status = 206;
      h.push(["content-range", `bytes ${start}-${end}/${size}`]);
    }
  }
  const length = Math.max(0, end - start + 1);
  h.push(["content-length", `${length}`]);
  if (req.method === "HEAD") {
    return { response: new Response(null, { status, headers: h }), length };
  }
  if (body instanceof Uint8Array) {
    const part = status === 206 ? body.subarray(start, end + 1) : body;
    return { response: new Response(null, { status, headers: h }), length, body: part };
  }
  const file = fileBody(body, start, length);
  return {
    response: new Response(null, { status, headers: h }),
    length,
    file: file.body,
    transfer: file.transfer,
  };
}

/**
 * Whether a request's `Range` or validators could change the answer.
 *
 * @example
 * ```ts
 * conditional(new Headers({ range: "bytes=0-1" })); // true
 * ```
 */
export function conditional(headers: Asked["headers"]): boolean {
  return headers.has("range") || headers.has("if-none-match") || headers.has("if-modified-since");
}

/** Whether `If-None-Match` (or else `If-Modified-Since`) says the client's copy is current. */
function notModified(headers: Asked["headers"], rep: Representation): boolean {
  if (!rep.etag) return false; // A file that may still change within its tick: always sent.
  const inm = headers.get("if-none-match");
  if (inm !== null) {
    // Weak comparison, as RFC 9110 13.1.2 asks for If-None-Match.
    const strip = (t: string) => t.trim().replace(/^W\//, "");
    return inm.trim() === "*" || inm.split(",").some((t) => strip(t) === rep.etag);
  }
  const ims = headers.get("if-modified-since");
  if (ims !== null) {
    const since = Date.parse(ims);
    return !Number.isNaN(since) && Math.floor(rep.mtimeMs / 1000) <= Math.floor(since / 1000);
  }
  return false;
}

/** `If-Range`: a strong ETag must match exactly, a date must equal Last-Modified. */
function ifRangeHolds(ifRange: string | null, rep: Representation): boolean {
  if (ifRange === null) return true;
  if (!rep.etag || !rep.lastModified) return false;
  const value = ifRange.trim();
  if (value.startsWith('"')) return value === rep.etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === Date.parse(rep.lastModified);
}

/**
 * Parses a single byte range against `size`: `[start, end]` inclusive,
 * `"unsatisfiable"`, or `undefined` to ignore the header (malformed or
 * several ranges: RFC 9110 lets a server send the whole file instead).
 *
 * @example
 * ```ts
 * parseRange("bytes=-5", 13); // [8, 12]
 * ```
 */
export function parseRange(
  header: string,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  const m = header.trim().match(/^bytes=(\d{0,15})-(\d{0,15})$/);
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  if (m[2] !== "" && Number(m[2]) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  const end = m[2] === "" ? size - 1 : Number(m[2]);
  return [start, Math.min(end, size - 1)];
}

/** A file that ended before the bytes its `stat` announced were sent. */
export class FileShrankError extends Error {
  override name = "FileShrankError";
  /** Bytes sent before the file ended. */
  sent: number;
  /** Bytes announced in `Content-Length`. */
  expected: number;
  constructor(sent: number, expected: number) {
    super(`the file ended after ${sent} of ${expected} bytes`);
    this.sent = sent;
    this.expected = expected;
  }
}

/**
 * The read size of a large file's body. Each chunk is read into the same
 * buffer, sent, and only then is the next one read: the server never holds
 * more than one chunk per connection. (On `Deno.serve` a new chunk per read
 * was needed, since the runtime kept each one until it was on the socket;
 * peak RSS was 121-150 MB for 10 clients of a 1 GiB file.)
 */
const CHUNK_BYTES = 256 * 1024;

/** A large file's body, which the server sends a chunk at a time. */
export interface FileBody {
  /**
   * Sends the body through `write`, reading the file as it goes, and closes
   * the file. Rejects if `write` does, or if the file ends early
   * ({@linkcode FileShrankError}).
   */
  send(write: (chunk: Uint8Array) => Promise<void>): Promise<void>;
  /** Closes the file unsent (the head could not be written). */
  cancel(): void;
}

/**
 * The body of `length` bytes of `file` from `start`, and how its sending
 * ends: `transfer` counts the bytes written to the connection.
 */
function fileBody(
  file: Deno.FsFile,
  start: number,
  length: number,
): { body: FileBody; transfer: Promise<Transfer> } {
  let sent = 0;
  let ended = false;
  const { promise: transfer, resolve } = Promise.withResolvers<Transfer>();
  const end = (complete: boolean) => {
    if (ended) return;
    ended = true;
    file.close();
    resolve({ sent, complete });
  };
  const body: FileBody = {
    async send(write) {
      try {
        if (start > 0) file.seekSync(start, Deno.SeekMode.Start);
        const buf = new Uint8Array(Math.min(CHUNK_BYTES, length));
        while (sent < length) {
          // A synchronous read, as nginx's: from the page cache it takes a
          // fraction of an awaited one, and only regular files get here.
          const n = file.readSync(buf.subarray(0, Math.min(buf.length, length - sent)));
          if (n === null || n === 0) throw new FileShrankError(sent, length);
          await write(buf.subarray(0, n));
          sent += n;
        }
        end(true);
      } catch (error) {
        end(false);
        throw error;
      }
    },
    cancel: () => end(false),
  };
  return { body, transfer };
}

const encoder = new TextEncoder();

/**
 * An error page: short HTML, no path, no stack trace.
 *
 * @example
 * ```ts
 * errorAnswer(404, false).response.status; // 404
 * ```
 */
export function errorAnswer(
  status: number,
  cors: boolean,
  extra: [string, string][] = [],
): Answer {
  const text = reasonPhrase(status);
  const body = encoder.encode(
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${status} ${text}</title></head>` +
      `<body><h1>${status} ${text}</h1></body></html>\n`,
  );
  const h: [string, string][] = [
    ...extra,
    ["content-type", "text/html; charset=utf-8"],
    ["x-content-type-options", "nosniff"],
  ];
  if (cors) h.push(...CORS_FIELDS);
  h.push(["content-length", `${body.length}`]);
  return { response: new Response(null, { status, headers: h }), length: body.length, body };
}

/**
 * A folder asked for without its slash: 301 to the same path plus `/`, on
 * this host. One leading slash only: `//evil.example/` would send the browser
 * to another host (CVE-2021-28861 in Python's server).
 *
 * @example
 * ```ts
 * redirectAnswer("//docs", "?x=1", false).response.headers.get("location"); // "/docs/?x=1"
 * ```
 */
export function redirectAnswer(pathname: string, search: string, cors: boolean): Answer {
  const h: [string, string][] = [
    ["location", "/" + pathname.replace(/^\/+/, "") + "/" + search],
    ["x-content-type-options", "nosniff"],
    ["content-length", "0"],
  ];
  if (cors) h.push(...CORS_FIELDS);
  return { response: new Response(null, { status: 301, headers: h }), length: 0 };
}

/**
 * A page built in memory (a folder listing): never cached by the client.
 *
 * @example
 * ```ts
 * htmlAnswer("<!DOCTYPE html><title>x</title>", false).length; // 31
 * ```
 */
export function htmlAnswer(html: string, cors: boolean): Answer {
  const body = encoder.encode(html);
  const h: [string, string][] = [
    ["content-type", "text/html; charset=utf-8"],
    ["cache-control", "no-cache"],
    ["x-content-type-options", "nosniff"],
  ];
  if (cors) h.push(...CORS_FIELDS);
  h.push(["content-length", `${body.length}`]);
  return { response: new Response(null, { headers: h }), length: body.length, body };
}

/**
 * The answer to a CORS preflight (`OPTIONS` with `--cors`): 204, the methods
 * the server takes, and the fields a request may send, for a day.
 *
 * @example
 * ```ts
 * preflightAnswer().response.status; // 204
 * ```
 */
export function preflightAnswer(): Answer {
  const h: [string, string][] = [
    ["allow", "GET, HEAD, OPTIONS"],
    ["access-control-allow-methods", "GET, HEAD, OPTIONS"],
    ["access-control-max-age", "86400"],
    ...CORS_FIELDS,
  ];
  return { response: new Response(null, { status: 204, headers: h }) };
}
