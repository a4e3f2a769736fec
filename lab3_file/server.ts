/**
 * Lab 3 server: sends files from its root folder in blocks, with the file's size before and its
 * SHA-256 after, and never anything outside the root. The protocol is in `protocol.ts`.
 *
 * Run: `deno run --allow-net --allow-read=lab3_file/files lab3_file/server.ts 12000 --root lab3_file/files`
 *
 * Read `serveFiles` (the listener, the accept loop, `close()`), then `serveOne` (one transfer,
 * top to bottom). `confine.ts` decides which file a name may open; `file_hasher.ts` and
 * `hash_cache.ts` only make it faster.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { formatAddr } from "../common/addr.ts";
import { parseCli, parseNumber, parsePort, parseTimeoutMs } from "../common/cli.ts";
import { describeError, Failure, listening, runMain } from "../common/errors.ts";
import { IdleTimeoutError, withTimeout, writeAll } from "../common/io.ts";
import { ProtocolError, readAhead, readLine } from "../common/lines.ts";
import { logLine } from "../common/log.ts";
import { closeIdle } from "../common/idle.ts";
import { acceptWithRetry, onInterrupt } from "../common/server.ts";
import { quote, traced, tracer } from "../common/trace.ts";
import { openConfined, type Opened, Refusal } from "./confine.ts";
import { FileHasher } from "./file_hasher.ts";
import { fileKey, HashCache } from "./hash_cache.ts";
import { hashPrefix, MAX_NAME_BYTES } from "./protocol.ts";

/** The handout's port and block size, and the largest `--block-size`. */
export const DEFAULT_PORT = 12000, DEFAULT_BLOCK_SIZE = 1024, MAX_BLOCK_SIZE = 1024 * 1024;

/**
 * Disk reads are this large whatever the block size: an awaited read per 1 KiB block is what
 * made Deno slow. They are synchronous, as nginx's are: from the page cache one costs a fraction
 * of an awaited read, and 256 KiB stays in the CPU cache while it is sent.
 */
const READ_CHUNK = 256 * 1024;
/** Files at least this large are hashed on the worker thread while they are sent. */
const HASH_OFF_THREAD_BYTES = 8 * 1024 * 1024;
const encoder = new TextEncoder();

/** Options for {@linkcode serveFiles}. */
export interface FileServerOptions {
  /** Address to listen on (default `0.0.0.0`). */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** The folder served (default: the current directory). */
  root?: string;
  /** Bytes per block written to the socket (default 1024). */
  blockSize?: number;
  /** Close a connection idle this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Print every socket read and write to stderr. */
  trace?: boolean;
  /** Where log lines go (default: stdout). */
  log?: (line: string) => void;
}

/**
 * Starts the file server. Throws a `Failure` if the root is not a readable folder.
 *
 * @example
 * ```ts
 * const server = serveFiles({ port: 0, root: "." });
 * console.log(server.addr.port);
 * server.close();
 * await server.finished;
 * ```
 */
export function serveFiles(options: FileServerOptions) {
  const { log = logLine, blockSize = DEFAULT_BLOCK_SIZE, idleTimeoutMs = 30_000 } = options;
  const root = realFolder(options.root ?? ".");
  const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  // Each open connection and when it last moved: one clock closes the idle ones, close() all.
  // While a connection reads its request it has a timer of its own (and Infinity here), so that
  // it can tell its client why it closes.
  const open = new Map<Deno.TcpConn, number>();
  const idleSweep = setInterval(() => closeIdle(open, idleTimeoutMs), idleTimeoutMs / 4);
  const hashes = new HashCache();
  const hasher = new FileHasher();
  let closing = false;

  async function serveOne(conn: Deno.TcpConn): Promise<void> {
    const peer = formatAddr(conn.remoteAddr, "python");
    const socket = options.trace ? traced(conn, tracer(formatAddr(conn.remoteAddr))) : conn;
    const started = performance.now();
    // Aborted when this transfer ends, so a hash it no longer waits for can be cancelled.
    const ended = new AbortController();
    let name = "?", offset = 0, size = 0, outcome = "ok";
    let sent = -1; // Data bytes the socket took; -1 until `OK <size>` went out.
    let opened: Opened | undefined;
    try {
      // BEGIN SOLUTION read the request: the name line, then the offset line
      // The request: a file name and an offset, one line each, each within the idle timeout.
      const ahead = readAhead();
      const line = (max: number) => withTimeout(idleTimeoutMs, readLine(socket, ahead, max));
      const nameLine = await line(MAX_NAME_BYTES);
      if (nameLine === null) {
        outcome = "closed before a request";
        return;
      }
      name = nameLine;
      offset = parseOffset(await line(16)); // A safe integer has at most 16 digits.
      // END SOLUTION

      // Confine the name to the root, open the file, and check that what was opened is the file
      // the name was confined to.
      opened = await openConfined(root, name);
      const { path, file, info } = opened;
      size = info.size;
      if (offset > size) throw new Refusal(`offset ${offset} is beyond the end (${size} bytes)`);

      // The whole file's SHA-256: remembered from an earlier transfer, or made on the worker
      // thread while this one sends (large files), or here from the bytes as they are read.
      const key = fileKey(path, info);
      const known = hashes.get(key) ??
        (size >= HASH_OFF_THREAD_BYTES ? hasher.hash(opened, key, ended.signal) : undefined);
      const hash = known === undefined ? createHash("sha256") : undefined;
      // Resuming: the hash covers the whole file, so read (not send) the part the client has.
      if (hash) await hashPrefix(file, offset, hash);
      else file.seekSync(offset, Deno.SeekMode.Start);

      // BEGIN SOLUTION send OK <size>, then the bytes from the offset, blockSize at most per write
      // The reply: the size, the bytes from the offset in blocks, the hash.
      await writeAll(socket, encoder.encode(`OK ${size}\n`));
      sent = 0;
      const buffer = new Uint8Array(blockSize * Math.max(1, Math.floor(READ_CHUNK / blockSize)));
      while (offset + sent < size) {
        // The idle clock sees the transfer move each time a chunk went out.
        if (open.has(conn)) open.set(conn, performance.now());
        const n = file.readSync(buffer.subarray(0, Math.min(buffer.length, size - offset - sent)));
        if (n === null) throw new Error("the file shrank while it was sent");
        hash?.update(buffer.subarray(0, n));
        // A write per block (never across two), so the trace shows each block's sends.
        for (let at = 0; at < n;) {
          const end = Math.min(n, at + blockSize - (sent % blockSize));
          const moved = await socket.write(buffer.subarray(at, end));
          at += moved;
          sent += moved;
        }
      }
      if (open.has(conn)) open.set(conn, performance.now());
      // END SOLUTION
      // BEGIN SOLUTION send the SHA-256 line of the whole file
      // The client sends nothing more until it has the hash: if it closes while the worker
      // still hashes, it left, and the hash is for nobody.
      const sha256 = hash?.digest("hex") ?? await Promise.race([known!, clientLeft(socket)]);
      // Kept for the next request, unless the file changed while it was read.
      if (fileKey(path, await file.stat()) === key) hashes.set(key, sha256);
      await writeAll(socket, encoder.encode(`${sha256}\n`));
      // END SOLUTION
    } catch (error) {
      const refused = error instanceof Refusal || error instanceof ProtocolError;
      if (sent < 0 && (refused || error instanceof IdleTimeoutError)) {
        const reason = refused ? error.message : "idle timeout";
        await writeAll(socket, encoder.encode(`ERROR ${reason}\n`)).catch(() => {});
        outcome = `refused: ${reason}`;
      } else {
        let why = describeError(error);
        // Closed by close() or by the idle clock, which forget it.
        if (!open.has(conn)) why = closing ? "server stopping" : "idle timeout";
        outcome = `${sent < 0 ? "failed" : "cut"}: ${why}`;
      }
    } finally {
      ended.abort();
      opened?.file.close();
      if (open.delete(conn)) conn.close();
      const seconds = (performance.now() - started) / 1000;
      const bytes = sent < 0 ? "0" : outcome === "ok" ? `${sent}` : `${sent} of ${size - offset}`;
      const rate = (Math.max(sent, 0) / seconds / 1e6).toFixed(1);
      const took = `${seconds.toFixed(2)} s (${rate} MB/s)`;
      log(`${peer} ${quote(name)} ${bytes} bytes in ${took}: ${outcome}`);
    }
  }

  async function acceptLoop(): Promise<void> {
    const serving = new Set<Promise<void>>();
    for (let conn; (conn = await acceptWithRetry(listener, log)) !== null;) {
      if (closing) conn.close(); // Accepted as close() ran: closed as the others were.
      else open.set(conn, Infinity);
      // Not awaited: the next client is accepted while this one is served.
      const task = serveOne(conn).finally(() => serving.delete(task));
      serving.add(task);
    }
    clearInterval(idleSweep);
    await Promise.all(serving);
    hasher.close();
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

/** The real path of the folder to serve, or a `Failure` saying why it cannot be served. */
function realFolder(dir: string): string {
  try {
    const root = Deno.realPathSync(dir);
    if (Deno.statSync(root).isDirectory) return root;
  } catch (error) {
    throw new Failure(`cannot serve ${dir}: ${describeError(error)}`);
  }
  throw new Failure(`root ${dir} is not a folder`);
}

/** The offset line: the bytes the client already has. */
function parseOffset(line: string | null): number {
  if (line === null) throw new Refusal("no offset line");
  const offset = /^\d{1,16}$/.test(line) ? Number(line) : NaN;
  if (!Number.isSafeInteger(offset)) throw new Refusal(`bad offset ${quote(line)}`);
  return offset;
}

/**
 * Settles only if the client does something while it waits for the hash: it closes (it left), it
 * sends more than 4 KiB past its request, or its socket fails or is closed.
 */
async function clientLeft(socket: Pick<Deno.Conn, "read">): Promise<never> {
  for (let extra = 0; extra <= 4096;) {
    const n = await socket.read(new Uint8Array(512));
    if (n === null) throw new Failure("the client closed before the hash");
    extra += n;
  }
  throw new ProtocolError("the client sent more than its request");
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab3_file/server.ts",
      synopsis: "[PORT]",
      summary: "Lab 3 file server: sends the files under --root to lab 3 clients, in blocks,\n" +
        "with the size before and the SHA-256 after. Nothing outside the root is ever sent.",
      options: {
        port: { type: "string", short: "p", help: "port to listen on (default: 12000)" },
        address: { type: "string", short: "a", default: "0.0.0.0", help: "address, :: for IPv6" },
        root: { type: "string", arg: "DIR", default: ".", help: "folder to serve" },
        "block-size": { type: "string", arg: "N", default: "1024", help: "bytes per block" },
        timeout: { type: "string", arg: "SECONDS", default: "30", help: "close idle connections" },
        trace: { type: "boolean", help: "print every socket read and write to stderr" },
      },
      maxPositionals: 1,
      epilog:
        "example: deno run --allow-net --allow-read=lab3_file/files lab3_file/server.ts \\\n" +
        "           12000 --root lab3_file/files",
    });
    // The handout's PORT argument, or -p PORT.
    const port = parsePort(positionals[0] ?? values.port ?? `${DEFAULT_PORT}`, "server", usage);
    const limits = { min: 1, max: MAX_BLOCK_SIZE };
    const blockSize = parseNumber(values["block-size"], "--block-size", limits, usage);
    const idleTimeoutMs = parseTimeoutMs(values.timeout, usage);
    const { address: hostname, root, trace } = values;
    const options = { hostname, port, root, blockSize, idleTimeoutMs, trace };
    const server = listening(port, () => serveFiles(options));
    logLine(`Server waiting on ${formatAddr(server.addr, "python")}, serving ${root}`);
    onInterrupt(() => {
      logLine("Shutting down");
      server.close();
    });
    await server.finished;
  });
}
