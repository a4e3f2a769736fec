/**
 * Lab 3 client: downloads one file from the lab 3 server, verifies its size
 * and SHA-256, and only then gives it its name.
 *
 * Run: `deno run --allow-net=127.0.0.1:12000 --allow-read=. --allow-write=. lab3_file/client.ts 127.0.0.1:12000:notes.txt copy.txt`
 *
 * @module
 */

import { createHash } from "node:crypto";
import { formatAddr } from "../common/addr.ts";
import { option, parseCli, parsePort, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { IdleTimeoutError, UnexpectedEofError, Wire } from "../common/wire.ts";
import { escapeControl, quote, stderrTracer } from "../common/trace.ts";
import { sameFile } from "../common/steady_path.ts";
import { formatBytes, Progress } from "./progress.ts";
import { HASH_HEX_LENGTH, MAX_NAME_BYTES, parseOkLine, splitTarget } from "./protocol.ts";

/** Options for {@linkcode download}. */
export interface DownloadOptions {
  hostname: string;
  port: number;
  /** The file's name on the server. */
  remote: string;
  /** Where to save it. */
  local: string;
  /** Replace an existing `local`. */
  force?: boolean;
  /** Continue from an existing `local.part`. */
  resume?: boolean;
  /** Limit for the connect and for each wait on the server (default 30 s). */
  timeoutMs?: number;
  trace?: boolean;
  /** Called as bytes arrive (total counts the whole file). */
  onProgress?: (done: number, total: number) => void;
}

/** What a finished download reports. */
export interface DownloadResult {
  size: number;
  /** Bytes received in this run (less than `size` after a resume). */
  received: number;
  seconds: number;
  sha256: string;
}

const WRITE_CHUNK = 1024 * 1024;

/**
 * Downloads `remote` to `local` through `local.part`, renamed only once the
 * size and SHA-256 match. Throws a {@linkcode Failure} and leaves `local`
 * untouched otherwise.
 *
 * @example
 * ```ts
 * await download({ hostname: "127.0.0.1", port: 12000, remote: "notes.txt", local: "notes.txt" });
 * ```
 */
export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const { hostname, port, local } = options;
  const part = `${local}.part`;
  if (!options.force && (await exists(local))) {
    throw new Failure(`${local} already exists; use --force to overwrite it`);
  }
  // Resuming: the part already here, opened and then checked, never through a symlink.
  using kept = options.resume ? await openPart(part) : undefined;
  const offset = kept ? (await kept.stat()).size : 0;
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 30_000;
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname, port, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new Failure(
      `could not connect to ${formatAddr({ hostname, port })}: ${
        error instanceof DOMException && error.name === "TimeoutError"
          ? `timed out after ${timeoutMs / 1000} s`
          : describeError(error)
      }`,
    );
  }
  using wire = new Wire(conn, { timeoutMs, trace: options.trace ? stderrTracer() : undefined });
  await wire.writeText(`${options.remote}\n${offset}\n`);
  // The server's hash covers the whole file: hash what we already have while
  // the server reads its copy of the same bytes.
  const hash = createHash("sha256");
  const prefixHashed = kept ? hashPrefix(kept, offset, hash) : Promise.resolve();
  const status = await wire.readLine(MAX_NAME_BYTES + 64).finally(() =>
    prefixHashed.catch(() => {})
  );
  await prefixHashed;
  if (status === null) throw new Failure("the server closed the connection without answering");
  if (status.startsWith("ERROR")) {
    throw new Failure(`server: ${escapeControl(status.replace(/^ERROR\s*/, ""))}`);
  }
  const size = parseOkLine(status);
  if (size === undefined) {
    throw new Failure(`unexpected reply from the server: ${quote(status.slice(0, 80))}`);
  }
  if (size < offset) throw new Failure(`${part} is larger than the file on the server; delete it`);

  // A fresh download goes to a new .part, created where nothing is.
  using fresh = kept ? undefined : await createPart(part);
  const file = kept ?? fresh!;
  let received = 0;
  // Two buffers: the disk writes one while the socket fills the other.
  let current = new Uint8Array(WRITE_CHUNK);
  let spare = new Uint8Array(WRITE_CHUNK);
  let writing: Promise<void> = Promise.resolve();
  let filled = 0;
  try {
    while (offset + received < size) {
      const want = Math.min(current.length, size - offset - received);
      filled = 0;
      while (filled < want) {
        const n = await wire.read(current.subarray(filled, want));
        if (n === null) throw new UnexpectedEofError(offset + received + filled, size);
        filled += n;
        options.onProgress?.(offset + received + filled, size);
      }
      const data = current.subarray(0, filled);
      hash.update(data);
      await writing;
      writing = writeFile(file, data);
      received += filled;
      filled = 0;
      [current, spare] = [spare, current];
    }
    await writing;
  } catch (error) {
    // Keep every byte that did arrive, so --resume continues from there.
    await writing.then(() => writeFile(file, current.subarray(0, filled))).then(
      () => (received += filled),
      () => {},
    );
    const have = offset + received;
    const why = error instanceof UnexpectedEofError
      ? "the connection closed early"
      : error instanceof IdleTimeoutError
      ? "timed out waiting for data"
      : describeError(error);
    throw new Failure(
      `partial transfer: got ${have} of ${size} bytes (${why}); ${
        have > 0 ? `kept ${part}, run again with --resume to continue` : "nothing saved"
      }`,
    );
  }
  const expected = await wire.readLine(HASH_HEX_LENGTH + 2).catch(() => null);
  const actual = hash.digest("hex");
  const written = await file.stat();
  file.close(); // Before the rename or removal below: Windows allows neither on an open file.
  if (expected === null || !/^[0-9a-f]{64}$/.test(expected)) {
    throw new Failure(`the server sent no SHA-256 after the data; kept ${part} unverified`);
  }
  if (expected !== actual) {
    await Deno.remove(part).catch(() => {});
    throw new Failure(
      `sha256 mismatch: got ${actual}, server says ${expected}; discarded the download`,
    );
  }
  // Only the file written and verified gets the name.
  if (!sameFile(await Deno.lstat(part), written)) {
    throw new Failure(`${part} was replaced during the download; ${local} not written`);
  }
  await Deno.rename(part, local);
  return { size, received, seconds: (performance.now() - started) / 1000, sha256: actual };
}

/**
 * Opens an existing `.part` to continue it: `undefined` if there is none; a
 * `Failure` if it is a symlink or anything but a regular file, or if what
 * was opened is not what was looked at.
 */
async function openPart(part: string): Promise<Deno.FsFile | undefined> {
  let seen: Deno.FileInfo;
  try {
    seen = await Deno.lstat(part);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (!seen.isFile) {
    throw new Failure(
      `${part} is ${seen.isSymlink ? "a symlink" : "not a regular file"}; delete it to start over`,
    );
  }
  const file = await Deno.open(part, { read: true, append: true });
  if (!sameFile(seen, await file.stat())) {
    file.close();
    throw new Failure(`${part} changed while it was opened; run again`);
  }
  return file;
}

/**
 * Creates a new, empty `.part`. Whatever is there (a stale `.part`, or a
 * symlink planted to send the write elsewhere) is removed, never followed,
 * and `createNew` refuses anything that appears in the meantime.
 */
async function createPart(part: string): Promise<Deno.FsFile> {
  try {
    await Deno.remove(part);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new Failure(`cannot replace ${part}: ${describeError(error)}`);
    }
  }
  try {
    return await Deno.open(part, { write: true, createNew: true });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new Failure(`${part} appeared while the download started; run again`);
    }
    throw error;
  }
}

/** Feeds the first `length` bytes of an open file to `hash`. */
async function hashPrefix(
  file: Deno.FsFile,
  length: number,
  hash: ReturnType<typeof createHash>,
): Promise<void> {
  const buf = new Uint8Array(WRITE_CHUNK);
  let done = 0;
  while (done < length) {
    const n = await file.read(buf.subarray(0, Math.min(buf.length, length - done)));
    if (n === null) throw new Failure("the .part shrank while being read");
    hash.update(buf.subarray(0, n));
    done += n;
  }
}

async function writeFile(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The last path component of a remote name (either separator). */
function baseName(name: string): string {
  return name.split(/[\\/]/).filter(Boolean).at(-1) ?? "";
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "lab3_file/client.ts",
      synopsis: "SERVER:PORT:NAME_IN_SERVER [NAME_IN_CLIENT]",
      summary:
        "Lab 3 client: downloads NAME_IN_SERVER to NAME_IN_CLIENT (default: its base name),\n" +
        "verifying size and SHA-256. SERVER may be a name, an IPv4 address or [IPv6].",
      options: {
        force: { type: "boolean", help: "overwrite NAME_IN_CLIENT if it exists" },
        resume: { type: "boolean", help: "continue from NAME_IN_CLIENT.part" },
        quiet: { type: "boolean", short: "q", help: "no progress display" },
        timeout: option.timeout("30", "limit for connecting and for each wait on the server"),
        trace: option.trace,
      },
      maxPositionals: 2,
      epilog: "example: deno run --allow-net=127.0.0.1:12000 --allow-read=. --allow-write=. \\\n" +
        "           lab3_file/client.ts 127.0.0.1:12000:notes.txt notes.txt",
    });
    if (positionals.length === 0) throw new UsageError("missing SERVER:PORT:NAME_IN_SERVER", usage);
    const target = splitTarget(positionals[0]);
    if (!target) {
      throw new UsageError(`'${positionals[0]}' is not SERVER:PORT:NAME_IN_SERVER`, usage);
    }
    const port = parsePort(String(target.port), "client", usage);
    const local = positionals[1] ?? baseName(target.remote);
    if (!local) {
      throw new UsageError(
        "NAME_IN_CLIENT is needed when NAME_IN_SERVER ends in a separator",
        usage,
      );
    }
    const progress = { bar: undefined as Progress | undefined };
    const showProgress = !values.quiet && Deno.stderr.isTerminal();
    const result = await download({
      hostname: target.hostname,
      port,
      remote: target.remote,
      local,
      force: values.force,
      resume: values.resume,
      timeoutMs: parseTimeoutMs(values.timeout, usage),
      trace: values.trace,
      onProgress: (done, total) =>
        (progress.bar ??= new Progress(total, showProgress)).update(done),
    }).finally(() => progress.bar?.done());
    const rate = result.seconds > 0 ? result.received / result.seconds / 1e6 : 0;
    console.log(
      `received ${local} from ${
        formatAddr({ hostname: target.hostname, port })
      }: ${result.size} bytes (${formatBytes(result.size)})` +
        `${result.received < result.size ? `, ${result.received} in this run` : ""} in ${
          result.seconds.toFixed(2)
        } s (${rate.toFixed(1)} MB/s)`,
    );
    console.log(`sha256 OK ${result.sha256}`);
  });
}
