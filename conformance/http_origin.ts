/**
 * The kit's own HTTP server for checking a client under test. It frames
 * each reply on purpose (a `Content-Length`, no length and a close, or
 * chunked) and fairly: chunked only to an HTTP/1.1 request, as RFC 9112
 * requires; an HTTP/1.0 request gets the same body delimited by the close.
 *
 * @module
 */

import { acceptAll, closeQuietly } from "./accept.ts";

/** What the origin serves, by path. */
export interface OriginBodies {
  /** Sent with `Content-Length`, head and body in one write. */
  sized: Record<string, Uint8Array>;
  /** Sent with no length, in pieces, ended by the close. */
  unsized: Record<string, Uint8Array[]>;
  /** Chunked to HTTP/1.1 requests (one chunk per piece), close-delimited to HTTP/1.0. */
  chunked: Record<string, Uint8Array[]>;
}

/** A request the origin received. */
export interface OriginRequest {
  target: string;
  /** `1.1`, `1.0` (also for a request line without a version). */
  version: string;
}

/** A running origin. */
export interface Origin extends AsyncDisposable {
  port: number;
  requests: OriginRequest[];
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const MAX_HEAD = 64 * 1024;
/** A client that sends no complete request head in this long is closed. */
const HEAD_TIMEOUT_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** Reads up to the end of the request head; `undefined` if the client closes or sends too much. */
async function readHead(conn: Deno.Conn): Promise<string | undefined> {
  let text = "";
  const buf = new Uint8Array(8192);
  const decoder = new TextDecoder("latin1");
  while (!/\r?\n\r?\n/.test(text)) {
    const n = await conn.read(buf);
    if (n === null || text.length > MAX_HEAD) return text.trim() ? text : undefined;
    text += decoder.decode(buf.subarray(0, n));
  }
  return text;
}

/**
 * Starts the origin on `port` (0: any free one).
 *
 * @example
 * ```ts
 * await using origin = startOrigin(0, { sized: { "/a.txt": new Uint8Array([104, 105]) }, unsized: {}, chunked: {} });
 * ```
 */
export function startOrigin(port: number, bodies: OriginBodies): Origin {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const requests: OriginRequest[] = [];

  const answer = async (conn: Deno.Conn, headRead: () => void) => {
    const head = await readHead(conn);
    if (head === undefined) return;
    headRead();
    const m = head.match(/^(\S+)\s+(\S+)(?:\s+HTTP\/(\d\.\d))?/);
    const target = m?.[2] ?? "";
    const version = m?.[3] === "1.1" ? "1.1" : "1.0";
    requests.push({ target, version });
    const path = target.replace(/^https?:\/\/[^/]*/i, "").split("?")[0];
    const status = (code: string, extra: string) =>
      encoder.encode(
        `HTTP/1.1 ${code}\r\nContent-Type: application/octet-stream\r\n${extra}Connection: close\r\n\r\n`,
      );
    const sized = bodies.sized[path];
    const pieces = bodies.unsized[path] ??
      (version === "1.0" ? bodies.chunked[path] : undefined);
    if (sized) {
      const h = status("200 OK", `Content-Length: ${sized.length}\r\n`);
      // A small reply goes in one write, as real servers send it: one recv() can get it all.
      const all = new Uint8Array(h.length + sized.length);
      all.set(h);
      all.set(sized, h.length);
      await writeAll(conn, all);
    } else if (pieces) {
      await writeAll(conn, status("200 OK", ""));
      for (const piece of pieces) {
        await sleep(5);
        await writeAll(conn, piece);
      }
    } else if (bodies.chunked[path]) {
      await writeAll(conn, status("200 OK", "Transfer-Encoding: chunked\r\n"));
      for (const piece of bodies.chunked[path]) {
        await sleep(5);
        await writeAll(conn, encoder.encode(`${piece.length.toString(16)}\r\n`));
        await writeAll(conn, piece);
        await writeAll(conn, encoder.encode("\r\n"));
      }
      await writeAll(conn, encoder.encode("0\r\n\r\n"));
    } else {
      const body = encoder.encode("not found\n");
      await writeAll(conn, status("404 Not Found", `Content-Length: ${body.length}\r\n`));
      await writeAll(conn, body);
    }
    // Half-close and drain what the client still sends: closing with unread
    // bytes would reset the connection and could cut off the reply.
    await conn.closeWrite();
    const sink = new Uint8Array(8192);
    while ((await conn.read(sink)) !== null) { /* drain */ }
  };

  const acceptor = acceptAll(listener, async (conn) => {
    const timer = setTimeout(() => closeQuietly(conn), HEAD_TIMEOUT_MS);
    try {
      await answer(conn, () => clearTimeout(timer));
    } finally {
      clearTimeout(timer);
    }
  });
  const close = () => acceptor.close();
  return { port: listener.addr.port, requests, close, [Symbol.asyncDispose]: close };
}
