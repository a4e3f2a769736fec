/**
 * An HTTP/1.1 client written on raw TCP sockets (the handout's HTTP client, done properly): a
 * socket, a request string, a response read by hand.
 *
 * Reading order: {@linkcode request} is one exchange, from the socket opened to the socket
 * closed: `Deno.connect` (then `Deno.startTls` for https), the request written, the response head
 * and body read with `http1.ts`, `close()` in `finally`. {@linkcode fetchUrl} follows redirects;
 * the command line at the bottom adds curl's options, the `-o` temporary file, Ctrl+C and the exit
 * codes.
 *
 * Run: `deno run --allow-net=127.0.0.1 lab_http/client.ts http://127.0.0.1:8080/ [-i] [-I] [-v] [-L] [-f]`
 * (with `-o FILE`, add `--allow-read=DIR --allow-write=DIR` for the folder of FILE).
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { formatAddr } from "../common/addr.ts";
import { parseCli, parseNumber, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { withTimeout, writeAll } from "../common/io.ts";
import { onInterrupt } from "../common/server.ts";
import { ask } from "../common/stdin.ts";
import { escapeControl, quote, traced, tracer } from "../common/trace.ts";
import {
  bodyFraming,
  headerValues,
  HttpError,
  PartialBodyError,
  readBody,
  readBuffer,
  readResponseHead,
  type ResponseHead,
} from "./http1.ts";

/** Sent as `User-Agent`. */
export const USER_AGENT = "deno-socket-labs/1.0";
/** Most redirects `-L` follows, like curl's default of 50 cut to the 10. */
export const MAX_REDIRECTS = 10;
/**
 * Most interim (1xx) responses accepted before the real one. A server sends one `100 Continue` or
 * a few `103 Early Hints`; more is a server stalling.
 */
export const MAX_INTERIM_RESPONSES = 10;
/** `--timeout` when not given, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Where a body goes, a piece at a time. */
export type Sink = (data: Uint8Array) => Promise<void>;

/** Options for {@linkcode request}. */
export interface RequestOptions {
  method?: "GET" | "HEAD";
  /**
   * Limit in milliseconds for the connect, the TLS handshake, the request and the whole response
   * head (interim responses included), and each wait for body bytes (default
   * {@linkcode DEFAULT_TIMEOUT_MS}).
   */
  timeoutMs?: number;
  /** Ends the exchange when aborted: the socket is closed and the signal's reason thrown. */
  signal?: AbortSignal;
  /** Extra trusted CA certificates (PEM), for https. */
  caCerts?: string[];
  trace?: boolean;
  /** Receives `> ` request lines and `< ` response lines (control characters escaped), for `-v`. */
  verbose?: (line: string) => void;
}

/**
 * One request on a connection of its own, from the connect to the close. The response head goes
 * to `bodyTo`, which says where the body goes, or `undefined` to close without reading it.
 * Returns the head and the body's length.
 *
 * @example
 * ```ts
 * const sink = async (data: Uint8Array) => void await Deno.stdout.write(data);
 * const { head } = await request(new URL("http://127.0.0.1:8080/"), {}, () => sink);
 * ```
 */
export async function request(
  url: URL,
  options: RequestOptions,
  bodyTo: (head: ResponseHead) => Sink | undefined | Promise<Sink | undefined>,
): Promise<{ head: ResponseHead; length: number }> {
  const method = options.method ?? "GET";
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { signal } = options;
  signal?.throwIfAborted();
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const peer = formatAddr({ hostname, port });

  // 1. The socket: a TCP connect within the timeout (or until the caller gives up).
  let conn: Deno.Conn;
  const connectLimit = AbortSignal.timeout(timeoutMs);
  try {
    conn = await Deno.connect({
      hostname,
      port,
      signal: signal ? AbortSignal.any([connectLimit, signal]) : connectLimit,
    });
  } catch (error) {
    signal?.throwIfAborted();
    const why = connectLimit.aborted
      ? `timed out after ${timeoutMs / 1000} s`
      : describeError(error);
    throw new Failure(`could not connect to ${peer}: ${why}`);
  }
  // The caller giving up (Ctrl+C, --max-time) closes the socket: that ends the handshake, read or
  // write under way.
  const close = () => {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  };
  signal?.addEventListener("abort", close);
  try {
    // 2. For https, TLS over that socket (`Deno.connectTls` takes no signal for its connect). The
    // handshake is done here, within the timeout: left to the first write, a server that accepts
    // and never speaks would hold it for ever.
    if (url.protocol === "https:") {
      try {
        const tls = await Deno.startTls(conn as Deno.TcpConn, {
          hostname,
          caCerts: options.caCerts,
        });
        conn = tls;
        await withTimeout(timeoutMs, tls.handshake());
      } catch (error) {
        signal?.throwIfAborted();
        throw new Failure(`TLS with ${peer} failed: ${describeError(error)}`);
      }
    }

    // 3. The request out and the response head in, all of it within the timeout.
    const socket = options.trace ? traced(conn, tracer(undefined, console.error)) : conn;
    const text = requestText(method, url);
    for (const line of text.split("\r\n").slice(0, -2)) options.verbose?.(`> ${line}`);
    options.verbose?.(">");
    const showHead = (head: ResponseHead) => {
      for (const line of head.lines) options.verbose?.(`< ${escapeControl(line)}`);
      options.verbose?.("<");
    };
    const buf = readBuffer();
    const head = await withTimeout(
      timeoutMs,
      (async () => {
        // BEGIN SOLUTION send the request, then read the response head, skipping interim 1xx ones
        await writeAll(socket, new TextEncoder().encode(text));
        let head = await readResponseHead(socket, buf);
        // Interim 1xx responses (not 101) come before the real one: a bounded number of them,
        // within the same time limit, so an endless run of `100 Continue` cannot hold us.
        for (let interim = 0; head.status >= 100 && head.status < 200 && head.status !== 101;) {
          if (++interim > MAX_INTERIM_RESPONSES) {
            throw new HttpError(`more than ${MAX_INTERIM_RESPONSES} interim (1xx) responses`);
          }
          showHead(head);
          head = await readResponseHead(socket, buf);
        }
        return head;
        // END SOLUTION
      })(),
    );
    showHead(head);

    // 4. The body, where the caller says, each wait for its bytes within the timeout.
    const sink = await bodyTo(head);
    if (sink === undefined) return { head, length: 0 };
    // BEGIN SOLUTION read the body, framed as the head says, into the sink
    const timed = { read: (p: Uint8Array) => withTimeout(timeoutMs, socket.read(p)) };
    return { head, length: await readBody(timed, buf, bodyFraming(method, head), sink) };
    // END SOLUTION
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  } finally {
    // 5. The socket closed, however the exchange ended.
    signal?.removeEventListener("abort", close);
    close();
  }
}

/**
 * The request bytes for `url`, as sent.
 *
 * @example
 * ```ts
 * requestText("GET", new URL("http://127.0.0.1:8080/x")).split("\r\n")[0]; // "GET /x HTTP/1.1"
 * ```
 */
export function requestText(method: string, url: URL): string {
  // BEGIN SOLUTION the request line, Host, User-Agent, Accept, Connection: close, a blank line
  return `${method} ${url.pathname || "/"}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    `User-Agent: ${USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n`;
  // END SOLUTION
}

/**
 * Parses a URL the client can fetch, or throws `HttpError`.
 *
 * @example
 * ```ts
 * parseUrl("http://[::1]:8080/a?b").host; // "[::1]:8080"
 * ```
 */
export function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new HttpError(`invalid URL ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HttpError(`unsupported scheme ${url.protocol}`);
  }
  if (!url.hostname) throw new HttpError(`no host in URL ${JSON.stringify(text)}`);
  return url;
}

/** Options for {@linkcode fetchUrl}. */
export interface FetchOptions extends RequestOptions {
  /** Follow redirects (`-L`). */
  follow?: boolean;
  /** Limit for the whole exchange, redirects included (`--max-time`): {@linkcode MaxTimeError}. */
  maxTimeMs?: number;
  /** Called with each response head (every hop with `follow`). */
  onHead?: (head: ResponseHead) => Promise<void> | void;
  /** Return before the body when this says so (for `-f`). */
  skipBody?: (head: ResponseHead) => boolean;
  /** Where the final body goes. */
  sink: Sink;
}

/**
 * Fetches `url`, following redirects when asked, and streams the final body to the sink. Returns
 * the final head, URL and body length.
 *
 * @example
 * ```ts
 * const chunks: Uint8Array[] = [];
 * const { head, length } = await fetchUrl(parseUrl("http://127.0.0.1:8080/"), {
 *   follow: true,
 *   maxTimeMs: 10_000,
 *   sink: (data) => Promise.resolve(void chunks.push(data.slice())),
 * });
 * console.log(head.status, length);
 * ```
 */
export async function fetchUrl(
  url: URL,
  options: FetchOptions,
): Promise<{ head: ResponseHead; url: URL; length: number }> {
  const { maxTimeMs } = options;
  const deadline = new AbortController();
  const timer = maxTimeMs
    ? setTimeout(() => deadline.abort(new MaxTimeError(maxTimeMs)), maxTimeMs)
    : undefined;
  const signal = AbortSignal.any([deadline.signal, ...(options.signal ? [options.signal] : [])]);
  // Where a response sends us, when we follow.
  const redirect = (head: ResponseHead) =>
    options.follow && [301, 302, 303, 307, 308].includes(head.status)
      ? headerValues(head, "location")[0]
      : undefined;
  try {
    for (let hop = 0;; hop++) {
      const { head, length } = await request(url, { ...options, signal }, async (head) => {
        await options.onHead?.(head);
        const skip = redirect(head) !== undefined || options.skipBody?.(head);
        return skip ? undefined : options.sink;
      });
      const location = redirect(head);
      if (location === undefined) return { head, url, length };
      if (hop >= MAX_REDIRECTS) throw new TooManyRedirectsError(MAX_REDIRECTS);
      try {
        url = parseUrl(new URL(location, url).href);
      } catch {
        throw new Failure(`bad redirect location ${quote(location.slice(0, 200))}`);
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `-L`: more redirects than {@linkcode MAX_REDIRECTS}.
 *
 * @example
 * ```ts
 * new TooManyRedirectsError(10).message; // "maximum (10) redirects followed"
 * ```
 */
export class TooManyRedirectsError extends Failure {
  override name = "TooManyRedirectsError";
  constructor(readonly max: number) {
    super(`maximum (${max}) redirects followed`);
  }
}

/**
 * `--max-time`: the whole exchange, redirects included, took longer than `ms` allow.
 *
 * @example
 * ```ts
 * new MaxTimeError(1500).message; // "the whole transfer took longer than 1.5 s (--max-time)"
 * ```
 */
export class MaxTimeError extends Failure {
  override name = "MaxTimeError";
  constructor(readonly ms: number) {
    super(`the whole transfer took longer than ${ms / 1000} s (--max-time)`);
  }
}

// --- The command line: curl's options, the -o file, Ctrl+C, exit codes -------------------------

/** curl's exit code for a transfer cut short (`CURLE_PARTIAL_FILE`). */
export const EXIT_PARTIAL = 18;
/** curl's exit code for an HTTP error status under `-f` (`CURLE_HTTP_RETURNED_ERROR`). */
export const EXIT_HTTP_ERROR = 22;
/** curl's exit code for `--max-time` reached (`CURLE_OPERATION_TIMEDOUT`). */
export const EXIT_MAX_TIME = 28;
/** curl's exit code for too many redirects (`CURLE_TOO_MANY_REDIRECTS`). */
export const EXIT_TOO_MANY_REDIRECTS = 47;
/** Stopped by Ctrl+C: 128 + SIGINT, what a shell reports for curl killed by it. */
export const EXIT_SIGINT = 130;
/** Stopped by SIGTERM: 128 + SIGTERM, likewise. */
export const EXIT_SIGTERM = 143;

/**
 * `-f`: the server answered with a `status` of 400 or more.
 *
 * @example
 * ```ts
 * new HttpStatusError(404).message; // "the requested URL returned error: 404"
 * ```
 */
export class HttpStatusError extends Failure {
  override name = "HttpStatusError";
  constructor(readonly status: number) {
    super(`the requested URL returned error: ${status}`);
  }
}

/**
 * Ctrl+C (SIGINT) or SIGTERM stopped the transfer.
 *
 * @example
 * ```ts
 * new InterruptedError("SIGINT").message; // "interrupted (SIGINT)"
 * ```
 */
export class InterruptedError extends Failure {
  override name = "InterruptedError";
  constructor(readonly signal: "SIGINT" | "SIGTERM") {
    super(`interrupted (${signal})`);
  }
}

/**
 * `-o`: a temporary file next to `path`; `end(true)` renames it to `path`, `end(false)` removes
 * it (as does a rename that fails): nothing half-written is left behind.
 */
async function fileSink(path: string) {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.part`);
  // Deno's rename needs read access to the file renamed: ask now, not after a long download.
  for (const name of ["write", "read"] as const) {
    if ((await Deno.permissions.request({ name, path: temp })).state !== "granted") {
      throw new Failure(
        `-o ${path} needs --allow-write=${dir} and --allow-read=${dir}: ` +
          "the body goes to a temporary file there, renamed into place when complete",
      );
    }
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { write: true, createNew: true });
  } catch (error) {
    throw new Failure(`cannot write ${path}: ${describeError(error)}`);
  }
  return {
    write: (data: Uint8Array) => writeAll(file, data),
    async end(complete: boolean) {
      file.close();
      try {
        if (complete) return await Deno.rename(temp, path);
      } catch (error) {
        await Deno.remove(temp).catch(() => {});
        throw error;
      }
      await Deno.remove(temp).catch(() => {});
    },
  };
}

/** The command line's options, parsed. */
interface CliOptions {
  output?: string;
  include?: boolean;
  head?: boolean;
  verbose?: boolean;
  location?: boolean;
  fail?: boolean;
  trace?: boolean;
  timeoutMs: number;
  maxTimeMs?: number;
  caCerts?: string[];
}

/**
 * One fetch as the CLI does it. With `-o`, the body goes to a temporary file renamed into place
 * only when complete; on any failure, Ctrl+C or SIGTERM included, that file is removed.
 */
async function runOnce(url: URL, options: CliOptions): Promise<void> {
  const interrupt = new AbortController();
  const stopListening = onInterrupt((signal) => {
    // Heard once: a second Ctrl+C meets Deno's default again and ends the process outright.
    stopListening();
    interrupt.abort(new InterruptedError(signal));
  });
  const file = options.output ? await fileSink(options.output) : undefined;
  const out = file?.write ?? ((data: Uint8Array) => writeAll(Deno.stdout, data));
  let complete = false;
  try {
    const { head } = await fetchUrl(url, {
      method: options.head ? "HEAD" : "GET",
      follow: options.location,
      timeoutMs: options.timeoutMs,
      maxTimeMs: options.maxTimeMs,
      signal: interrupt.signal,
      caCerts: options.caCerts,
      trace: options.trace,
      verbose: options.verbose ? (line) => console.error(line) : undefined,
      onHead: async (h) => {
        if (!options.include && !options.head) return;
        // The head is the server's text: printed with control characters escaped.
        await out(new TextEncoder().encode(`${h.lines.map(escapeControl).join("\r\n")}\r\n\r\n`));
      },
      skipBody: (h) => options.fail === true && h.status >= 400,
      // The body is the user's data: written as it came, byte for byte, like curl.
      sink: out,
    });
    if (options.fail && head.status >= 400) throw new HttpStatusError(head.status);
    complete = true;
  } finally {
    stopListening();
    await file?.end(complete);
  }
}

/** The handout's loop: ask for URLs until an empty line. */
async function interactive(options: CliOptions): Promise<void> {
  for (;;) {
    const answer = (await ask("Type the object's URL: "))?.trim();
    if (!answer) return;
    const text = answer === "*" ? "http://127.0.0.1:8080/" : answer;
    let url: URL;
    try {
      url = parseUrl(text);
    } catch {
      console.log(`Error in parsing URL ${text}. Retry.`);
      continue;
    }
    try {
      await runOnce(url, { ...options, include: true });
      console.log();
    } catch (error) {
      // Ctrl+C ends the loop, as it ends the handout's program; other failures are retried.
      if (error instanceof InterruptedError) throw error;
      console.error(`error: ${describeError(error)}`);
    }
  }
}

/** The exit code for a failure: curl's own where curl has one, else `runMain`'s 1. */
function exitCodeFor(error: unknown): number | undefined {
  if (error instanceof PartialBodyError) return EXIT_PARTIAL;
  if (error instanceof HttpStatusError) return EXIT_HTTP_ERROR;
  if (error instanceof MaxTimeError) return EXIT_MAX_TIME;
  if (error instanceof TooManyRedirectsError) return EXIT_TOO_MANY_REDIRECTS;
  if (error instanceof InterruptedError) {
    return error.signal === "SIGINT" ? EXIT_SIGINT : EXIT_SIGTERM;
  }
  return undefined;
}

if (import.meta.main) {
  await runMain(async () => {
    const flag = (short: string, help: string) => ({ type: "boolean", short, help }) as const;
    const { values, positionals, usage } = parseCli({
      name: "lab_http/client.ts",
      synopsis: "[URL]",
      summary:
        "HTTP/1.1 client on raw TCP sockets. With a URL it works like curl: the body goes to stdout.\n" +
        "Without one it asks for URLs, as the handout's client does ('*' means http://127.0.0.1:8080/).",
      options: {
        output: {
          type: "string",
          short: "o",
          arg: "FILE",
          help: "write the body to FILE (only once complete)",
        },
        include: flag("i", "print the status line and headers before the body"),
        head: flag("I", "send HEAD and print the headers"),
        verbose: flag("v", "show the request (> ) and response headers (< ) on stderr"),
        location: flag("L", `follow redirects (at most ${MAX_REDIRECTS})`),
        fail: flag("f", `exit ${EXIT_HTTP_ERROR} without the body on a status of 400 or more`),
        cacert: {
          type: "string",
          arg: "FILE",
          help: "trust this extra CA certificate (PEM) for https",
        },
        timeout: {
          type: "string",
          arg: "SECONDS",
          default: `${DEFAULT_TIMEOUT_MS / 1000}`,
          help: "limit for the connect, the TLS handshake, the response head, each body read",
        },
        "max-time": {
          type: "string",
          arg: "SECONDS",
          help:
            `limit for the whole transfer, redirects included; exit ${EXIT_MAX_TIME} (default: none)`,
        },
        trace: { type: "boolean", help: "print every socket read and write to stderr" },
      },
      maxPositionals: 1,
      epilog: "exit codes: 0 ok, 1 failure (timeouts of --timeout included), 2 bad arguments;\n" +
        `  as curl: ${EXIT_PARTIAL} body cut short, ${EXIT_HTTP_ERROR} -f and a status >= 400, ` +
        `${EXIT_MAX_TIME} --max-time reached, ${EXIT_TOO_MANY_REDIRECTS} too many redirects;\n` +
        `  ${EXIT_SIGINT} Ctrl+C, ${EXIT_SIGTERM} SIGTERM (no -o file or .part is left behind)\n` +
        "examples:\n  deno run --allow-net=127.0.0.1 lab_http/client.ts http://127.0.0.1:8080/ -i\n" +
        "  deno run --allow-net=127.0.0.1 --allow-read=. --allow-write=. lab_http/client.ts " +
        "http://127.0.0.1:8080/a.png -o a.png",
    });
    const timeoutMs = parseTimeoutMs(values.timeout, usage);
    const maxTime = values["max-time"];
    const maxTimeMs = maxTime === undefined ? undefined : Math.round(
      parseNumber(maxTime, "--max-time", { min: 0.001, max: 86400, fraction: true }, usage) * 1000,
    );
    let caCerts: string[] | undefined;
    if (values.cacert) {
      try {
        caCerts = [await Deno.readTextFile(values.cacert)];
      } catch (error) {
        throw new Failure(`cannot read ${values.cacert}: ${describeError(error)}`);
      }
    }
    const options: CliOptions = { ...values, timeoutMs, maxTimeMs, caCerts };
    if (positionals.length === 0) return await interactive(options);
    let url: URL;
    try {
      url = parseUrl(positionals[0]);
    } catch (error) {
      throw new UsageError((error as Error).message, usage);
    }
    await runOnce(url, options);
  }, exitCodeFor);
}
