/**
 * Lab 3 server: sends files from its root folder in blocks, with the file's
 * size before and its SHA-256 after, and never anything outside the root.
 *
 * Run: `deno run --allow-net --allow-read=lab3_file/files lab3_file/server.ts 12000 --root lab3_file/files`
 *
 * Read `serveFiles` (the listener and the accept loop), then `serveOne` (one
 * transfer, top to bottom). `confine.ts` decides which file a name may
 * open; `file_hasher.ts` and `hash_cache.ts` only make it faster.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { formatAddr } from "../common/addr.ts";
import { option, parseCli, parseNumber, parseTimeoutMs, serverPort } from "../common/cli.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { IdleTimeoutError, ProtocolError, Wire } from "../common/wire.ts";
import { logLine } from "../common/log.ts";
import { onInterrupt, type Server } from "../common/server.ts";
import { acceptEach, closeAll } from "../common/wire.ts";
import { quote, serverTracer } from "../common/trace.ts";
import { checkOpened, confine, Refusal } from "./confine.ts";
import { FileChangedError, FileHasher, hashOpenFile } from "./file_hasher.ts";
import { fileKey, HashCache } from "./hash_cache.ts";
import {
  DEFAULT_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
  MAX_NAME_BYTES,
  MAX_OFFSET_BYTES,
} from "./protocol.ts";

/** The handout's port. */
export const DEFAULT_PORT = 12000;

/**
 * Disk reads are this large whatever the block size: an awaited read per
 * 1 KiB block is what made Deno slow. They are synchronous, as nginx's are:
 * from the page cache one costs a fraction of an awaited read, and 256 KiB
 * stays in the CPU cache while it is sent. Only regular files get here.
 */
const READ_CHUNK = 256 * 1024;

/**
 * Files at least this large are hashed on a worker thread while they are
 * sent (`file_hasher.ts`): sending 1 KiB blocks keeps this thread busy on its own.
 */
const HASH_OFF_THREAD_BYTES = 8 * 1024 * 1024;

/** Bytes a client may send after its request before the server takes it as a protocol error. */
const MAX_TRAILING_BYTES = 4096;

/** Sent to a client that sends no complete request within the idle timeout. */
const IDLE_FAREWELL = new TextEncoder().encode("ERROR idle timeout\n");

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
 * await using server = serveFiles({ port: 0, root: "." });
 * console.log(server.addr.port);
 * ```
 */
export function serveFiles(options: FileServerOptions): Server & AsyncDisposable {
  const log = options.log ?? logLine;
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const root = realFolder(options.root ?? ".");
  const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  // Each open connection and the task serving it, so close() can end them all.
  const open = new Map<Deno.TcpConn, Promise<void>>();
  const hashes = new HashCache();
  const hasher = new FileHasher();

  async function serveOne(conn: Deno.TcpConn): Promise<void> {
    const peer = formatAddr(conn.remoteAddr, "python");
    const trace = options.trace ? serverTracer(formatAddr(conn.remoteAddr)) : undefined;
    let written = 0; // Every byte the socket took, counted by the wire's trace hook.
    using wire = new Wire(conn, {
      timeoutMs: options.idleTimeoutMs ?? 30_000,
      farewell: IDLE_FAREWELL,
      trace: (direction, bytes) => {
        if (direction === "->") written += bytes.length;
        trace?.(direction, bytes);
      },
    });
    // Aborted when this transfer ends, so a hash it no longer waits for can be cancelled.
    const ended = new AbortController();
    const started = performance.now();
    let name = "?";
    let size = 0;
    let offset = 0;
    let dataStart = -1; // `written` when the first data byte went out; -1 before the OK line.
    const report = (outcome: string) => {
      const sent = dataStart < 0 ? 0 : Math.min(written - dataStart, size - offset);
      const seconds = (performance.now() - started) / 1000;
      const rate = seconds > 0 ? sent / seconds / 1e6 : 0;
      const of = outcome === "ok" || dataStart < 0 ? "" : ` of ${size - offset}`;
      log(
        `${peer} ${quote(name)} ${sent}${of} bytes in ${seconds.toFixed(2)} s (${
          rate.toFixed(1)
        } MB/s): ${outcome}`,
      );
    };
    try {
      // The request: a file name and an offset, one line each.
      const nameLine = await wire.readLine(MAX_NAME_BYTES);
      if (nameLine === null) return report("closed before a request");
      name = nameLine;
      offset = parseOffset(await wire.readLine(MAX_OFFSET_BYTES));

      // Confine the name to the root, open the file, then check that what
      // was opened is what the name was confined to.
      const path = await confine(root, name);
      const opened = await openConfined(root, path);
      using file = opened.file;
      const { info } = opened;
      size = info.size;
      if (offset > size) throw new Refusal(`offset ${offset} is beyond the end (${size} bytes)`);

      // The whole file's SHA-256: remembered from an earlier transfer, or
      // computed on the worker thread while this one sends (large files),
      // or here from the blocks as they are read.
      const key = fileKey(path, info);
      const known = hashes.get(key) ??
        (size >= HASH_OFF_THREAD_BYTES ? hasher.hash(path, info, key, ended.signal) : undefined);
      const hash = known === undefined ? createHash("sha256") : undefined;
      if (hash) {
        // Resuming: the hash covers the whole file, so read (not send) the part the client has.
        hashPrefix(file, offset, hash);
      } else {
        file.seekSync(offset, Deno.SeekMode.Start);
      }

      // The reply: the size, the blocks from the offset, the hash.
      await wire.writeText(`OK ${size}\n`);
      dataStart = written;
      // File bytes from here: an idle timeout closes without a farewell, which would read as data.
      wire.farewell = undefined;
      // Whole blocks per disk read, so every socket write but the last is one full block.
      const buffer = new Uint8Array(blockSize * Math.max(1, Math.floor(READ_CHUNK / blockSize)));
      for (let position = offset; position < size;) {
        const n = readFullSync(file, buffer.subarray(0, Math.min(buffer.length, size - position)));
        if (n === 0) throw new Error("the file shrank while it was sent");
        hash?.update(buffer.subarray(0, n));
        await wire.write(buffer.subarray(0, n), blockSize);
        position += n;
      }
      // The client sends nothing more until it has the hash: if it closes
      // while the worker still hashes, it left, and the hash is for nobody.
      const left = clientLeft(wire);
      const sha256 = hash?.digest("hex") ?? await unlessLeft(hashOf(known!, file, size), left);
      // Kept for the next request, unless the file changed while it was read.
      if (fileKey(path, await file.stat()) === key) hashes.set(key, sha256);
      await wire.writeText(`${sha256}\n`);
      report("ok");
    } catch (error) {
      if (dataStart < 0 && (error instanceof Refusal || error instanceof ProtocolError)) {
        await wire.writeText(`ERROR ${error.message}\n`).catch(() => {});
        return report(`refused: ${error.message}`);
      }
      if (dataStart < 0 && error instanceof IdleTimeoutError) {
        return report("refused: idle timeout"); // The wire sent the farewell.
      }
      report(`${dataStart < 0 ? "failed" : "cut"}: ${whyEnded(error)}`);
    } finally {
      ended.abort();
    }
  }

  /** Why a transfer ended early, in a few words. */
  function whyEnded(error: unknown): string {
    if (closing) return "server stopping";
    if (error instanceof IdleTimeoutError) return "idle timeout";
    return describeError(error);
  }

  async function acceptLoop(): Promise<void> {
    for await (const conn of acceptEach(listener, log)) {
      // Not awaited: the next client is accepted while this one is served.
      open.set(conn, serveOne(conn).finally(() => open.delete(conn)));
    }
    await Promise.all(open.values());
    hasher.close();
  }

  let closing = false;
  const close = () => {
    closing = true;
    closeAll([listener, ...open.keys()]);
    hasher.close(); // Transfers waiting for a hash end now, not when it is done.
  };
  const finished = acceptLoop();
  return { addr: listener.addr, finished, close, [Symbol.asyncDispose]: () => (close(), finished) };
}

/** The real path of the folder to serve, or a `Failure` saying why it cannot be served. */
function realFolder(dir: string): string {
  let root: string;
  let info: Deno.FileInfo;
  try {
    root = Deno.realPathSync(dir);
    info = Deno.statSync(root);
  } catch (error) {
    throw new Failure(`cannot serve ${dir}: ${describeError(error)}`);
  }
  if (!info.isDirectory) throw new Failure(`root ${dir} is not a folder`);
  return root;
}

/**
 * Opens the file `path` names and checks that what was opened is that file
 * (`checkOpened`). Anything that fails here is a {@linkcode Refusal}, so the
 * client gets `ERROR`: a folder swapped for a symlink to outside the root
 * can make the open land there, and Deno then refuses the handle's `stat()`
 * (`NotCapable`) when the server may read its root only.
 */
async function openConfined(
  root: string,
  path: string,
): Promise<{ file: Deno.FsFile; info: Deno.FileInfo }> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    throw new Refusal("cannot open file");
  }
  try {
    const info = await file.stat();
    await checkOpened(root, path, info);
    return { file, info };
  } catch (error) {
    file.close();
    if (error instanceof Refusal) throw error;
    throw new Refusal("the file changed while it was opened; try again");
  }
}

/** The offset line: the bytes the client already has. */
function parseOffset(line: string | null): number {
  if (line === null) throw new Refusal("no offset line");
  if (!/^\d{1,16}$/.test(line) || !Number.isSafeInteger(Number(line))) {
    throw new Refusal(`bad offset ${quote(line.slice(0, 20))}`);
  }
  return Number(line);
}

/** Feeds the first `length` bytes of `file` to `hash`, leaving the file at `length`. */
function hashPrefix(file: Deno.FsFile, length: number, hash: ReturnType<typeof createHash>) {
  const buffer = new Uint8Array(Math.min(READ_CHUNK, length));
  for (let position = 0; position < length;) {
    const n = readFullSync(file, buffer.subarray(0, Math.min(buffer.length, length - position)));
    if (n === 0) throw new Error("the file shrank while it was read");
    hash.update(buffer.subarray(0, n));
    position += n;
  }
}

/**
 * The hash a transfer waited for (cached, or the worker's); if the worker
 * found another file under the name, the open file's own, hashed here.
 */
async function hashOf(
  known: string | Promise<string>,
  file: Deno.FsFile,
  size: number,
): Promise<string> {
  try {
    return await known;
  } catch (error) {
    if (error instanceof FileChangedError) return await hashOpenFile(file, size);
    throw error;
  }
}

/** Reads until `p` is full or the file ends; returns the bytes read. */
function readFullSync(file: Deno.FsFile, p: Uint8Array): number {
  let got = 0;
  while (got < p.length) {
    const n = file.readSync(p.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

/** The client closed its side of the connection before the hash line: it left. */
class ClientLeftError extends Error {
  override name = "ClientLeftError";
  constructor() {
    super("the client closed before the hash");
  }
}

/**
 * Resolves if the client closes its side of the connection (bytes it sends
 * after its request are skipped, a few KiB at most); rejects on a reset or
 * the idle timeout. Pending until the connection is closed otherwise.
 */
function clientLeft(wire: Wire): Promise<void> {
  const left = (async () => {
    const scratch = new Uint8Array(512);
    for (let extra = 0; extra <= MAX_TRAILING_BYTES;) {
      const n = await wire.read(scratch);
      if (n === null) return;
      extra += n;
    }
    throw new ProtocolError("the client sent more than its request");
  })();
  left.catch(() => {}); // Still pending when the transfer ends, and then rejected.
  return left;
}

/** `hash`, unless the client leaves first: then a {@linkcode ClientLeftError}. */
function unlessLeft(hash: Promise<string>, left: Promise<void>): Promise<string> {
  hash.catch(() => {}); // A hash nobody waits for any more may still fail.
  return Promise.race([
    hash,
    left.then((): never => {
      throw new ClientLeftError();
    }),
  ]);
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab3_file/server.ts",
      synopsis: "[PORT]",
      summary: "Lab 3 file server: sends the files under --root to lab 3 clients, in blocks,\n" +
        "with the size before and the SHA-256 after. Nothing outside the root is ever sent.",
      options: {
        port: option.serverPort(DEFAULT_PORT),
        address: option.address("0.0.0.0", "address to listen on (:: for IPv6 and IPv4)"),
        root: { type: "string", arg: "DIR", default: ".", help: "folder to serve" },
        "block-size": {
          type: "string",
          arg: "N",
          default: `${DEFAULT_BLOCK_SIZE}`,
          help: `bytes per block, 1..${MAX_BLOCK_SIZE}`,
        },
        timeout: option.timeout("30", "close a connection idle this many seconds"),
        trace: option.trace,
      },
      maxPositionals: 1,
      epilog:
        "example: deno run --allow-net --allow-read=lab3_file/files lab3_file/server.ts 12000 \\\n" +
        "           --root lab3_file/files",
    });
    await using server = serveFiles({
      hostname: values.address,
      port: serverPort(positionals, values.port, DEFAULT_PORT, usage),
      root: values.root,
      blockSize: parseNumber(
        values["block-size"],
        "--block-size",
        { min: 1, max: MAX_BLOCK_SIZE },
        usage,
      ),
      idleTimeoutMs: parseTimeoutMs(values.timeout, usage),
      trace: values.trace,
    });
    logLine(`Server waiting on ${formatAddr(server.addr, "python")}, serving ${values.root}`);
    onInterrupt(() => {
      logLine("Shutting down");
      server.close();
    });
    await server.finished;
  });
}
