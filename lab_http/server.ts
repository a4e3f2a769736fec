/**
 * A static file server like `python -m http.server`, on `Deno.serve` (the
 * runtime's own HTTP/1.1 server, as `http.server` is Python's): `Deno.serve`
 * owns the sockets and parses each request; this script takes the request
 * target, hands it to the file-serving handler (`static_files.ts`) and logs
 * one line per request when its body has gone out.
 *
 * Run: `deno run --allow-net --allow-read=lab_http/site lab_http/server.ts 8080 -d lab_http/site`
 *
 * @module
 */

import { formatAddr } from "../common/addr.ts";
import { option, parseCli, serverPort, UsageError } from "../common/cli.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { logLine } from "../common/log.ts";
import { onInterrupt, type Server } from "../common/server.ts";
import { escapeControl } from "../common/trace.ts";
import { type Answer, errorAnswer, type Transfer } from "./responses.ts";
import { type StaticHandler, staticHandler } from "./static_files.ts";
import { isValidHost, targetOf } from "./target.ts";

/** Python's `http.server` port. */
export const DEFAULT_PORT = 8080;
/** How long to wait before listening again when the process ran out of descriptors. */
const RETRY_MS = 100;

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
  /** Print request and response heads to stderr. */
  trace?: boolean;
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
export function serveHttp(options: HttpServerOptions): Server {
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
  const controller = new AbortController();
  const cors = options.cors ?? false;
  const internalError = () => errorAnswer(500, "Internal Server Error", cors);

  // Deno.serve opens the listening socket, accepts connections, parses each
  // request and calls respond(); it writes the response and keeps the
  // connection alive or closes it.
  const listen = (port: number) =>
    Deno.serve({
      hostname: options.hostname ?? "0.0.0.0",
      port,
      signal: controller.signal,
      onListen: () => {},
      // Never a stack trace or a path in a response.
      onError: () => new Response("Internal Server Error\n", { status: 500 }),
    }, respond);
  const first = listen(options.port);
  const addr = first.addr;

  // One request: its target (never chosen by the Host header), the handler's
  // answer, and the log line once the body has gone out.
  function respond(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) {
    const host = req.headers.get("host");
    const target = targetOf(req.url, host);
    if (options.trace) traceRequest(req, target);
    const from = info.remoteAddr.hostname;
    let answer: Answer | Promise<Answer>;
    try {
      answer = host !== null && !isValidHost(host)
        ? errorAnswer(400, "Bad Request", cors)
        : handle(req, target);
    } catch {
      answer = internalError();
    }
    // Most answers come synchronously (from memory): no promise, no closure.
    if (!(answer instanceof Promise)) return sent(from, req.method, target, answer);
    return answer.then(
      (a) => sent(from, req.method, target, a),
      () => sent(from, req.method, target, internalError()),
    );
  }

  // Python's log line: the method is a token (Deno.serve refuses any other),
  // the target is the peer's text and may hold anything the parser let by.
  function sent(from: string, method: string, target: string, answer: Answer): Response {
    const { response, length, transfer } = answer;
    if (options.trace) traceResponse(response, length);
    const line = `${from} - - [${logDate()}] "${method} ${escapeControl(target)} HTTP/1.1"`;
    if (transfer) transfer.then((t) => log(`${line} ${response.status} ${sizeField(t, length)}`));
    else log(`${line} ${response.status} ${length ?? "-"}`);
    return response;
  }

  // Deno.serve's accept loop ends when the process runs out of file
  // descriptors. Keep the server up: say so once, then listen again on the
  // same port until descriptors are free.
  async function supervise(): Promise<void> {
    let current: Deno.HttpServer<Deno.NetAddr> | undefined = first;
    let failures = 0;
    while (!controller.signal.aborted) {
      try {
        current ??= listen(addr.port);
        if (failures > 0) log(`listening again after ${failures} failed tries`);
        failures = 0;
        await current.finished;
        return;
      } catch (error) {
        if (controller.signal.aborted) return;
        if (failures++ === 0) {
          log(`server error: ${describeError(error)}; listening again every ${RETRY_MS} ms`);
        }
        current = undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, RETRY_MS);
          controller.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), {
            once: true,
          });
        });
      }
    }
  }

  // Aborting Deno.serve's signal closes the listener and every open
  // connection, a transfer under way included.
  const close = () => controller.abort();
  const finished = supervise();
  return { addr, finished, close, [Symbol.asyncDispose]: () => (close(), finished) };
}

/** The log's size field: the bytes sent, and for a cut transfer, of how many. */
function sizeField(transfer: Transfer, length: number | undefined): string {
  return transfer.complete ? `${transfer.sent}` : `${transfer.sent} of ${length} (cut short)`;
}

function traceRequest(req: Request, target: string): void {
  const lines = [
    `${req.method} ${target} HTTP/1.1`,
    ...[...req.headers].map(([k, v]) => `${k}: ${v}`),
  ];
  console.error(lines.map((l) => `<- ${escapeControl(l)}`).join("\n"));
}

function traceResponse(res: Response, length: number | undefined): void {
  const lines = [`HTTP/1.1 ${res.status}`, ...[...res.headers].map(([k, v]) => `${k}: ${v}`)];
  // An answer from memory leaves Content-Length to Deno.serve, which writes it.
  if (length !== undefined && !res.headers.has("content-length")) {
    lines.push(`content-length: ${length}`);
  }
  console.error(lines.map((l) => `-> ${l}`).join("\n"));
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
        cors: { type: "boolean", help: "add Access-Control-Allow-Origin: *" },
        dotfiles: { type: "boolean", help: "serve and list names starting with '.'" },
        "no-listing": {
          type: "boolean",
          help: "404 for folders without index.html instead of a listing",
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
      trace: values.trace,
    });
    logLine(`Serving ${values.directory} at http://${formatAddr(server.addr)}/`);
    using _ = onInterrupt(() => {
      logLine("Shutting down");
      server.close();
    });
    await server.finished;
  });
}
