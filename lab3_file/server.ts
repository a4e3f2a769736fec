/**
 * Lab 3 server: sends files from its root folder in blocks, with the file's
 * size before and its SHA-256 after, and never anything outside the root.
 *
 * Run: `deno run --allow-net --allow-read=DIR lab3_file/server.ts PORT --root DIR`
 *
 * @module
 */

import { createHash } from "node:crypto";
import { isAbsolute, join, sep, win32 } from "node:path";
import { formatPythonAddr } from "../common/addr.ts";
import {
  addressOption,
  helpOption,
  parseCli,
  parseNumber,
  parsePort,
  parseTimeoutMs,
  timeoutOption,
  traceOption,
  UsageError,
} from "../common/cli.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { ProtocolError, type Wire } from "../common/io.ts";
import { logLine } from "../common/log.ts";
import { serveUntilInterrupted } from "../common/signals.ts";
import { type Connection, serveTcp, type TcpServer } from "../common/tcp_server.ts";
import { FileHasher } from "./file_hasher.ts";
import { fileKey, HashCache } from "./hash_cache.ts";
import {
  DEFAULT_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
  MAX_NAME_BYTES,
  MAX_OFFSET_BYTES,
} from "./protocol.ts";

/** Options for {@linkcode serveFiles}. */
export interface FileServerOptions {
  hostname?: string;
  port: number;
  /** The folder served (default: the current directory). */
  root?: string;
  /** Bytes per block written to the socket (default 1024). */
  blockSize?: number;
  idleTimeoutMs?: number;
  trace?: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Disk reads are this large whatever the block size: an awaited read per
 * 1 KiB block is what made Deno slow. They are synchronous, as nginx's are:
 * from the page cache one costs a fraction of an awaited read, and 256 KiB
 * stays in the CPU cache while it is sent. Only regular files get here.
 */
const READ_CHUNK = 256 * 1024;

/**
 * Files at least this large are hashed on a worker thread while they are
 * sent: sending 1 KiB blocks keeps this thread busy on its own.
 */
const HASH_OFF_THREAD_BYTES = 8 * 1024 * 1024;

/** A request the server refuses, with the reason sent to the client. */
class Refusal extends Error {}

/**
 * Starts the file server. Throws if the root is not a readable folder.
 *
 * @example
 * ```ts
 * const server = await serveFiles({ port: 0, root: "." });
 * server.close();
 * await server.finished;
 * ```
 */
export async function serveFiles(options: FileServerOptions): Promise<TcpServer> {
  const log = options.log ?? logLine;
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  let root: string;
  try {
    root = await Deno.realPath(options.root ?? ".");
    if (!(await Deno.stat(root)).isDirectory) {
      throw new Failure(`root ${options.root} is not a folder`);
    }
  } catch (error) {
    if (error instanceof Failure) throw error;
    throw new Failure(`cannot serve ${options.root ?? "."}: ${describeError(error)}`);
  }

  const hashes = new HashCache();
  const hasher = new FileHasher();

  const handler = async ({ wire, remoteAddr }: Connection) => {
    const peer = formatPythonAddr(remoteAddr);
    let name = "?";
    const started = performance.now();
    let sent = 0;
    const report = (outcome: string) => {
      const seconds = (performance.now() - started) / 1000;
      const rate = seconds > 0 ? sent / seconds / 1e6 : 0;
      log(
        `${peer} ${JSON.stringify(name)} ${sent} bytes in ${seconds.toFixed(2)} s (${
          rate.toFixed(1)
        } MB/s): ${outcome}`,
      );
    };
    let file: Deno.FsFile | undefined;
    try {
      const request = await readRequest(wire);
      if (!request) return report("closed before a request");
      name = request.name;
      const path = await resolveInside(root, request.name);
      file = await Deno.open(path, { read: true });
      const info = await file.stat();
      if (!info.isFile) throw new Refusal("not a regular file");
      if (request.offset > info.size) {
        throw new Refusal(`offset ${request.offset} is beyond the end (${info.size} bytes)`);
      }
      const key = fileKey(path, info);
      let knownHash: string | Promise<string> | undefined = hashes.get(key);
      if (knownHash === undefined && info.size >= HASH_OFF_THREAD_BYTES) {
        knownHash = hasher.hash(path, info.size, key);
        // Awaited once the data is sent; until then a failure must not go unhandled.
        knownHash.catch(() => {});
      }
      const result = await sendFile(wire, file, info.size, request.offset, blockSize, knownHash);
      sent = result.sent;
      // Cache only if the file did not change while it was read.
      if (fileKey(path, await file.stat()) === key) hashes.set(key, result.sha256);
      report("ok");
    } catch (error) {
      if (error instanceof Refusal || error instanceof ProtocolError) {
        await wire.writeText(`ERROR ${error.message}\n`).catch(() => {});
        return report(`refused: ${error.message}`);
      }
      report(`failed: ${wire.timedOut ? "idle timeout" : describeError(error)}`);
    } finally {
      file?.close();
    }
  };

  const server = await serveTcp({
    ...options,
    log,
    handler,
    timeoutMessage: "ERROR idle timeout\n",
  });
  const stopHasher = () => hasher.close();
  server.finished.then(stopHasher, stopHasher);
  return server;
}

/** Reads the two request lines; `null` if the client closed before sending any. */
async function readRequest(wire: Wire): Promise<{ name: string; offset: number } | null> {
  const name = await wire.readLine(MAX_NAME_BYTES);
  if (name === null) return null;
  const offsetLine = await wire.readLine(MAX_OFFSET_BYTES);
  if (offsetLine === null) throw new Refusal("no offset line");
  if (!/^\d{1,16}$/.test(offsetLine) || !Number.isSafeInteger(Number(offsetLine))) {
    throw new Refusal(`bad offset ${JSON.stringify(offsetLine.slice(0, 20))}`);
  }
  return { name, offset: Number(offsetLine) };
}

/**
 * Maps a requested name to a path inside `root`, or throws a {@linkcode Refusal}.
 * The name is checked as text first (no absolute path, no `..`, no control
 * characters), then after symlinks are resolved (still inside the root).
 */
export async function resolveInside(root: string, name: string): Promise<string> {
  if (name.length === 0) throw new Refusal("empty file name");
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new Refusal("control characters in file name");
  // "C:x" is relative to drive C's current folder on Windows: as bad as absolute there.
  const driveRelative = Deno.build.os === "windows" && /^[A-Za-z]:/.test(name);
  if (isAbsolute(name) || win32.isAbsolute(name) || driveRelative) {
    throw new Refusal("absolute paths are not served");
  }
  if (name.split(/[\\/]/).includes("..")) throw new Refusal("'..' is not allowed in file names");
  let real: string;
  try {
    real = await Deno.realPath(join(root, name));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      throw new Refusal("no such file");
    }
    throw new Refusal("cannot open file");
  }
  if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new Refusal("no such file");
  }
  // Stat before open: opening a FIFO for reading would block until a writer comes.
  const info = await Deno.stat(real);
  if (!info.isFile) throw new Refusal(info.isDirectory ? "is a folder" : "not a regular file");
  return real;
}

/**
 * Sends `OK <size>`, the bytes from `offset` in `blockSize` writes, and the
 * whole file's SHA-256: `knownHash` when it is cached or being computed on
 * the worker, else hashed here as the file is read.
 */
async function sendFile(
  wire: Wire,
  file: Deno.FsFile,
  size: number,
  offset: number,
  blockSize: number,
  knownHash?: string | Promise<string>,
): Promise<{ sent: number; sha256: string }> {
  const hash = knownHash ? undefined : createHash("sha256");
  // Whole blocks per disk read, so every socket write but the last is one full block.
  const buffer = new Uint8Array(blockSize * Math.max(1, Math.floor(READ_CHUNK / blockSize)));
  let position = 0;
  if (hash) {
    // Resuming: the hash covers the whole file, so read (not send) the part the client has.
    while (position < offset) {
      const n = readFullSync(file, buffer.subarray(0, Math.min(buffer.length, offset - position)));
      if (n === 0) throw new Error("file shrank while being read");
      hash.update(buffer.subarray(0, n));
      position += n;
    }
  } else if (offset > 0) {
    await file.seek(offset, Deno.SeekMode.Start);
    position = offset;
  }
  await wire.writeText(`OK ${size}\n`);
  while (position < size) {
    const n = readFullSync(file, buffer.subarray(0, Math.min(buffer.length, size - position)));
    if (n === 0) throw new Error("file shrank while being sent");
    const data = buffer.subarray(0, n);
    hash?.update(data);
    await wire.writeBlocks(data, blockSize);
    position += n;
  }
  const sha256 = await (knownHash ?? hash!.digest("hex"));
  await wire.writeText(`${sha256}\n`);
  return { sent: size - offset, sha256 };
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

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab3_file/server.ts",
      synopsis: "[PORT]",
      summary: "Lab 3 file server: sends the files under --root to lab 3 clients, in blocks,\n" +
        "with the size before and the SHA-256 after. Nothing outside the root is ever sent.",
      options: {
        port: {
          type: "string",
          short: "p",
          arg: "PORT",
          help: "port to listen on, like the PORT argument (default 12000)",
        },
        address: addressOption("0.0.0.0", "address to listen on (:: for IPv6)"),
        root: { type: "string", arg: "DIR", default: ".", help: "folder to serve" },
        "block-size": {
          type: "string",
          arg: "N",
          default: `${DEFAULT_BLOCK_SIZE}`,
          help: `bytes per block, 1..${MAX_BLOCK_SIZE}`,
        },
        timeout: timeoutOption("30", "close a connection idle this many seconds"),
        trace: traceOption,
        help: helpOption,
      },
      maxPositionals: 1,
      epilog:
        "example: deno run --allow-net --allow-read=./files lab3_file/server.ts 12000 --root ./files",
    });
    if (positionals.length && values.port !== undefined && positionals[0] !== values.port) {
      throw new UsageError("give the port once: as PORT or as -p PORT", usage);
    }
    const server = await serveFiles({
      hostname: values.address,
      port: parsePort(positionals[0] ?? values.port ?? "12000", "server", usage),
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
    await serveUntilInterrupted(
      server,
      `Server waiting on ${formatPythonAddr(server.addr)}, serving ${values.root}`,
    );
  });
}
