/**
 * Path confinement: which file a URL path may name, and whether the file the
 * server opened (or the folder it listed) is that one. Everything "nothing
 * outside the served folder" rests on is in this module and in
 * `common/steady_path.ts`.
 *
 * A URL path is cut into segments, each decoded on its own (so `%2f` cannot
 * make a new one); `.`, `..`, a `/`, `\` or NUL inside a segment and (without
 * `--dotfiles`) names starting with a dot are refused. The segments are joined
 * under the root and resolved, symlinks followed: where they lead must be
 * inside the root and not hidden.
 *
 * That check is on names, and so is Deno's `--allow-read`. Between the check
 * and the open, anyone who can write in the folder can swap the file, or a
 * folder on its way, for a symlink to a secret. So the handler opens first,
 * then asks {@linkcode Root.check} whether what it opened (the handle's
 * `stat`) is the file the path names, through folders that did not move
 * while it looked (`steadyLook`): no swap of the file or of any folder on
 * the way can pass.
 *
 * @module
 */

import { join, sep } from "node:path";
import { foldersTo, MAX_DEPTH, sameFile, steadyLook } from "../common/steady_path.ts";

/** Why a URL path is refused before any file is looked at: 400 bad encoding, 404 the rest. */
export type Refusal = 400 | 404;

/**
 * The segments of a URL path (without its query), each percent-decoded, or
 * the status that refuses it.
 *
 * @example
 * ```ts
 * pathSegments("/docs/a%20b.txt", false); // ["docs", "a b.txt"]
 * pathSegments("/docs/%2e%2e/x", false); // 404
 * ```
 */
export function pathSegments(pathname: string, dotfiles: boolean): string[] | Refusal {
  const segments: string[] = [];
  for (const raw of pathname.split("/")) {
    if (raw === "") continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return 400;
    }
    if (segment === "." || segment === ".." || /[/\\\0]/.test(segment)) return 404;
    if (!dotfiles && segment.startsWith(".")) return 404;
    segments.push(segment);
  }
  // Deeper than any place that is checked (MAX_DEPTH folders, then a name): refused before a
  // single path is resolved, which would cost the server's thread the depth again and again.
  return segments.length > MAX_DEPTH + 1 ? 404 : segments;
}

/** Where a URL path led: a file or folder inside the root. */
export interface Place {
  /** The root joined with the URL's segments, symlinks not resolved: what the URL names. */
  named: string;
  /** The same with symlinks resolved: inside the root, no symlink on it. */
  real: string;
  /** What `lstat` said of `real` when it was resolved. */
  info: Deno.FileInfo;
}

/** The served folder, and the checks that keep every answer inside it. */
export class Root {
  /** The folder, symlinks resolved. */
  readonly path: string;
  readonly #prefix: string;
  readonly #dotfiles: boolean;

  /**
   * Takes the folder to serve; throws (e.g. `Deno.errors.NotFound`) if it cannot be resolved.
   *
   * @example
   * ```ts
   * const root = new Root(".", { dotfiles: false });
   * root.contains(root.path); // true
   * ```
   */
  constructor(dir: string, options: { dotfiles?: boolean } = {}) {
    this.path = Deno.realPathSync(dir);
    this.#prefix = this.path.endsWith(sep) ? this.path : this.path + sep;
    this.#dotfiles = options.dotfiles ?? false;
  }

  /**
   * Whether a resolved path is the root or inside it, and (without
   * `--dotfiles`) has no name starting with a dot below the root: a symlink
   * to a dotfile is a dotfile.
   *
   * @example
   * ```ts
   * new Root(".").contains("/etc/passwd"); // false
   * ```
   */
  contains(real: string): boolean {
    if (real === this.path) return true;
    if (!real.startsWith(this.#prefix)) return false;
    return this.#dotfiles ||
      !real.slice(this.#prefix.length).split(sep).some((name) => name.startsWith("."));
  }

  /**
   * Whether a name inside a folder is hidden: it starts with a dot, and the
   * root does not serve dotfiles.
   *
   * @example
   * ```ts
   * new Root(".").hides(".env"); // true
   * ```
   */
  hides(name: string): boolean {
    return !this.#dotfiles && name.startsWith(".");
  }

  /**
   * Where `segments` lead, symlinks followed; `undefined` when that is
   * outside the root, hidden or missing.
   *
   * @example
   * ```ts
   * const place = new Root(".").resolve(["README.md"]);
   * place?.info.isFile;
   * ```
   */
  resolve(segments: string[]): Place | undefined {
    const named = join(this.path, ...segments);
    let real: string;
    try {
      real = Deno.realPathSync(named);
    } catch {
      return undefined; // Missing, a dangling symlink, or not readable.
    }
    if (!this.contains(real)) return undefined;
    const info = lstat(real);
    return info && { named, real, info };
  }

  /**
   * Whether `opened`, the `stat` of a handle opened from `place.real`, is
   * the regular file that path names, reached from the root through folders
   * that did not move while the server looked: `"same"`; `"moved"` if it is
   * not (a swap, or a removal: answer 404); `"busy"` if a folder on the way
   * kept changing too fast to tell (answer 503).
   *
   * @example
   * ```ts
   * const root = new Root(".");
   * const place = root.resolve(["deno.json"]);
   * if (place) {
   *   using file = await Deno.open(place.real);
   *   await root.check(place, file.statSync()); // "same", unless it was swapped meanwhile
   * }
   * ```
   */
  async check(place: Place, opened: Deno.FileInfo): Promise<"same" | "moved" | "busy"> {
    const folders = foldersTo(this.path, place.real);
    if (folders === undefined || !opened.isFile) return "moved";
    const seen = await steadyLook(folders, () => lstat(place.real));
    if (typeof seen === "string") return seen;
    return seen.value !== undefined && sameFile(seen.value, opened) ? "same" : "moved";
  }

  /**
   * Runs `read` (which reads the folder `place.real` by name) while every
   * folder from the root down to that one stays put, so that what it read
   * is that folder and no other: its result, `"moved"` or `"busy"` as for
   * {@linkcode Root.check}.
   *
   * @example
   * ```ts
   * const root = new Root(".");
   * const place = root.resolve([])!;
   * await root.readFolder(place, () => [...Deno.readDirSync(place.real)].length);
   * ```
   */
  async readFolder<T>(place: Place, read: () => T | Promise<T>): Promise<T | "moved" | "busy"> {
    const folders = foldersTo(this.path, join(place.real, "x"));
    if (folders === undefined) return "moved";
    const seen = await steadyLook(folders, read);
    return typeof seen === "string" ? seen : seen.value;
  }
}

/** `lstat`, or `undefined` for a path that is gone or refused. */
function lstat(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}
