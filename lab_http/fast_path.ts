/**
 * The fast path of the static file server, off the reading path: a small
 * file asked for again, unchanged since it was read, is answered from memory
 * with one `lstat`: no open, no read, no header built.
 *
 * What it buys (1 KiB file, `wrk -t1 -c10`, server pinned to one core,
 * medians of 3 interleaved 5 s runs on a shared, loaded 2-core machine, when
 * the server still ran on `Deno.serve`, before issue 18): 10,480 requests/s
 * and 38 us of server CPU per request with it; 4,240 and 141 us without it
 * (every request confined, opened, checked and read).
 *
 * How it stays correct:
 * - It keeps only what the main path read through a handle it had opened and
 *   checked (`static_files.ts`: confine the path, open, check, read); that
 *   check (`Root.check`) no swap can pass, so no copy of a file outside the
 *   root is ever kept. (Until issue 28 the check was repeated looks, which a
 *   swapper in lock-step dodged; a kept copy of the secret then leaked on
 *   every request that found the swap in place.)
 * - Each request `lstat`s the path (resolving a URL through a symlink again
 *   first) and uses the copy only if it finds the very version that was
 *   read: same device, inode, size, mtime and ctime. A file swapped for a
 *   symlink, a folder swapped on the way, a file renamed over the old one:
 *   each shows as another file and the request takes the main path, which
 *   opens and checks. A hit sends only bytes read from a checked handle, and
 *   only while the path names that same file.
 * - Racily clean, git's rule: a version is kept only if it was read at least
 *   {@linkcode RACY_MS} after its last change. Any later write then moves
 *   its mtime, so two same-size writes within one timestamp tick cannot hide
 *   behind the copy of the first.
 * - Bounded: {@linkcode MAX_FILES} files and {@linkcode MAX_BYTES} of
 *   bodies; the oldest go first.
 *
 * @module
 */

import type { Place } from "./confine.ts";
import { headLines } from "./response_head.ts";
import {
  type Answer,
  type Asked,
  conditional,
  fileAnswer,
  fileHeaders,
  RACY_MS,
  type Representation,
  representation,
} from "./responses.ts";

/** Files up to this size are read whole and may be kept; larger ones are streamed. */
export const SMALL_FILE = 128 * 1024;
/** At most this many files kept. */
export const MAX_FILES = 4096;
/** At most this many bytes of bodies kept. */
export const MAX_BYTES = 64 * 1024 * 1024;

/**
 * The last time a file's content or metadata changed, by its own clock. Deno
 * gives `ctime` in whole seconds: the change may be up to a second later.
 */
function lastChange(info: Deno.FileInfo): number {
  return Math.max(info.mtime?.getTime() ?? 0, (info.ctime?.getTime() ?? 0) + 999);
}

/** A file version as `stat` tells it: what must not have changed for a copy to be used. */
interface Version {
  dev: number;
  ino: number | null;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** One kept file. */
interface Kept {
  /** Where it was found: the named path with symlinks resolved. */
  real: string;
  version: Version;
  rep: Representation;
  body: Uint8Array<ArrayBuffer>;
  /** The whole-file 200 response: its status and fields, never its body. */
  whole: Response;
  /** Its status line and fields as bytes: what a plain GET writes before the body. */
  head: Uint8Array;
}

function versionOf(info: Deno.FileInfo): Version {
  return {
    dev: info.dev,
    ino: info.ino,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
    ctimeMs: info.ctime?.getTime() ?? 0,
  };
}

function sameVersion(info: Deno.FileInfo, v: Version): boolean {
  return info.isFile && info.ino === v.ino && info.dev === v.dev && info.size === v.size &&
    (info.mtime?.getTime() ?? 0) === v.mtimeMs && (info.ctime?.getTime() ?? 0) === v.ctimeMs;
}

/** Small files kept in memory, and the URL paths that led to them. */
export class FastPath {
  /** URL path (as requested, without the query) -> the path it names under the root. */
  readonly #paths = new Map<string, string>();
  /** Named path -> the version kept. */
  readonly #files = new Map<string, Kept>();
  #bytes = 0;
  readonly #cors: boolean;

  /**
   * An empty cache; `cors` adds the CORS fields to its answers.
   *
   * @example
   * ```ts
   * const fast = new FastPath(false);
   * fast.answer(new Request("http://x/a.txt"), "/a.txt"); // undefined: nothing kept yet
   * ```
   */
  constructor(cors: boolean) {
    this.#cors = cors;
  }

  /**
   * The answer from memory, if `pathname` led to a small file that is kept
   * and its path still names that very version; else `undefined`.
   *
   * @example
   * ```ts
   * const fast = new FastPath(false);
   * fast.answer(new Request("http://x/a.txt"), "/a.txt") ?? "take the main path";
   * ```
   */
  answer(req: Asked, pathname: string): Answer | undefined {
    const named = this.#paths.get(pathname);
    if (named === undefined) return undefined;
    const kept = this.#files.get(named);
    if (kept === undefined) return undefined;
    let info: Deno.FileInfo;
    try {
      // Through a symlink: the link must still lead where it did.
      if (named !== kept.real && Deno.realPathSync(named) !== kept.real) return undefined;
      info = Deno.lstatSync(kept.real);
    } catch {
      return undefined; // Gone: the main path says 404.
    }
    if (!sameVersion(info, kept.version)) return undefined;
    if (req.method === "GET" && !conditional(req.headers)) {
      const { whole, body, head } = kept;
      return { response: whole, length: body.length, body, head };
    }
    return fileAnswer(req, kept.rep, kept.body, this.#cors);
  }

  /**
   * Keeps `body`, read from a checked handle whose `stat` was `info`, for
   * requests of `pathname`, which led to `place`. `readStarted` is the time
   * (`Date.now()`) taken before that `stat`: a version read less than
   * {@linkcode RACY_MS} after its last change is not kept.
   *
   * @example
   * ```ts
   * import { Root } from "./confine.ts";
   * const root = new Root(".");
   * const place = root.resolve(["deno.json"])!;
   * const fast = new FastPath(false);
   * fast.remember("/deno.json", place, place.info, Deno.readFileSync(place.real), Date.now());
   * ```
   */
  remember(
    pathname: string,
    place: Place,
    info: Deno.FileInfo,
    body: Uint8Array<ArrayBuffer>,
    readStarted: number,
  ): void {
    if (readStarted - lastChange(info) < RACY_MS || body.length !== info.size) return;
    if (body.length > SMALL_FILE) return;
    const { named, real } = place;
    if (this.#paths.size >= MAX_FILES) this.#paths.delete(this.#paths.keys().next().value!);
    this.#paths.set(pathname, named);
    this.#forget(named);
    const rep = representation(real, info, readStarted);
    const fields = fileHeaders(rep, this.#cors);
    fields.push(["content-length", `${body.length}`]);
    const whole = new Response(null, { headers: fields });
    const head = headLines(200, fields);
    this.#files.set(named, { real, version: versionOf(info), rep, body, whole, head });
    this.#bytes += body.length;
    for (const key of this.#files.keys()) {
      if (this.#files.size <= MAX_FILES && this.#bytes <= MAX_BYTES) break;
      if (key !== named) this.#forget(key);
    }
  }

  #forget(named: string): void {
    const kept = this.#files.get(named);
    if (!kept) return;
    this.#bytes -= kept.body.length;
    this.#files.delete(named);
  }
}
