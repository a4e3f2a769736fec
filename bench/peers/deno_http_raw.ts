// What a static file server on Deno's raw sockets costs, next to deno_http_floor.ts's `--headers`
// row (Deno.serve plus the duties and reads of a static file server): the same duties (one lstat
// per request, ETag and Last-Modified from it, a content type, `nosniff`, a log line batched every
// 25 ms), the same reads (Host, Range, If-None-Match, If-Modified-Since), on `Deno.listen` with
// the request head read by this program: every line checked against the grammar (RFC 9112), a
// head bound of 8 KiB, one Host only, no body accepted, an idle timeout, HTTP/1.0 closes.
// The answer goes out in one write (head and body together), where Deno.serve's writer sends a
// head and a 1 KiB body in two. It serves one file for any target: the path is not resolved.
// deno run --allow-net --allow-read=FILE deno_http_raw.ts PORT FILE
import { log } from "./batched_log.ts";
import { fileVersion } from "./file_version.ts";

const [port, file] = Deno.args;
const body = new Uint8Array(1024).fill(97);
const MAX_HEAD = 8 * 1024;
const IDLE_MS = 30_000;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/1\.([01])$/;
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Where the head ends (just past CRLF CRLF) in buf[0, to), searching from `from`; else -1. */
function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(from, 3); i < to; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

interface Head {
  method: string;
  target: string;
  keepAlive: boolean;
  host: string;
  conditional: boolean;
}

/** The request head, or the status to refuse it with. */
function parseHead(text: string): Head | number {
  const lines = text.split("\r\n");
  const line = REQUEST_LINE.exec(lines[0]);
  if (!line) return 400;
  let host: string | undefined;
  let conditional = false;
  let keepAlive = line[3] === "1";
  for (let i = 1; i < lines.length - 2; i++) {
    const l = lines[i];
    const colon = l.indexOf(":");
    if (colon <= 0) return 400;
    const name = l.slice(0, colon).toLowerCase();
    const value = l.slice(colon + 1).trim();
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) return 400;
    if (name === "host") {
      if (host !== undefined) return 400;
      host = value;
    } else if (name === "range" || name === "if-none-match" || name === "if-modified-since") {
      conditional = true;
    } else if (name === "content-length" || name === "transfer-encoding") {
      return 400; // No body is taken: it could hide a second request.
    } else if (name === "connection") {
      const v = value.toLowerCase();
      if (v === "close") keepAlive = false;
      else if (v === "keep-alive") keepAlive = true;
    }
  }
  if (host === undefined && line[3] === "1") return 400;
  return { method: line[1], target: line[2], keepAlive, host: host ?? "", conditional };
}

let cached: { key: string; head: string } | undefined;
let dateSecond = -1;
let dateLine = "";

function answer(): Uint8Array {
  const { etag: key, mtime } = fileVersion(file);
  if (cached?.key !== key) {
    cached = {
      key,
      head: "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\n" +
        `last-modified: ${mtime.toUTCString()}\r\netag: ${key}\r\naccept-ranges: bytes\r\n` +
        `x-content-type-options: nosniff\r\ncontent-length: ${body.length}\r\n`,
    };
  }
  const now = Date.now();
  if (Math.floor(now / 1000) !== dateSecond) {
    dateSecond = Math.floor(now / 1000);
    dateLine = `date: ${new Date(now).toUTCString()}\r\n\r\n`;
  }
  const head = encoder.encode(cached.head + dateLine);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

const open = new Map<Deno.Conn, number>();

async function serve(conn: Deno.TcpConn): Promise<void> {
  const from = conn.remoteAddr.hostname;
  const buf = new Uint8Array(MAX_HEAD);
  let have = 0;
  try {
    for (;;) {
      const n = await conn.read(buf.subarray(have));
      if (n === null) return;
      open.set(conn, Date.now());
      const searchFrom = have;
      have += n;
      let end;
      while ((end = headEnd(buf, searchFrom, have)) >= 0) {
        const head = parseHead(decoder.decode(buf.subarray(0, end)));
        if (typeof head === "number") {
          await conn.write(encoder.encode("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"));
          return;
        }
        // A real server answers these with 206 or 304 after more checks; here they are read.
        if (head.conditional) return;
        const out = answer();
        for (let off = 0; off < out.length;) off += await conn.write(out.subarray(off));
        log(`${from} - - "${head.method} ${head.target}" 200 ${body.length}`);
        if (!head.keepAlive) return;
        buf.copyWithin(0, end, have);
        have -= end;
      }
      if (have === buf.length) return; // A head over MAX_HEAD: refused by closing.
    }
  } catch {
    // A reset or an idle close: nothing to answer.
  } finally {
    open.delete(conn);
    try {
      conn.close();
    } catch {
      // Closed by the idle sweep.
    }
  }
}

// One sweep a second closes connections idle too long: no timer per request.
setInterval(() => {
  const limit = Date.now() - IDLE_MS;
  for (const [conn, last] of open) if (last < limit) conn.close();
}, 1000);

const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(port) });
for await (const conn of listener) {
  open.set(conn, Date.now());
  serve(conn);
}
