/**
 * Lab 3 client: downloads one file from the lab 3 server into `NAME.part`, checks its size and
 * SHA-256, and only then renames it to `NAME`. A download cut short, or stopped with Ctrl+C,
 * keeps what arrived in `NAME.part`, and `--resume` continues it. The protocol is in
 * `protocol.ts`.
 *
 * Run: `deno run --allow-net=127.0.0.1 --allow-read=/tmp/lab3 --allow-write=/tmp/lab3 lab3_file/client.ts 127.0.0.1:12000:notes.txt /tmp/lab3/notes.txt`
 *
 * @module
 */

import { createHash } from "node:crypto";
import { formatAddr } from "../common/addr.ts";
import { parseCli, parsePort, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { describeError, Failure, runMain } from "../common/errors.ts";
import { withTimeout, writeAll } from "../common/io.ts";
import { readAhead, readLine } from "../common/lines.ts";
import { onInterrupt } from "../common/server.ts";
import { sameFile } from "../common/steady_path.ts";
import { escapeControl, quote, traced, tracer } from "../common/trace.ts";
import { hashPrefix, MAX_NAME_BYTES } from "./protocol.ts";

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
  /** Stops the download (Ctrl+C): what arrived stays in `local.part`. */
  signal?: AbortSignal;
}

/**
 * Downloads `remote` to `local` through `local.part`, renamed only once the size and SHA-256
 * match, and returns the file's size, the bytes `received` in this run (less than `size` after a
 * resume), the seconds it took and the SHA-256. Throws a {@linkcode Failure} and leaves `local`
 * untouched otherwise.
 *
 * @example
 * ```ts
 * await download({ hostname: "127.0.0.1", port: 12000, remote: "notes.txt", local: "notes.txt" });
 * ```
 */
export async function download(options: DownloadOptions) {
  const { hostname, port, local, timeoutMs = 30_000 } = options;
  const part = `${local}.part`;
  const kept = `kept ${part}, run again with --resume to continue`;
  const stop = options.signal ?? new AbortController().signal;
  const exists = !options.force && await Deno.lstat(local).catch(notFound);
  if (exists) throw new Failure(`${local} already exists; use --force to overwrite it`);
  const started = performance.now();
  // Resuming: the part already here, opened and then checked, never through a symlink.
  let file = options.resume ? await openPart(part) : undefined;
  let conn: Deno.TcpConn | undefined;
  // Ctrl+C (`stop`) closes the socket, so that a wait on it ends at once; else `finally` does.
  const hangUp = () => {
    conn?.close();
    conn = undefined;
  };
  stop.addEventListener("abort", hangUp, { once: true });
  try {
    const offset = file ? (await file.stat()).size : 0;
    const signal = AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]);
    conn = await Deno.connect({ hostname, port, signal }).catch((error) => {
      const why = stop.aborted ? "interrupted" : describeError(error);
      throw new Failure(`could not connect to ${formatAddr({ hostname, port })}: ${why}`);
    });
    const socket = options.trace ? traced(conn, tracer(undefined, console.error)) : conn;
    const read = (p: Uint8Array) => withTimeout(timeoutMs, socket.read(p));
    // BEGIN SOLUTION send the request: the file's name, then the offset, one line each
    await writeAll(socket, new TextEncoder().encode(`${options.remote}\n${offset}\n`));
    // END SOLUTION
    // The server's hash covers the whole file: hash what we have while the server answers.
    const hash = createHash("sha256");
    const ahead = readAhead();
    const [status] = await Promise.all([
      readLine({ read }, ahead, MAX_NAME_BYTES + 64),
      file && hashPrefix(file, offset, hash),
    ]);
    if (status === null) throw new Failure("the server closed the connection without answering");
    const [, reason] = /^ERROR\s*(.*)$/s.exec(status) ?? [];
    if (reason !== undefined) throw new Failure(`server: ${escapeControl(reason)}`);
    const size = Number(/^OK (\d{1,16})$/.exec(status)?.[1] ?? NaN);
    if (Number.isNaN(size)) {
      throw new Failure(`unexpected reply from the server: ${quote(status.slice(0, 80))}`);
    }
    if (size < offset) throw new Failure(`${part} is larger than the file on the server`);

    // A fresh download goes to a new .part, created where nothing is.
    file ??= await createPart(part);
    // The bytes come into a 1 MiB chunk, hashed and written when it is full, and the disk writes
    // one chunk while the socket fills the other: a disk write per socket read cost a 1 KiB-block
    // download about a tenth of its rate, and a write the socket waits for an eighth of a 1
    // MiB-block one's (906 against 1,030 MB/s, medians of 6). The bytes that came with the
    // status line are the file's first.
    let [chunk, spare] = [new Uint8Array(1024 * 1024), new Uint8Array(1024 * 1024)];
    let filled = Math.min(ahead.end - ahead.start, size - offset);
    chunk.set(ahead.bytes.subarray(ahead.start, ahead.start + filled));
    ahead.start += filled;
    let have = offset; // Bytes handed to the .part.
    let writing = Promise.resolve();
    const save = async () => {
      const data = chunk.subarray(0, filled);
      filled = 0; // Written at most once, even if the disk fails.
      hash.update(data);
      await writing;
      writing = writeAll(file!, data);
      have += data.length;
      [chunk, spare] = [spare, chunk];
    };
    try {
      // BEGIN SOLUTION receive the bytes up to the size into chunk, saving each full chunk
      while (have + filled < size) {
        if (filled === chunk.length) await save();
        const n = await read(chunk.subarray(filled, Math.min(chunk.length, size - have)));
        if (n === null) throw new Deno.errors.UnexpectedEof("the connection closed early");
        filled += n;
        options.onProgress?.(have + filled, size);
      }
      await save();
      await writing;
      // END SOLUTION
    } catch (error) {
      // Every byte that came goes to the .part, so --resume continues from there.
      await save().then(() => writing).catch(() => {});
      let why = describeError(error);
      if (stop.aborted) why = "interrupted";
      const saved = have > 0 ? kept : "nothing saved";
      throw new Failure(`partial transfer: got ${have} of ${size} bytes (${why}); ${saved}`);
    }

    const expected = await readLine({ read }, ahead, 66).catch(() => null);
    if (stop.aborted) throw new Failure(`interrupted before the hash line; ${kept}`);
    const actual = hash.digest("hex");
    const written = file.statSync();
    file.close(); // Before the rename or removal below: Windows allows neither on an open file.
    file = undefined;
    // BEGIN SOLUTION check the hash line against the hash of what was saved
    if (expected === null || !/^[0-9a-f]{64}$/.test(expected)) {
      throw new Failure(`the server sent no SHA-256 after the data; kept ${part} unverified`);
    }
    if (expected !== actual) {
      await Deno.remove(part);
      const why = `got ${actual}, server says ${expected}`;
      throw new Failure(`sha256 mismatch: ${why}; discarded the download`);
    }
    // END SOLUTION
    // Only the file written and verified gets the name.
    if (!sameFile(await Deno.lstat(part), written)) {
      throw new Failure(`${part} was replaced during the download; ${local} not written`);
    }
    await Deno.rename(part, local);
    const seconds = (performance.now() - started) / 1000;
    return { size, received: size - offset, seconds, sha256: actual };
  } catch (error) {
    // A read or write failed because Ctrl+C closed the socket.
    throw stop.aborted && !(error instanceof Failure) ? new Failure("interrupted") : error;
  } finally {
    stop.removeEventListener("abort", hangUp);
    hangUp();
    file?.close();
  }
}

/** For a `.catch()`: `undefined` if the error is `NotFound`, else the error again. */
function notFound(error: unknown): undefined {
  if (error instanceof Deno.errors.NotFound) return undefined;
  throw error;
}

/**
 * Opens an existing `.part` to continue it: `undefined` if there is none; a `Failure` if it is a
 * symlink or anything but a regular file, or if what was opened is not what was looked at.
 */
async function openPart(part: string): Promise<Deno.FsFile | undefined> {
  const seen = await Deno.lstat(part).catch(notFound);
  if (seen === undefined) return undefined;
  if (!seen.isFile) {
    const what = seen.isSymlink ? "a symlink" : "not a regular file";
    throw new Failure(`${part} is ${what}; delete it to start over`);
  }
  const file = await Deno.open(part, { read: true, append: true });
  if (sameFile(seen, await file.stat())) return file;
  file.close();
  throw new Failure(`${part} changed while it was opened; run again`);
}

/**
 * Creates a new, empty `.part`. Whatever is there (a stale `.part`, or a symlink planted to send
 * the write elsewhere) is removed, never followed, and `createNew` refuses anything that appears
 * in the meantime.
 */
async function createPart(part: string): Promise<Deno.FsFile> {
  await Deno.remove(part).catch(notFound);
  return await Deno.open(part, { write: true, createNew: true }).catch((error) => {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    throw new Failure(`${part} appeared while the download started; run again`);
  });
}

/**
 * Splits `SERVER:PORT:NAME_IN_SERVER` (`[v6]:PORT:NAME` for an IPv6 address; the name may hold
 * `:`); `undefined` when it is not one. The port is not range-checked here.
 *
 * @example
 * ```ts
 * splitTarget("[::1]:12000:notes.txt"); // { hostname: "::1", port: 12000, remote: "notes.txt" }
 * ```
 */
export function splitTarget(text: string) {
  const m = text.match(/^(?:\[([0-9A-Fa-f:.%\w]+)\]|([^:[\]]+)):(\d{1,5}):(.+)$/s);
  return m ? { hostname: m[1] ?? m[2], port: Number(m[3]), remote: m[4] } : undefined;
}

/** A byte count with a binary unit: `441 B`, `3.0 MiB`. */
function formatBytes(n: number): string {
  const i = Math.min(4, Math.floor(Math.log2(Math.max(n, 1)) / 10)); // 0 for B, 1 for KiB...
  return i === 0 ? `${n} B` : `${(n / 1024 ** i).toFixed(1)} ${" KMGT"[i]}iB`;
}

/**
 * A progress line on stderr: bytes so far and in all, percent, rate and time left, redrawn at most
 * 10 times a second.
 */
function progressLine(): (done: number, total: number) => void {
  const started = performance.now();
  let drawn = 0;
  return (done, total) => {
    const now = performance.now();
    if (now - drawn < 100 && done < total) return;
    drawn = now;
    const percent = total > 0 ? Math.floor((100 * done) / total) : 100;
    const rate = (done / Math.max(now - started, 1)) * 1000;
    const left = Math.round((total - done) / Math.max(rate, 1));
    const eta = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    const line = `${formatBytes(done)} / ${formatBytes(total)}  ${percent}%  ` +
      `${(rate / 1e6).toFixed(1)} MB/s  ETA ${eta}`;
    Deno.stderr.writeSync(new TextEncoder().encode(`\r${line}\x1b[K`));
  };
}

if (import.meta.main) {
  const stop = new AbortController();
  // Stopped by Ctrl+C or SIGTERM: 128 + the signal's number, as a shell tells a program it ended.
  const exitCodeFor = () =>
    stop.signal.aborted ? (stop.signal.reason === "SIGINT" ? 130 : 143) : undefined;
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
        timeout: { type: "string", arg: "SECONDS", default: "30", help: "limit for each wait" },
        trace: { type: "boolean", help: "print every socket read and write to stderr" },
      },
      maxPositionals: 2,
      epilog:
        "example: deno run --allow-net=127.0.0.1 --allow-read=/tmp/lab3 --allow-write=/tmp/lab3 \\\n" +
        "           lab3_file/client.ts 127.0.0.1:12000:notes.txt /tmp/lab3/notes.txt",
    });
    const target = splitTarget(positionals[0] ?? "");
    if (!target) throw new UsageError("expected SERVER:PORT:NAME_IN_SERVER", usage);
    const port = parsePort(String(target.port), "client", usage);
    const local = positionals[1] ?? target.remote.split(/[\\/]/).filter(Boolean).at(-1);
    if (!local) throw new UsageError("NAME_IN_CLIENT is needed for a name that ends in /", usage);
    const { force, resume, trace } = values;
    const timeoutMs = parseTimeoutMs(values.timeout, usage);
    const onProgress = !values.quiet && Deno.stderr.isTerminal() ? progressLine() : undefined;
    // Ctrl+C ends the download with a message; what arrived stays in NAME_IN_CLIENT.part.
    onInterrupt((signal) => stop.abort(signal));
    const options = { ...target, local, force, resume, timeoutMs, trace, onProgress };
    const { size, received, seconds, sha256 } = await download({ ...options, signal: stop.signal })
      .finally(() => onProgress && Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K")));
    const rate = (received / seconds / 1e6).toFixed(1);
    const thisRun = received < size ? `, ${received} in this run` : "";
    console.log(
      `received ${local} from ${formatAddr({ hostname: target.hostname, port })}: ${size} bytes ` +
        `(${formatBytes(size)})${thisRun} in ${seconds.toFixed(2)} s (${rate} MB/s)`,
    );
    console.log(`sha256 OK ${sha256}`);
  }, exitCodeFor);
}
