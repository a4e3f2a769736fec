/**
 * A static file server like `python -m http.server`, on `Deno.serve` (the
 * runtime's own HTTP/1.1 server, as `http.server` is Python's), with the
 * file-serving handler written here.
 *
 * Run: `deno run --allow-net --allow-read=DIR lab_http/server.ts [PORT] -d DIR`
 *
 * @module
 */

import { formatHostPort } from "../common/addr.ts";
import { helpOption, parseCli, parsePort, traceOption, UsageError } from "../common/cli.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { logLine } from "../common/log.ts";
import { serveUntilInterrupted } from "../common/signals.ts";
import { staticHandler } from "./static_files.ts";

/** Options for {@linkcode serveHttp}. */
export interface HttpServerOptions {
  hostname?: string;
  port: number;
  /** The folder served (default `.`). */
  root?: string;
  cors?: boolean;
  dotfiles?: boolean;
  /** List folders without index.html (default true). */
  listing?: boolean;
  /** Print request and response heads to stderr. */
  trace?: boolean;
  /** Access-log lines (default: batched stdout). */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** A running HTTP server. */
export interface HttpServer {
  addr: Deno.NetAddr;
  close(): void;
  finished: Promise<void>;
}

const RETRY_MS = 100;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

let lastSecond = -1;
let lastDate = "";

/** Python's log date, local time: `24/Nov/2026 13:40:00` (formatted once a second). */
function logDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastDate = formatLogDate(new Date(now));
  }
  return lastDate;
}

function formatLogDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** Escapes control characters as `\xHH`, as Python's server does in its log. */
function escapeControl(text: string): string {
  // Most request lines have none: a search is cheaper than a replace with a callback.
  if (text.search(CONTROL) < 0) return text;
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * Starts the server. Throws a `Failure` if the folder cannot be served.
 *
 * @example
 * ```ts
 * const server = serveHttp({ port: 0, root: "." });
 * server.close();
 * await server.finished;
 * ```
 */
export function serveHttp(options: HttpServerOptions): HttpServer {
  const log = options.log ?? logLine;
  let handler: (req: Request) => Response | Promise<Response>;
  try {
    handler = staticHandler({
      root: options.root ?? ".",
      cors: options.cors,
      dotfiles: options.dotfiles,
      listing: options.listing,
    });
  } catch (error) {
    throw new Failure(`cannot serve ${options.root ?? "."}: ${describeError(error)}`);
  }
  const controller = new AbortController();
  options.signal?.addEventListener("abort", () => controller.abort(), { once: true });
  const trace = (direction: string, lines: string[]) =>
    console.error(lines.map((l) => `${direction} ${l}`).join("\n"));

  const serve = (port: number) =>
    Deno.serve({
      hostname: options.hostname ?? "0.0.0.0",
      port,
      signal: controller.signal,
      onListen: () => {},
      // Never a stack trace or a path in a response.
      onError: () => new Response("Internal Server Error\n", { status: 500 }),
    }, (req, info) => {
      // The path and query: what follows the scheme and authority in the absolute URL.
      const target = req.url.slice(req.url.indexOf("/", req.url.indexOf("//") + 2));
      if (options.trace) {
        trace("<-", [
          `${req.method} ${target} HTTP/1.1`,
          ...[...req.headers].map(([k, v]) => `${k}: ${v}`),
        ]);
      }
      const done = (res: Response): Response => {
        if (options.trace) {
          trace("->", [
            `HTTP/1.1 ${res.status}`,
            ...[...res.headers].map(([k, v]) => `${k}: ${v}`),
          ]);
        }
        const peer = (info.remoteAddr as Deno.NetAddr).hostname;
        const size = res.headers.get("content-length") ?? "-";
        log(
          `${peer} - - [${logDate()}] "${
            escapeControl(`${req.method} ${target} HTTP/1.1`)
          }" ${res.status} ${size}`,
        );
        return res;
      };
      const failed = () => done(new Response("Internal Server Error\n", { status: 500 }));
      try {
        const res = handler(req);
        return res instanceof Promise ? res.then(done, failed) : done(res);
      } catch {
        return failed();
      }
    });
  const first = serve(options.port);
  const addr = first.addr;
  // Deno.serve's accept loop ends when the process runs out of file
  // descriptors. Keep the server up: say so once, then listen again on the
  // same port until descriptors are free.
  const supervise = async () => {
    let current: Deno.HttpServer<Deno.NetAddr> | undefined = first;
    let failures = 0;
    while (!controller.signal.aborted) {
      try {
        current ??= serve(addr.port);
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
  };
  return { addr, close: () => controller.abort(), finished: supervise() };
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
        address: {
          type: "string",
          short: "a",
          arg: "ADDR",
          help: "address to listen on (default 0.0.0.0)",
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
        trace: { ...traceOption, help: "print each request and response head to stderr" },
        help: helpOption,
      },
      maxPositionals: 1,
      epilog: "example: deno run --allow-net --allow-read=./site lab_http/server.ts 8080 -d ./site",
    });
    if (values.address && values.bind && values.address !== values.bind) {
      throw new UsageError("give the address once: -a or -b", usage);
    }
    const hostname = values.address ?? values.bind ?? "0.0.0.0";
    const port = parsePort(positionals[0] ?? "8080", "server", usage);
    const server = serveHttp({
      hostname,
      port,
      root: values.directory,
      cors: values.cors,
      dotfiles: values.dotfiles,
      listing: !values["no-listing"],
      trace: values.trace,
    });
    const url = `http://${formatHostPort(server.addr.hostname, server.addr.port)}/`;
    await serveUntilInterrupted(server, `Serving ${values.directory} at ${url}`);
  });
}
