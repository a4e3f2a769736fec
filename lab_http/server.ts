/**
 * A static file server like `python -m http.server`, on the runtime's raw sockets: it accepts each
 * connection, reads each request head off it (`request_head.ts` checks it), hands the request
 * target to the file-serving handler (`static_files.ts`), writes the answer, and logs one line
 * per request, as Python's does when it sends the head (a large answer's line waits for the end
 * of its transfer, to say if it was cut). A connection stays open for the next request (HTTP/1.1
 * keep-alive) until the client closes, asks to close, sends a body, is refused, or goes silent
 * for `--timeout`.
 *
 * Run: `deno run --allow-net --allow-read=lab_http/site lab_http/server.ts 8080 -d lab_http/site`
 *
 * @module
 */

import { formatAddr } from "../common/addr.ts";
import { parseCli, parseNumber, parsePort, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { describeError, Failure, listening, runMain } from "../common/errors.ts";
import { writeAll } from "../common/io.ts";
import { logLine, traceLine } from "../common/log.ts";
import { closeIdle } from "../common/idle.ts";
import { acceptWithRetry, onInterrupt } from "../common/server.ts";
import { escapeControl } from "../common/trace.ts";
import {
  decodeHead,
  headEnd,
  HeadError,
  isValidHost,
  MAX_BODY_BYTES,
  MAX_HEAD_BYTES,
  originForm,
  parseHead,
  type RequestHead,
} from "./request_head.ts";
import { type Answer, errorAnswer, finishHead } from "./responses.ts";
import { type StaticHandler, staticHandler } from "./static_files.ts";

/** Python's `http.server` port. */
export const DEFAULT_PORT = 8080;
/**
 * Connections served at once by default. Each holds up to a 256 KiB read chunk of a large file
 * while its client reads: 2,000 slow readers of a 3 MB file held 345 MB with no cap. Past the cap
 * a new connection gets a 503 and is closed (nginx's `worker_connections` is 512 by default, too).
 */
export const DEFAULT_MAX_CONNECTIONS = 512;
/** Connections past the cap being sent their 503 at once; more are closed untold. */
const MAX_REFUSING = 64;
/**
 * How long, and for how many bytes, a closing connection drops what the client still sends: a
 * client sending a body it was not asked for (a 5 MB POST) reads the answer only once it has sent
 * it all.
 */
const LINGER_MS = 5000;
const LINGER_BYTES = MAX_BODY_BYTES;
/**
 * Answers larger than this are written in blocks of this size, each one that moves counting as
 * progress against the idle timeout: a slow but steady reader is not cut off (one 256 KiB chunk
 * at 8 KiB/s would outlast 30 s).
 */
const WRITE_BLOCK = 64 * 1024;
/**
 * The read size of a large file. Each chunk is read into the same buffer and sent before the next
 * one is read: the server never holds more than one chunk per connection. (On `Deno.serve` a new
 * chunk per read was needed, since the runtime kept each one until it was on the socket; peak RSS
 * was 121-150 MB for 10 clients of a 1 GiB file.)
 */
const CHUNK_BYTES = 256 * 1024;
const CR = 13;
const LF = 10;

/** Options for {@linkcode serveHttp}. */
export interface HttpServerOptions {
  /** Address to listen on (default `0.0.0.0`). */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** The folder served (default `.`). */
  root?: string;
  /** Add `Access-Control-Allow-Origin: *`. */
  cors?: boolean;
  /** Serve and list names starting with a dot. */
  dotfiles?: boolean;
  /** List folders without index.html (default true). */
  listing?: boolean;
  /** Close a connection idle this long, between requests or inside one (default 30 s). */
  idleTimeoutMs?: number;
  /** Print request and response heads to stderr. */
  trace?: boolean;
  /** Connections served at once; past it, a 503 (default {@linkcode DEFAULT_MAX_CONNECTIONS}). */
  maxConnections?: number;
  /** Where access-log lines go (default: stdout). */
  log?: (line: string) => void;
}

/**
 * Starts the server. Throws a `Failure` if the folder cannot be served, and
 * `Deno.errors.AddrInUse` and the like if the port cannot be had.
 *
 * @example
 * ```ts
 * const server = serveHttp({ hostname: "127.0.0.1", port: 0, root: "." });
 * console.log(server.addr.port);
 * server.close();
 * await server.finished;
 * ```
 */
export function serveHttp(options: HttpServerOptions) {
  const log = options.log ?? logLine;
  const root = options.root ?? ".";
  const cors = options.cors ?? false;
  let handle: StaticHandler;
  try {
    handle = staticHandler({ root, cors, dotfiles: options.dotfiles, listing: options.listing });
  } catch (error) {
    throw new Failure(`cannot serve ${root}: ${describeError(error)}`);
  }
  const timeoutMs = options.idleTimeoutMs ?? 30_000;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  // Each open connection and when it last moved: one clock closes the idle ones, close() all.
  const open = new Map<Deno.TcpConn, number>();
  const idleSweep = setInterval(() => closeIdle(open, timeoutMs), timeoutMs / 4);
  let closing = false;

  /** Notes that `conn` moved at `at` (Infinity: busy answering it), unless it was closed meanwhile. */
  function moved(conn: Deno.TcpConn, at = performance.now()): void {
    if (open.has(conn)) open.set(conn, at);
  }

  async function serveOne(conn: Deno.TcpConn): Promise<void> {
    const from = conn.remoteAddr.hostname;
    const buf = new Uint8Array(MAX_HEAD_BYTES);
    let have = 0;
    try {
      while (!closing) {
        // 1. Read until the buffer holds a whole request head (TCP may cut it anywhere, or bring
        // two), and no more than 8 KiB of it.
        let end = -1;
        let scanned = 0;
        // A head sent a byte at a time must still arrive within the timeout, as a whole.
        let started = 0;
        // BEGIN SOLUTION read until buf holds a whole request head; end is where it ends
        for (;;) {
          // Empty lines before a request are skipped (RFC 9112 2.2).
          if (have > 0 && (buf[0] === CR || buf[0] === LF)) {
            have = dropEmptyLines(buf, have);
            scanned = 0;
          }
          end = headEnd(buf, scanned, have);
          if (end >= 0) break;
          // Full: 414 if not even the request line ended, else 431.
          if (have === buf.length) throw new HeadError(buf.indexOf(LF) < 0 ? 414 : 431, "too long");
          scanned = have;
          const n = await conn.read(buf.subarray(have));
          if (n === null) return; // The client closed, between requests or inside a head.
          have += n;
          const now = performance.now();
          moved(conn, now);
          if (started === 0) started = now;
          else if (now - started > timeoutMs) throw new HeadError(408, "head too slow");
        }
        // END SOLUTION
        // 2. Check it, 3. answer it. A body is never read: the connection closes after the
        // answer instead, after dropping what still comes (or pipelined requests after it).
        const head = parseHead(decodeHead(buf.subarray(0, end)));
        if (!await respond(conn, from, head)) {
          if (head.hasBody || have > end) await linger(conn, buf);
          return;
        }
        // Pipelined requests already received stay for the next round.
        buf.copyWithin(0, end, have);
        have -= end;
      }
    } catch (error) {
      // Reset, timeout, the server closing: nothing to say. A refused head: say why, then close.
      if (!(error instanceof HeadError)) return;
      const refusal = errorAnswer(error.status, cors);
      const out = finishHead(refusal, "close", refusal.body);
      if (options.trace) traceResponse(out);
      await writeAll(conn, out).catch(() => {});
      const line = escapeControl(firstLine(buf.subarray(0, have)));
      log(`${from} - - [${logDate()}] "${line}" ${error.status} ${refusal.length}`);
      await linger(conn, buf);
    } finally {
      // Closed here, unless the idle clock or close() closed it already.
      if (open.delete(conn)) conn.close();
    }
  }

  // One request: its target (never chosen by the Host header), the handler's answer, the answer
  // written out, and the log line (for a large answer, once it has ended). Whether the connection
  // may serve another.
  async function respond(conn: Deno.TcpConn, from: string, head: RequestHead): Promise<boolean> {
    const target = originForm(head.target);
    if (options.trace) traceRequest(head);
    // Busy answering: the idle clock waits for the client only.
    moved(conn, Infinity);
    // A request the server refuses to read as meant ends its connection, as nginx's do; so does
    // one with a body, which is never read. A missing Host is taken (RFC 9112 asks for a 400, but
    // Python's server and Deno's take it, and a student's client often sends none); an empty one
    // names no host an http URL can have: 400, as nginx.
    const host = head.headers.get("host");
    const badHost = host !== undefined && !isValidHost(host);
    const keepAlive = head.keepAlive && !head.hasBody && !badHost;
    let answer: Answer;
    try {
      const given = badHost ? errorAnswer(400, cors) : handle(head, target);
      // Most answers come synchronously (from memory): no promise to wait for.
      answer = given instanceof Promise ? await given : given;
    } catch {
      answer = errorAnswer(500, cors);
    }
    moved(conn);
    // HTTP/1.1 keeps a connection unless told; HTTP/1.0 closes it unless told.
    const connection = !keepAlive ? "close" : head.version === "HTTP/1.0" ? "keep-alive" : "";
    const { status, file } = answer;
    const length = answer.length ?? 0;
    const request = `${head.method} ${escapeControl(target)} ${head.version}`;
    const line = `${from} - - [${logDate()}] "${request}"`;
    const body = head.method === "HEAD" || status === 304 ? undefined : answer.body;
    // A small answer in one write, logged as it goes out.
    if (file === undefined && (body?.length ?? 0) <= WRITE_BLOCK) {
      // BEGIN SOLUTION log the request, then write the head and the body in one write
      const out = finishHead(answer, connection, body);
      if (options.trace) traceResponse(out);
      log(`${line} ${status} ${answer.length ?? "-"}`);
      await writeAll(conn, out);
      return keepAlive;
      // END SOLUTION
    }
    // A large answer: the head, then the body in blocks (a file's read a chunk at a time),
    // logged once it ended, with the bytes the connection took.
    let sent = 0;
    const send = async (bytes: Uint8Array) => {
      for (let at = 0; at < bytes.length; at += WRITE_BLOCK) {
        const block = bytes.subarray(at, at + WRITE_BLOCK);
        await writeAll(conn, block);
        sent += block.length;
        moved(conn);
      }
    };
    try {
      const out = finishHead(answer, connection);
      if (options.trace) traceResponse(out);
      await writeAll(conn, out);
      if (file === undefined) {
        await send(body!);
      } else {
        const chunk = new Uint8Array(Math.min(CHUNK_BYTES, length));
        file.seekSync(answer.start ?? 0, Deno.SeekMode.Start);
        while (sent < length) {
          // A synchronous read, as nginx's: from the page cache it takes a fraction of an awaited
          // one, and only regular files get here.
          const n = file.readSync(chunk.subarray(0, Math.min(chunk.length, length - sent)));
          if (!n) break; // The file shrank: the answer is cut short, and so is the connection.
          await send(chunk.subarray(0, n));
        }
      }
    } finally {
      file?.close();
      log(`${line} ${status} ${sent === length ? sent : `${sent} of ${length} (cut short)`}`);
    }
    return keepAlive && sent === length;
  }

  /**
   * Closing a socket with bytes unread makes the kernel send a reset, which can destroy the
   * answer before the client has read it. So the server half-closes, then reads and drops what
   * still comes, for a while (nginx's lingering close).
   */
  async function linger(conn: Deno.TcpConn, sink: Uint8Array): Promise<void> {
    const timer = setTimeout(() => {
      if (open.delete(conn)) conn.close();
    }, LINGER_MS);
    try {
      await conn.closeWrite();
      for (let dropped = 0; dropped < LINGER_BYTES;) {
        const n = await conn.read(sink);
        if (n === null) break;
        dropped += n;
        moved(conn);
      }
    } catch {
      // Reset, or closed by the timer or the idle clock: the answer had its chance.
    } finally {
      clearTimeout(timer);
    }
  }

  /** A connection past the cap: a 503 written at once, unread, then a lingering close. */
  async function refuseBusy(conn: Deno.TcpConn): Promise<void> {
    const answer = errorAnswer(503, cors, [["retry-after", "1"]]);
    const from = conn.remoteAddr.hostname;
    log(`${from} - - [${logDate()}] "-" 503 ${answer.length} (${maxConnections} connections open)`);
    try {
      await writeAll(conn, finishHead(answer, "close", answer.body));
      await linger(conn, new Uint8Array(4096));
    } catch {
      // Gone already.
    } finally {
      if (open.delete(conn)) conn.close();
    }
  }

  async function acceptLoop(): Promise<void> {
    const serving = new Set<Promise<void>>();
    // Connections past the cap being told so: closed with the server too, but not counted.
    let refusing = 0;
    for (let conn; (conn = await acceptWithRetry(listener, log)) !== null;) {
      const full = serving.size - refusing >= maxConnections;
      if (closing || (full && refusing >= MAX_REFUSING)) {
        // Accepted as close() ran, or a flood past the cap, which is not told, only closed: the
        // telling must stay bounded too.
        conn.close();
        continue;
      }
      open.set(conn, performance.now());
      if (full) refusing++;
      // Not awaited: the next client is accepted while this one is served.
      const task = (full ? refuseBusy(conn).finally(() => refusing--) : serveOne(conn))
        .finally(() => serving.delete(task));
      serving.add(task);
    }
    clearInterval(idleSweep);
    await Promise.all(serving);
  }

  function close(): void {
    if (closing) return;
    closing = true;
    listener.close();
    for (const conn of open.keys()) conn.close();
    open.clear();
  }

  return { addr: listener.addr, finished: acceptLoop(), close };
}

/** The first line of what a refused client sent, as far as it is fit to log. */
function firstLine(bytes: Uint8Array): string {
  const end = bytes.findIndex((b) => b === CR || b === LF);
  return decodeHead(end < 0 ? bytes : bytes.subarray(0, end)).slice(0, 200);
}

/** Drops the CR and LF bytes at the start of `buf[0, have)`; how many bytes are left. */
function dropEmptyLines(buf: Uint8Array, have: number): number {
  let skip = 0;
  while (skip < have && (buf[skip] === CR || buf[skip] === LF)) skip++;
  buf.copyWithin(0, skip, have);
  return have - skip;
}

// Through traceLine, never console.error: a stderr nobody reads, or a closed one, must neither
// hold nor kill the server.
function traceRequest(head: RequestHead): void {
  const lines = [head.line, ...[...head.headers].map(([k, v]) => `${k}: ${v}`)];
  traceLine(lines.map((l) => `<- ${escapeControl(l)}`).join("\n"));
}

/** The head as it goes out: `out` starts with it. */
function traceResponse(out: Uint8Array): void {
  const text = new TextDecoder().decode(out);
  const lines = text.slice(0, text.indexOf("\r\n\r\n")).split("\r\n");
  traceLine(lines.map((l) => `-> ${escapeControl(l)}`).join("\n"));
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
let lastSecond = -1;
let lastDate = "";

/** Python's log date, local time: `24/Nov/2026 13:40:00` (made once a second). */
function logDate(): string {
  const now = Date.now();
  if (Math.floor(now / 1000) !== lastSecond) {
    lastSecond = Math.floor(now / 1000);
    const d = new Date(now);
    const p = (n: number) => String(n).padStart(2, "0");
    lastDate = `${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()} ` +
      `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }
  return lastDate;
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab_http/server.ts",
      synopsis: "[PORT]",
      summary:
        "Static file server like `python -m http.server`: serves DIR over HTTP/1.1 with listings,\n" +
        "caching headers, ranges, and nothing outside DIR.",
      options: {
        port: {
          type: "string",
          short: "p",
          help: `port to listen on, also as PORT (default ${DEFAULT_PORT})`,
        },
        address: {
          type: "string",
          short: "a",
          arg: "ADDR",
          help: "address to listen on (default 0.0.0.0; :: for IPv6 and IPv4)",
        },
        bind: { type: "string", short: "b", arg: "ADDR", help: "the same as -a, as in Python's" },
        directory: { type: "string", short: "d", arg: "DIR", default: ".", help: "folder served" },
        cors: { type: "boolean", help: "let pages of any origin read the files (CORS; OPTIONS)" },
        dotfiles: { type: "boolean", help: "serve and list names starting with '.'" },
        "no-listing": { type: "boolean", help: "404 for folders without index.html, no listing" },
        timeout: {
          type: "string",
          arg: "SECONDS",
          default: "30",
          help: "close a connection idle this many seconds",
        },
        "max-connections": {
          type: "string",
          arg: "N",
          default: `${DEFAULT_MAX_CONNECTIONS}`,
          help: "connections served at once; more get 503 Service Unavailable",
        },
        trace: { type: "boolean", help: "print each request and response head to stderr" },
      },
      maxPositionals: 1,
      epilog: "example: deno run --allow-net --allow-read=lab_http/site lab_http/server.ts 8080 " +
        "-d lab_http/site",
    });
    if (values.address && values.bind && values.address !== values.bind) {
      throw new UsageError("give the address once: -a or -b", usage);
    }
    // The handout's PORT argument, or -p PORT.
    const port = parsePort(positionals[0] ?? values.port ?? `${DEFAULT_PORT}`, "server", usage);
    const limits = { min: 1, max: 1_000_000 };
    const options: HttpServerOptions = {
      hostname: values.address ?? values.bind ?? "0.0.0.0",
      port,
      root: values.directory,
      cors: values.cors,
      dotfiles: values.dotfiles,
      listing: !values["no-listing"],
      idleTimeoutMs: parseTimeoutMs(values.timeout, usage),
      maxConnections: parseNumber(values["max-connections"], "--max-connections", limits, usage),
      trace: values.trace,
    };
    const server = listening(port, () => serveHttp(options));
    logLine(`Serving ${values.directory} at http://${formatAddr(server.addr)}/`);
    onInterrupt(() => {
      logLine("Shutting down");
      server.close();
    });
    await server.finished;
  });
}
