/**
 * A static file server like `python -m http.server`, on the runtime's raw
 * sockets: it accepts each connection, reads each request head off it
 * (`request_head.ts` checks it), hands the request target to the
 * file-serving handler (`static_files.ts`), writes the answer, and logs one
 * line per request, as Python's does when it sends the head (a large file's
 * line waits for the end of its transfer, to say if it was cut). Connections
 * stay open for the next request (HTTP/1.1 keep-alive) until the client
 * closes, asks to close, sends a body, is refused, or goes silent for
 * `--timeout`.
 *
 * Run: `deno run --allow-net --allow-read=lab_http/site lab_http/server.ts 8080 -d lab_http/site`
 *
 * @module
 */

import { formatAddr } from "../common/addr.ts";
import {
  option,
  parseCli,
  parseNumber,
  parseTimeoutMs,
  serverPort,
  UsageError,
} from "../common/cli.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { Wire } from "../common/wire.ts";
import { logLine, traceLine } from "../common/log.ts";
import { onInterrupt, type Server } from "../common/server.ts";
import { acceptEach, closeAll } from "../common/wire.ts";
import { escapeControl } from "../common/trace.ts";
import {
  decodeHead,
  headEnd,
  HeadError,
  MAX_BODY_BYTES,
  MAX_HEAD_BYTES,
  parseHead,
  type RequestHead,
} from "./request_head.ts";
import { finishHead, headLines } from "./response_head.ts";
import { type Answer, errorAnswer, type Transfer } from "./responses.ts";
import { type StaticHandler, staticHandler } from "./static_files.ts";
import { isValidHost, originForm } from "./target.ts";

/** Python's `http.server` port. */
export const DEFAULT_PORT = 8080;
/**
 * How long, and for how many bytes, a closing connection drops what the client still sends: a
 * client sending a body it was not asked for (a 5 MB POST) reads the answer only once it has sent
 * it all.
 */
const LINGER_MS = 5000;
const LINGER_BYTES = MAX_BODY_BYTES;
/**
 * Connections served at once by default. Each holds up to a 256 KiB read
 * chunk of a large file while its client reads: 2,000 slow readers of a 3 MB
 * file held 345 MB with no cap. Past the cap a new connection gets a 503 and
 * is closed (nginx's `worker_connections` is 512 by default, too).
 */
export const DEFAULT_MAX_CONNECTIONS = 512;
/** Connections past the cap being sent their 503 at once; more are closed untold. */
const MAX_REFUSING = 64;
/**
 * Answers are written in blocks of this size, each one that moves counting as progress against
 * the idle timeout: a slow but steady reader is not cut off (one 256 KiB chunk at 8 KiB/s would
 * outlast 30 s).
 */
const WRITE_BLOCK = 64 * 1024;
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

/** The folder given cannot be served (missing, not a folder, not readable). */
export class RootError extends Failure {
  override name = "RootError";
  /** The folder as given. */
  root: string;
  constructor(root: string, cause: unknown) {
    super(`cannot serve ${root}: ${describeError(cause)}`, { cause });
    this.root = root;
  }
}

/**
 * Starts the server. Throws {@linkcode RootError} if the folder cannot be
 * served, and `Deno.errors.AddrInUse` and the like if the port cannot be had.
 *
 * @example
 * ```ts
 * await using server = serveHttp({ hostname: "127.0.0.1", port: 0, root: "." });
 * console.log(server.addr.port);
 * ```
 */
export function serveHttp(options: HttpServerOptions): Server & AsyncDisposable {
  const log = options.log ?? logLine;
  const root = options.root ?? ".";
  let handle: StaticHandler;
  try {
    handle = staticHandler({
      root,
      cors: options.cors,
      dotfiles: options.dotfiles,
      listing: options.listing,
    });
  } catch (error) {
    throw new RootError(root, error);
  }
  const cors = options.cors ?? false;
  const timeoutMs = options.idleTimeoutMs ?? 30_000;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  // Each open connection and the task serving it, so close() can end them all.
  const open = new Map<Deno.TcpConn, Promise<void>>();

  async function serveOne(conn: Deno.TcpConn): Promise<void> {
    const from = conn.remoteAddr.hostname;
    // bufferSize 1: every read goes straight into `buf`; the wire's own buffer is never made.
    using wire = new Wire(conn, { timeoutMs, bufferSize: 1 });
    const buf = new Uint8Array(MAX_HEAD_BYTES);
    let have = 0;
    try {
      while (!closing) {
        // 1. Read until the buffer holds a whole request head (TCP may cut it anywhere).
        let end = -1;
        let scanned = 0;
        // A head sent a byte at a time must still arrive within the timeout, as a whole.
        let started = 0;
        for (;;) {
          // Empty lines before a request are skipped (RFC 9112 2.2).
          if (have > 0 && (buf[0] === CR || buf[0] === LF)) {
            have = dropEmptyLines(buf, have);
            scanned = 0;
          }
          end = headEnd(buf, scanned, have);
          if (end >= 0) break;
          if (have === buf.length) {
            throw buf.indexOf(LF) < 0
              ? new HeadError(414, "request line too long")
              : new HeadError(431, "head too long");
          }
          scanned = have;
          const n = await wire.read(buf.subarray(have));
          if (n === null) return; // The client closed, between requests or inside a head.
          have += n;
          if (started === 0) started = Date.now();
          else if (Date.now() - started > timeoutMs) {
            throw new HeadError(408, "head too slow");
          }
        }
        // 2. Check it, 3. answer it.
        const head = parseHead(decodeHead(buf.subarray(0, end)));
        // A body is never read: the connection closes after the answer instead.
        const keepAlive = head.keepAlive && !head.hasBody;
        if (!await respond(wire, from, head, keepAlive)) {
          if (head.hasBody || have > end) await linger(conn, wire, buf);
          return;
        }
        // Pipelined requests already received stay for the next round.
        buf.copyWithin(0, end, have);
        have -= end;
      }
    } catch (error) {
      // Reset, timeout, a file that shrank while sent, or the server closing.
      if (!(error instanceof HeadError)) return;
      const line = firstLine(buf.subarray(0, have));
      const refusal = errorAnswer(error.status, cors);
      const lines = headLines(error.status, refusal.response.headers);
      const out = finishHead(lines, "close", refusal.body);
      if (options.trace) traceResponse(out);
      await wire.write(out).catch(() => {});
      log(`${from} - - [${logDate()}] "${escapeControl(line)}" ${error.status} ${refusal.length}`);
      await linger(conn, wire, buf);
    }
  }

  // One request: its target (never chosen by the Host header), the handler's
  // answer, the log line (for a streamed body, once it has ended) and the
  // answer written out. Whether the connection may serve another.
  async function respond(
    wire: Wire,
    from: string,
    head: RequestHead,
    keepAlive: boolean,
  ): Promise<boolean> {
    const target = originForm(head.target);
    if (options.trace) traceRequest(head);
    let answer: Answer | Promise<Answer>;
    // A request the server refuses to read as meant ends its connection, as nginx's do.
    const badHost = head.host !== null && !isValidHost(head.host);
    if (badHost) keepAlive = false;
    try {
      answer = badHost ? errorAnswer(400, cors) : handle(head, target);
      // Most answers come synchronously (from memory): no promise to wait for.
      if (answer instanceof Promise) answer = await answer;
    } catch {
      answer = errorAnswer(500, cors);
    }
    const { response, length, transfer } = answer;
    const { status } = response;
    const line = `${from} - - [${logDate()}] "${head.method} ${
      escapeControl(target)
    } ${head.version}"`;
    const lines = answer.head ?? headLines(status, response.headers);
    // HTTP/1.1 keeps a connection unless told; HTTP/1.0 closes it unless told.
    const connection = !keepAlive ? "close" : head.version === "HTTP/1.0" ? "keep-alive" : "";
    const { file } = answer;
    if (file) {
      // A large file, read and sent a chunk at a time; logged when it ends, complete or cut.
      transfer?.then((t) => log(`${line} ${status} ${sizeField(t, length)}`));
      const out = finishHead(lines, connection);
      if (options.trace) traceResponse(out);
      try {
        await wire.write(out);
      } catch (error) {
        file.cancel();
        throw error;
      }
      await file.send((chunk) => wire.write(chunk, WRITE_BLOCK));
    } else {
      const body = head.method === "HEAD" || status === 304 ? undefined : answer.body;
      const out = finishHead(lines, connection, body);
      if (options.trace) traceResponse(out);
      if (out.length <= WRITE_BLOCK) {
        log(`${line} ${status} ${length ?? "-"}`);
        await wire.write(out);
      } else {
        // A large page (a listing): logged once it is out, complete or cut.
        const bodyStart = out.length - (body?.length ?? 0);
        let at = 0;
        try {
          for (; at < out.length; at += WRITE_BLOCK) {
            await wire.write(out.subarray(at, at + WRITE_BLOCK));
          }
        } catch (error) {
          const cut = { sent: Math.max(0, at - bodyStart), complete: false };
          log(`${line} ${status} ${sizeField(cut, length)}`);
          throw error;
        }
        log(`${line} ${status} ${length ?? "-"}`);
      }
    }
    return keepAlive;
  }

  // Connections past the cap, being told so: closed with the server too, but not counted.
  let refusing = 0;

  async function acceptLoop(): Promise<void> {
    for await (const conn of acceptEach(listener, log)) {
      // Not awaited: the next client is accepted while this one is served.
      if (open.size - refusing >= maxConnections) {
        // A flood past the cap is not told, only closed: the telling must stay bounded too.
        if (refusing >= MAX_REFUSING) {
          conn.close();
          continue;
        }
        refusing++;
        open.set(conn, refuseBusy(conn).finally(() => (refusing--, open.delete(conn))));
      } else {
        open.set(conn, serveOne(conn).finally(() => open.delete(conn)));
      }
    }
    await Promise.all(open.values());
  }

  /** A connection past the cap: a 503 written at once, unread, then a lingering close. */
  async function refuseBusy(conn: Deno.TcpConn): Promise<void> {
    using wire = new Wire(conn, { timeoutMs, bufferSize: 1 });
    const answer = errorAnswer(503, cors, [["retry-after", "1"]]);
    const out = finishHead(headLines(503, answer.response.headers), "close", answer.body);
    log(
      `${conn.remoteAddr.hostname} - - [${logDate()}] "-" 503 ${answer.length} ` +
        `(${maxConnections} connections open)`,
    );
    try {
      await wire.write(out);
      await linger(conn, wire, new Uint8Array(4096));
    } catch {
      // Gone already.
    }
  }

  let closing = false;
  const close = () => {
    closing = true;
    closeAll([listener, ...open.keys()]);
  };
  const finished = acceptLoop();
  return {
    addr: listener.addr,
    finished,
    close,
    [Symbol.asyncDispose]: () => (close(), finished),
  };
}

/**
 * Closing a socket with bytes unread makes the kernel send a reset, which can
 * destroy the answer before the client has read it. So the server half-closes,
 * then reads and drops what still comes, for a while (nginx's lingering close).
 */
async function linger(conn: Deno.TcpConn, wire: Wire, sink: Uint8Array): Promise<void> {
  const timer = setTimeout(() => wire.close(), LINGER_MS);
  try {
    await conn.closeWrite();
    for (let dropped = 0; dropped < LINGER_BYTES;) {
      const n = await wire.read(sink);
      if (n === null) break;
      dropped += n;
    }
  } catch {
    // Reset, or closed by the timer: the answer had its chance.
  } finally {
    clearTimeout(timer);
  }
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

/** The log's size field: the bytes sent, and for a cut transfer, of how many. */
function sizeField(transfer: Transfer, length: number | undefined): string {
  return transfer.complete ? `${transfer.sent}` : `${transfer.sent} of ${length} (cut short)`;
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

/** Python's log date, local time: `24/Nov/2026 13:40:00` (formatted once a second). */
function logDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    const d = new Date(now);
    const p = (n: number) => String(n).padStart(2, "0");
    lastDate = `${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()} ${p(d.getHours())}:${
      p(d.getMinutes())
    }:${p(d.getSeconds())}`;
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
        port: option.serverPort(DEFAULT_PORT),
        address: {
          type: "string",
          short: "a",
          arg: "ADDR",
          help: "address to listen on (default 0.0.0.0; :: for IPv6 and IPv4)",
        },
        bind: {
          type: "string",
          short: "b",
          arg: "ADDR",
          help: "the same as -a, as in Python's server",
        },
        directory: {
          type: "string",
          short: "d",
          arg: "DIR",
          default: ".",
          help: "folder to serve",
        },
        cors: {
          type: "boolean",
          help: "let pages of any origin read the files (CORS fields; OPTIONS preflights)",
        },
        dotfiles: { type: "boolean", help: "serve and list names starting with '.'" },
        "no-listing": {
          type: "boolean",
          help: "404 for folders without index.html instead of a listing",
        },
        timeout: option.timeout("30", "close a connection idle this many seconds"),
        "max-connections": {
          type: "string",
          arg: "N",
          default: `${DEFAULT_MAX_CONNECTIONS}`,
          help: "connections served at once; more get 503 Service Unavailable",
        },
        trace: { ...option.trace, help: "print each request and response head to stderr" },
      },
      maxPositionals: 1,
      epilog: "example: deno run --allow-net --allow-read=lab_http/site lab_http/server.ts 8080 " +
        "-d lab_http/site",
    });
    if (values.address && values.bind && values.address !== values.bind) {
      throw new UsageError("give the address once: -a or -b", usage);
    }
    await using server = serveHttp({
      hostname: values.address ?? values.bind ?? "0.0.0.0",
      port: serverPort(positionals, values.port, DEFAULT_PORT, usage),
      root: values.directory,
      cors: values.cors,
      dotfiles: values.dotfiles,
      listing: !values["no-listing"],
      idleTimeoutMs: parseTimeoutMs(values.timeout, usage),
      maxConnections: parseNumber(
        values["max-connections"],
        "--max-connections",
        { min: 1, max: 1_000_000 },
        usage,
      ),
      trace: values.trace,
    });
    logLine(`Serving ${values.directory} at http://${formatAddr(server.addr)}/`);
    onInterrupt(() => {
      logLine("Shutting down");
      server.close();
    });
    await server.finished;
  });
}
