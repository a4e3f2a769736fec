/**
 * The kit's raw HTTP requests to a server under test: the request line is
 * sent exactly as written (so `..` and `%2e%2e` reach the server as they
 * are), and the response is parsed leniently: a student server may send a
 * bare status line, no length, or close early.
 *
 * @module
 */

import { concat, exchangeOf, type Recording, replay, type TalkResult } from "./wire.ts";

/** A response as far as it could be parsed. */
export interface HttpReply {
  /** The status code, if the reply starts with an HTTP status line. */
  status?: number;
  /** Header names in lower case. */
  headers: Map<string, string>;
  body: Uint8Array;
  /** Everything that came back. */
  raw: Uint8Array;
  talk: TalkResult;
}

/**
 * A GET exchange for `target`, sent verbatim, with `Connection: close`.
 *
 * @example
 * ```ts
 * const rec = getRequest("/../secret.txt", 8080);
 * ```
 */
export function getRequest(target: string, port: number, version = "1.1"): Recording {
  const request = `GET ${target} HTTP/${version}\r\nHost: 127.0.0.1:${port}\r\n` +
    `User-Agent: conformance-kit\r\nConnection: close\r\n\r\n`;
  return exchangeOf(request, { serverCloses: true });
}

/** Sends `GET target` and parses what comes back. */
export async function httpGet(
  port: number,
  target: string,
  options: { idleMs?: number } = {},
): Promise<HttpReply> {
  const talk = await replay(port, getRequest(target, port), { idleMs: options.idleMs ?? 5000 });
  return { ...parseResponse(talk.reply), raw: talk.reply, talk };
}

function indexOfBytes(hay: Uint8Array, needle: number[], from = 0): number {
  for (let i = hay.indexOf(needle[0], from); i >= 0; i = hay.indexOf(needle[0], i + 1)) {
    if (needle.every((b, j) => hay[i + j] === b)) return i;
  }
  return -1;
}

/**
 * Parses a raw HTTP/1.x response: status, headers, and the body by its
 * framing (chunked, `Content-Length`, or up to the close).
 *
 * @example
 * ```ts
 * parseResponse(new TextEncoder().encode("HTTP/1.0 200 OK\r\n\r\nhi")).status; // 200
 * ```
 */
export function parseResponse(raw: Uint8Array): Omit<HttpReply, "raw" | "talk"> {
  const crlf = indexOfBytes(raw, [13, 10, 13, 10]);
  const lf = indexOfBytes(raw, [10, 10]);
  const [end, skip] = crlf >= 0 && (lf < 0 || crlf < lf) ? [crlf, 4] : [lf, 2];
  const headers = new Map<string, string>();
  if (end < 0) return { headers, body: new Uint8Array() };
  const head = new TextDecoder("latin1").decode(raw.subarray(0, end)).split(/\r?\n/);
  const status = head[0].match(/^HTTP\/\d(?:\.\d)?\s+(\d{3})/)?.[1];
  for (const line of head.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  let body = raw.subarray(end + skip);
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) body = unchunk(body);
  else {
    const length = Number(headers.get("content-length"));
    if (Number.isInteger(length) && length >= 0) body = body.subarray(0, length);
  }
  return { status: status === undefined ? undefined : Number(status), headers, body };
}

/** Decodes a chunked body; what cannot be parsed is kept as it is. */
function unchunk(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let off = 0;
  while (off < data.length) {
    const eol = indexOfBytes(data, [13, 10], off);
    if (eol < 0) break;
    const size = parseInt(new TextDecoder().decode(data.subarray(off, eol)).split(";")[0], 16);
    if (!Number.isFinite(size)) return data;
    if (size === 0) break;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    off = eol + 2 + size + 2;
  }
  return concat(parts);
}
