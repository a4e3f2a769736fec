/**
 * An HTTP/1.1 client written on raw TCP sockets (the handout's HTTP client,
 * done properly): a socket, a request string, a response read by hand.
 *
 * Run: `deno run --allow-net lab_http/client.ts [URL] [-o FILE] [-i] [-I] [-v] [-L] [-f]`
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { formatHostPort } from "../common/addr.ts";
import {
  helpOption,
  parseCli,
  parseTimeoutMs,
  timeoutOption,
  traceOption,
  UsageError,
} from "../common/cli.ts";
import { connectTcp } from "../common/connect.ts";
import { describeError, Failure, printError, runMain } from "../common/errors.ts";
import { Wire, writeAll } from "../common/io.ts";
import { ask } from "../common/stdin.ts";
import { stderrTracer } from "../common/trace.ts";
import {
  type BodyFraming,
  bodyFraming,
  headerValues,
  HttpError,
  PartialBodyError,
  readBody,
  readResponseHead,
  type ResponseHead,
} from "./http1.ts";

/** Sent as `User-Agent`. */
export const USER_AGENT = "deno-socket-labs/1.0";
/** Most redirects `-L` follows, like curl's default of 50 cut to the 10. */
export const MAX_REDIRECTS = 10;

/** curl's exit code for a transfer cut short (`CURLE_PARTIAL_FILE`). */
export const EXIT_PARTIAL = 18;
/** curl's exit code for an HTTP error status under `-f` (`CURLE_HTTP_RETURNED_ERROR`). */
export const EXIT_HTTP_ERROR = 22;
/** curl's exit code for too many redirects (`CURLE_TOO_MANY_REDIRECTS`). */
export const EXIT_TOO_MANY_REDIRECTS = 47;

/** `-f`: the server answered with a status of 400 or more. */
export class HttpStatusError extends Failure {
  override name = "HttpStatusError";
  /** The status the server sent. */
  readonly status: number;
  constructor(status: number) {
    super(`the requested URL returned error: ${status}`);
    this.status = status;
  }
}

/** `-L`: more redirects than {@linkcode MAX_REDIRECTS}. */
export class TooManyRedirectsError extends Failure {
  override name = "TooManyRedirectsError";
}

/** Options for {@linkcode openResponse}. */
export interface RequestOptions {
  method?: "GET" | "HEAD";
  /** Limit for the connect and for each read (default 30 s). */
  timeoutMs?: number;
  /** Extra trusted CA certificates (PEM), for https. */
  caCerts?: string[];
  trace?: boolean;
  /** Receives `> ` request lines and `< ` response lines, for `-v`. */
  verbose?: (line: string) => void;
}

/** A response whose head has been read; the body is still on the wire. */
export interface OpenResponse extends Disposable {
  url: URL;
  head: ResponseHead;
  framing: BodyFraming;
  /** Streams the body to `sink`; returns its length. */
  readBody(sink: (data: Uint8Array) => Promise<void>): Promise<number>;
}

/** Parses a URL the client can fetch, or throws `HttpError`. */
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

/** The request bytes for `url`, as sent. */
export function requestText(method: string, url: URL): string {
  const target = `${url.pathname || "/"}${url.search}`;
  return [
    `${method} ${target} HTTP/1.1`,
    `Host: ${url.host}`,
    `User-Agent: ${USER_AGENT}`,
    "Accept: */*",
    "Connection: close",
    "",
    "",
  ].join("\r\n");
}

/**
 * Connects, sends one request and reads the response head.
 *
 * @example
 * ```ts
 * using res = await openResponse(new URL("http://127.0.0.1:8080/"));
 * await res.readBody(async (data) => await Deno.stdout.write(data));
 * ```
 */
export async function openResponse(url: URL, options: RequestOptions = {}): Promise<OpenResponse> {
  const method = options.method ?? "GET";
  const timeoutMs = options.timeoutMs ?? 30_000;
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  let conn: Deno.Conn;
  if (url.protocol === "https:") {
    const tcp = await connectTcp({ hostname, port, timeoutMs });
    const tls = await Deno.startTls(tcp, { hostname, caCerts: options.caCerts });
    try {
      // The handshake would otherwise happen inside the first write; fail here, clearly.
      await tls.handshake();
      conn = tls;
    } catch (error) {
      tls.close();
      throw new Failure(
        `TLS with ${formatHostPort(hostname, port)} failed: ${describeError(error)}`,
      );
    }
  } else {
    conn = await connectTcp({ hostname, port, timeoutMs });
  }
  const wire = new Wire(conn, { timeoutMs, trace: options.trace ? stderrTracer() : undefined });
  try {
    const request = requestText(method, url);
    for (const line of request.split("\r\n").slice(0, -2)) options.verbose?.(`> ${line}`);
    options.verbose?.(">");
    await wire.writeText(request);
    let head = await readResponseHead(wire);
    // Interim 1xx responses (not 101) come before the real one.
    while (head.status >= 100 && head.status < 200 && head.status !== 101) {
      head = await readResponseHead(wire);
    }
    for (const line of head.lines) options.verbose?.(`< ${line}`);
    options.verbose?.("<");
    const framing = bodyFraming(method, head);
    return {
      url,
      head,
      framing,
      readBody: (sink) => readBody(wire, framing, sink),
      [Symbol.dispose]: () => wire.close(),
    };
  } catch (error) {
    wire.close();
    throw error;
  }
}

/** Options for {@linkcode fetchUrl}. */
export interface FetchOptions extends RequestOptions {
  /** Follow redirects (`-L`). */
  follow?: boolean;
  /** Called with each response head (every hop with `follow`). */
  onHead?: (head: ResponseHead) => Promise<void> | void;
  /** Return before the body when this says so (for `-f`). */
  skipBody?: (head: ResponseHead) => boolean;
  /** Where the final body goes. */
  sink: (data: Uint8Array) => Promise<void>;
}

/**
 * Fetches `url`, following redirects when asked, and streams the final body
 * to the sink. Returns the final head and body length.
 */
export async function fetchUrl(
  url: URL,
  options: FetchOptions,
): Promise<{ head: ResponseHead; url: URL; length: number }> {
  let method = options.method ?? "GET";
  for (let hop = 0;; hop++) {
    using res = await openResponse(url, { ...options, method });
    await options.onHead?.(res.head);
    const location = headerValues(res.head, "location")[0];
    if (
      options.follow && [301, 302, 303, 307, 308].includes(res.head.status) &&
      location !== undefined
    ) {
      if (hop >= MAX_REDIRECTS) {
        throw new TooManyRedirectsError(`maximum (${MAX_REDIRECTS}) redirects followed`);
      }
      try {
        url = parseUrl(new URL(location, url).href);
      } catch {
        throw new Failure(`bad redirect location ${JSON.stringify(location)}`);
      }
      if (res.head.status <= 303 && method !== "HEAD") method = "GET";
      continue;
    }
    if (options.skipBody?.(res.head)) return { head: res.head, url, length: 0 };
    const length = await res.readBody(options.sink);
    return { head: res.head, url, length };
  }
}

/** A sink that writes to a temporary file renamed to `path` by `commit()`, or removed by `discard()`. */
async function fileSink(path: string) {
  const temp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.part`);
  const file = await Deno.open(temp, { write: true, createNew: true });
  let open = true;
  const close = () => {
    if (open) file.close();
    open = false;
  };
  return {
    write: (data: Uint8Array) => writeAll(file, data),
    async commit() {
      close();
      await Deno.rename(temp, path);
    },
    async discard() {
      close();
      await Deno.remove(temp).catch(() => {});
    },
  };
}

const stdoutSink = (data: Uint8Array) => writeAll(Deno.stdout, data);
const encoder = new TextEncoder();

/** One fetch as the CLI does it; returns the exit code. */
async function runOnce(url: URL, values: {
  output?: string;
  include: boolean;
  head: boolean;
  verbose: boolean;
  location: boolean;
  fail: boolean;
  trace: boolean;
  timeoutMs: number;
  caCerts?: string[];
}): Promise<number> {
  const file = values.output ? await fileSink(values.output) : undefined;
  try {
    const { head } = await fetchUrl(url, {
      method: values.head ? "HEAD" : "GET",
      follow: values.location,
      timeoutMs: values.timeoutMs,
      caCerts: values.caCerts,
      trace: values.trace,
      verbose: values.verbose ? (line) => console.error(line) : undefined,
      onHead: async (h) => {
        if (values.include || values.head) {
          const text = h.lines.join("\r\n") + "\r\n\r\n";
          await (file ? file.write(encoder.encode(text)) : stdoutSink(encoder.encode(text)));
        }
      },
      skipBody: (h) => values.fail && h.status >= 400,
      sink: file ? file.write : stdoutSink,
    });
    if (values.fail && head.status >= 400) {
      await file?.discard();
      throw new HttpStatusError(head.status);
    }
    await file?.commit();
    return 0;
  } catch (error) {
    await file?.discard();
    throw error;
  }
}

/** The handout's loop: ask for URLs until an empty line. */
async function interactive(values: Parameters<typeof runOnce>[1]): Promise<number> {
  while (true) {
    const answer = await ask("Type the object's URL: ");
    if (answer === null || answer.trim() === "") return 0;
    const text = answer.trim() === "*" ? "http://127.0.0.1:8080/" : answer.trim();
    let url: URL;
    try {
      url = parseUrl(text);
    } catch {
      console.log(`Error in parsing URL ${text}. Retry.`);
      continue;
    }
    try {
      await runOnce(url, { ...values, include: true });
      console.log();
    } catch (error) {
      printError(error instanceof Failure ? error.message : describeError(error));
    }
  }
}

if (import.meta.main) {
  await runMain(async () => {
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
        include: {
          type: "boolean",
          short: "i",
          help: "print the status line and headers before the body",
        },
        head: { type: "boolean", short: "I", help: "send HEAD and print the headers" },
        verbose: {
          type: "boolean",
          short: "v",
          help: "show the request (> ) and response headers (< ) on stderr",
        },
        location: {
          type: "boolean",
          short: "L",
          help: `follow redirects (at most ${MAX_REDIRECTS})`,
        },
        fail: {
          type: "boolean",
          short: "f",
          help: "exit 22 without the body on a status of 400 or more",
        },
        cacert: {
          type: "string",
          arg: "FILE",
          help: "trust this extra CA certificate (PEM) for https",
        },
        timeout: timeoutOption("30", "limit for connecting and for each read"),
        trace: traceOption,
        help: helpOption,
      },
      maxPositionals: 1,
      epilog: "examples:\n  deno run --allow-net lab_http/client.ts http://127.0.0.1:8080/ -i\n" +
        "  deno run --allow-net --allow-write=. lab_http/client.ts http://127.0.0.1:8080/a.png -o a.png",
    });
    const timeoutMs = parseTimeoutMs(values.timeout, usage);
    let caCerts: string[] | undefined;
    if (values.cacert) {
      try {
        caCerts = [await Deno.readTextFile(values.cacert)];
      } catch (error) {
        throw new Failure(`cannot read ${values.cacert}: ${describeError(error)}`);
      }
    }
    const options = { ...values, timeoutMs, caCerts };
    if (positionals.length === 0) return await interactive(options);
    let url: URL;
    try {
      url = parseUrl(positionals[0]);
    } catch (error) {
      throw new UsageError((error as Error).message, usage);
    }
    return await runOnce(url, options);
  }, exitCodeFor);
}

/** curl's exit code for the failures curl gives one of its own. */
function exitCodeFor(error: unknown): number | undefined {
  if (error instanceof PartialBodyError) return EXIT_PARTIAL;
  if (error instanceof HttpStatusError) return EXIT_HTTP_ERROR;
  if (error instanceof TooManyRedirectsError) return EXIT_TOO_MANY_REDIRECTS;
  return undefined;
}
