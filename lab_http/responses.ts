/**
 * The static file server's answers: the headers a file gets, conditional requests (304), byte
 * ranges (206, 416), redirects, error pages and listings, each as the bytes of its head (status
 * line and fields) and its body; and {@linkcode finishHead}, which adds `Date` and `Connection`
 * as the answer goes out.
 *
 * @module
 */

import { contentType } from "./mime.ts";

/**
 * An answer: its status, the bytes of its head, and its body, in memory or in a file that the
 * server sends a chunk at a time.
 */
export interface Answer {
  status: number;
  /** The status line and fields, without `Date`, `Connection` and the empty line. */
  head: Uint8Array;
  /** The body's length as announced in `Content-Length`, for the log. */
  length?: number;
  /** The body, when it is in memory. */
  body?: Uint8Array;
  /** Or the file to send `length` bytes of, from `start`: the answer owns it (the server closes it). */
  file?: Deno.FsFile;
  start?: number;
}

/** What an answer depends on in a request: its method, and its header fields by lower-case name. */
export interface Asked {
  method: string;
  headers: Map<string, string>;
}

// The reason phrases of the statuses the server sends (RFC 9110 15).
const STATUS_TEXT = new Map(
  [
    "200 OK|204 No Content|206 Partial Content|301 Moved Permanently|304 Not Modified",
    "400 Bad Request|404 Not Found|405 Method Not Allowed|408 Request Timeout|413 Content Too Large",
    "414 URI Too Long|416 Range Not Satisfiable|431 Request Header Fields Too Large",
    "500 Internal Server Error|501 Not Implemented|503 Service Unavailable",
    "505 HTTP Version Not Supported",
  ].join("|").split("|").map((line) => [Number(line.slice(0, 3)), line.slice(4)]),
);

/**
 * What `--cors` adds to every answer: any origin may read it, send the fields a file request uses
 * (`Range`, the validators; Deno's file server allows these names too), and read the range and
 * validator fields back.
 */
const CORS_FIELDS: readonly [string, string][] = [
  ["access-control-allow-origin", "*"],
  [
    "access-control-allow-headers",
    "Origin, X-Requested-With, Content-Type, Accept, Range, If-None-Match, If-Modified-Since, If-Range",
  ],
  ["access-control-expose-headers", "Content-Range, Accept-Ranges, ETag, Last-Modified"],
];

const encoder = new TextEncoder();

/**
 * An answer with `fields`, the CORS fields if `cors`, and `body` with its `Content-Length`.
 *
 * @example
 * ```ts
 * const answer = makeAnswer(200, [["content-type", "text/plain"]], false, new Uint8Array(3));
 * new TextDecoder().decode(answer.head);
 * // "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n"
 * ```
 */
export function makeAnswer(
  status: number,
  fields: [string, string][],
  cors: boolean,
  body?: Uint8Array,
): Answer {
  if (cors) fields.push(...CORS_FIELDS);
  if (body) fields.push(["content-length", `${body.length}`]);
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT.get(status) ?? "Unknown"}\r\n`;
  for (const [name, value] of fields) head += `${name}: ${value}\r\n`;
  return { status, head: encoder.encode(head), length: body?.length, body };
}

/**
 * How long after its last change a file may still change again without its size or times showing
 * it: two writes within one timestamp tick leave the same `mtime`, and some file systems count in
 * whole seconds (FAT: 2 s).
 */
export const RACY_MS = 2000;

/** What every answer about one version of a file shares. */
export interface Representation {
  size: number;
  /** `Content-Type`. */
  type: string;
  /** `Last-Modified` in milliseconds, for `If-Modified-Since`. */
  mtimeMs: number;
  /**
   * The validators, absent while the file's mtime is within {@linkcode RACY_MS} of now: a client
   * must not keep a copy under a validator that a second write in the same tick would leave as
   * it is.
   */
  etag?: string;
  lastModified?: string;
}

/**
 * The headers' material for one version of a file (`info` from the open handle), as of `now`.
 *
 * @example
 * ```ts
 * representation("a.txt", Deno.statSync("deno.json"), Date.now()).type;
 * // "text/plain; charset=utf-8"
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
 * The answer to a GET or HEAD of a file: 304, 416, 206 or 200. A GET's body is `body` (or the part
 * of it asked for) when in memory; else it is sent from the file, which the answer then owns
 * (when the answer has no `file`, the caller closes it).
 *
 * @example
 * ```ts
 * const rep = representation("a.txt", Deno.statSync("deno.json"), Date.now());
 * const body = new Uint8Array(rep.size);
 * fileAnswer({ method: "GET", headers: new Map() }, rep, body, false).status; // 200
 * ```
 */
export function fileAnswer(
  req: Asked,
  rep: Representation,
  body: Uint8Array | Deno.FsFile,
  cors: boolean,
): Answer {
  if (notModified(req.headers, rep)) {
    // The validators only (RFC 9110 15.4.5): the client has the rest.
    return makeAnswer(304, [["etag", rep.etag!], ["last-modified", rep.lastModified!]], cors);
  }
  const fields: [string, string][] = [["content-type", rep.type]];
  if (rep.lastModified) fields.push(["last-modified", rep.lastModified], ["etag", rep.etag!]);
  fields.push(["accept-ranges", "bytes"], ["x-content-type-options", "nosniff"]);
  const { size } = rep;
  let [start, end, status] = [0, size - 1, 200];
  const range = req.headers.get("range");
  if (range !== undefined && ifRangeHolds(req.headers.get("if-range"), rep)) {
    const r = parseRange(range, size);
    if (r === "unsatisfiable") {
      // The error page's own type and nosniff, and the file's other fields.
      const rest = fields.filter(([name]) => !/^(content-type|x-content-type-options)$/.test(name));
      return errorAnswer(416, cors, [...rest, ["content-range", `bytes */${size}`]]);
    }
    if (r) {
      [start, end, status] = [r[0], r[1], 206];
      fields.push(["content-range", `bytes ${start}-${end}/${size}`]);
    }
  }
  const length = Math.max(0, end - start + 1);
  fields.push(["content-length", `${length}`]);
  const answer = { ...makeAnswer(status, fields, cors), length };
  if (req.method === "HEAD") return answer;
  if (body instanceof Uint8Array) return { ...answer, body: body.subarray(start, end + 1) };
  return { ...answer, file: body, start };
}

/** Whether `If-None-Match` (or else `If-Modified-Since`) says the client's copy is current. */
function notModified(headers: Asked["headers"], rep: Representation): boolean {
  if (!rep.etag) return false; // A file that may still change within its tick: always sent.
  const inm = headers.get("if-none-match");
  if (inm !== undefined) {
    // Weak comparison, as RFC 9110 13.1.2 asks for If-None-Match.
    const strip = (t: string) => t.trim().replace(/^W\//, "");
    return inm.trim() === "*" || inm.split(",").some((t) => strip(t) === rep.etag);
  }
  const ims = headers.get("if-modified-since");
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && Math.floor(rep.mtimeMs / 1000) <= Math.floor(since / 1000);
}

/** `If-Range`: a strong ETag must match exactly, a date must equal Last-Modified. */
function ifRangeHolds(ifRange: string | undefined, rep: Representation): boolean {
  if (ifRange === undefined) return true;
  if (!rep.etag || !rep.lastModified) return false;
  const value = ifRange.trim();
  if (value.startsWith('"')) return value === rep.etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === Date.parse(rep.lastModified);
}

/**
 * Parses a single byte range against `size`: `[start, end]` inclusive, `"unsatisfiable"`, or
 * `undefined` to ignore the header (malformed, or several ranges: RFC 9110 lets a server send the
 * whole file instead).
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

/**
 * An error page: short HTML, no path, no stack trace; `extra` fields first.
 *
 * @example
 * ```ts
 * errorAnswer(404, false).status; // 404
 * ```
 */
export function errorAnswer(
  status: number,
  cors: boolean,
  extra: [string, string][] = [],
): Answer {
  const title = `${status} ${STATUS_TEXT.get(status)}`;
  const body = encoder.encode(
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
      `<body><h1>${title}</h1></body></html>\n`,
  );
  const fields: [string, string][] = [
    ...extra,
    ["content-type", "text/html; charset=utf-8"],
    ["x-content-type-options", "nosniff"],
  ];
  return makeAnswer(status, fields, cors, body);
}

/**
 * A folder asked for without its slash: 301 to the same path plus `/`, on this host. One leading
 * slash only: `//evil.example/` would send the browser to another host (CVE-2021-28861 in Python's
 * server).
 *
 * @example
 * ```ts
 * const { head } = redirectAnswer("//docs", "?x=1", false);
 * new TextDecoder().decode(head).includes("location: /docs/?x=1"); // true
 * ```
 */
export function redirectAnswer(pathname: string, search: string, cors: boolean): Answer {
  const location = "/" + pathname.replace(/^\/+/, "") + "/" + search;
  const fields: [string, string][] = [["location", location], [
    "x-content-type-options",
    "nosniff",
  ]];
  return makeAnswer(301, fields, cors, new Uint8Array());
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
  const fields: [string, string][] = [
    ["content-type", "text/html; charset=utf-8"],
    ["cache-control", "no-cache"],
    ["x-content-type-options", "nosniff"],
  ];
  return makeAnswer(200, fields, cors, encoder.encode(html));
}

/**
 * The answer to a CORS preflight (`OPTIONS` with `--cors`): 204, the methods the server takes,
 * and the fields a request may send, for a day.
 *
 * @example
 * ```ts
 * preflightAnswer().status; // 204
 * ```
 */
export function preflightAnswer(): Answer {
  const methods = "GET, HEAD, OPTIONS";
  const fields: [string, string][] = [
    ["allow", methods],
    ["access-control-allow-methods", methods],
    ["access-control-max-age", "86400"],
  ];
  return makeAnswer(204, fields, true);
}

const ENDS = {
  "": encoder.encode("\r\n"),
  close: encoder.encode("connection: close\r\n\r\n"),
  "keep-alive": encoder.encode("connection: keep-alive\r\n\r\n"),
};
let dateSecond = -1;
let dateField = new Uint8Array();

/**
 * The whole head of `answer` as it goes out: its status line and fields, `Date`, and the
 * `Connection` field given (none for `""`); followed by `body`, if given, so that a small answer
 * goes out in one write.
 *
 * @example
 * ```ts
 * const bytes = finishHead(errorAnswer(404, false), "close");
 * new TextDecoder().decode(bytes).endsWith("connection: close\r\n\r\n"); // true
 * ```
 */
export function finishHead(
  answer: Answer,
  connection: "" | "close" | "keep-alive",
  body?: Uint8Array,
): Uint8Array {
  // `date: ...\r\n`, made once a second.
  const now = Date.now();
  if (Math.floor(now / 1000) !== dateSecond) {
    dateSecond = Math.floor(now / 1000);
    dateField = encoder.encode(`date: ${new Date(now).toUTCString()}\r\n`);
  }
  const { head } = answer;
  const end = ENDS[connection];
  const out = new Uint8Array(head.length + dateField.length + end.length + (body?.length ?? 0));
  out.set(head);
  out.set(dateField, head.length);
  out.set(end, head.length + dateField.length);
  if (body) out.set(body, head.length + dateField.length + end.length);
  return out;
}
