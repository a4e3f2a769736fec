/**
 * The bytes of a response head as the static file server writes them: the
 * status line, the answer's fields, `Date`, and `Connection: close` when the
 * server closes after it (or `keep-alive` for an HTTP/1.0 client that asked
 * to keep it).
 *
 * @module
 */

// The reason phrases of the statuses the server sends (RFC 9110 15): the one place they are written.
const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: "OK",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  304: "Not Modified",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  414: "URI Too Long",
  416: "Range Not Satisfiable",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

const encoder = new TextEncoder();
const ENDS = {
  "": encoder.encode("\r\n"),
  close: encoder.encode("connection: close\r\n\r\n"),
  "keep-alive": encoder.encode("connection: keep-alive\r\n\r\n"),
};
let dateSecond = -1;
let dateBytes = new Uint8Array();

/** `date: ...\r\n` for now, made once a second. */
function dateField(): Uint8Array {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateBytes = encoder.encode(`date: ${new Date(now).toUTCString()}\r\n`);
  }
  return dateBytes;
}

/**
 * The reason phrase of `status`, as the status line and an error page say it.
 *
 * @example
 * ```ts
 * reasonPhrase(404); // "Not Found"
 * ```
 */
export function reasonPhrase(status: number): string {
  return STATUS_TEXT[status] ?? "Unknown";
}

/**
 * The status line and `fields` as bytes, without `Date` and the empty line
 * ({@linkcode finishHead} adds them): made once for an answer sent many times.
 *
 * @example
 * ```ts
 * new TextDecoder().decode(headLines(200, [["content-length", "0"]]));
 * // "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n"
 * ```
 */
export function headLines(status: number, fields: Iterable<[string, string]>): Uint8Array {
  let text = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  for (const [name, value] of fields) text += `${name}: ${value}\r\n`;
  return encoder.encode(text);
}

/**
 * The whole head from `lines` (see {@linkcode headLines}), with `Date` and
 * the `Connection` field given (none for `""`); followed by `body`, if given,
 * so that a small answer goes out in one write.
 *
 * @example
 * ```ts
 * const bytes = finishHead(headLines(200, []), "close");
 * new TextDecoder().decode(bytes).endsWith("connection: close\r\n\r\n"); // true
 * ```
 */
export function finishHead(
  lines: Uint8Array,
  connection: "" | "close" | "keep-alive",
  body?: Uint8Array,
): Uint8Array {
  const date = dateField();
  const end = ENDS[connection];
  const out = new Uint8Array(lines.length + date.length + end.length + (body?.length ?? 0));
  out.set(lines);
  out.set(date, lines.length);
  out.set(end, lines.length + date.length);
  if (body) out.set(body, lines.length + date.length + end.length);
  return out;
}
