/**
 * Path confinement: which file a URL path may name, and whether the file the
 * server opened is still that one. Everything "nothing outside the served
 * folder" rests on is in this module.
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
 * then asks {@linkcode Root.holds} whether what it opened (the handle's
 * `stat`) is the file the path names now (`lstat`), reached through plain
 * folders only. What stays open to a race is said in the README's security
 * section.
 *
 * @module
 */

import { join, sep } from "node:path";

/** How many times {@linkcode Root.holds} looks at a file below a folder and at its folders. */
const CHECK_ROUNDS = 8;

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
  return segments;
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

/**
 * Whether two `stat` results are of one file: same device, inode and type.
 *
 * @example
 * ```ts
 * sameFile(Deno.statSync("."), Deno.lstatSync(Deno.realPathSync("."))); // true
 * ```
 */
export function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.isFile === b.isFile &&
    a.isDirectory === b.isDirectory && a.isSymlink === b.isSymlink;
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
    const info = this.lstat(real);
    return info && { named, real, info };
  }

  /**
   * Whether `opened`, the `stat` of what was opened from `place.real` (or of
   * a folder just listed), is the file the place was resolved to and still
   * the one its path names, reached from the root through plain folders.
   *
   * @example
   * ```ts
   * const root = new Root(".");
   * const place = root.resolve(["deno.json"]);
   * if (place) {
   *   using file = await Deno.open(place.real);
   *   root.holds(place, file.statSync()); // true, unless it was swapped meanwhile
   * }
   * ```
   */
  holds(place: Place, opened: Deno.FileInfo): boolean {
    if (!sameFile(opened, place.info)) return false;
    const now = this.lstat(place.real, CHECK_ROUNDS);
    return now !== undefined && sameFile(now, opened);
  }

  /**
   * `lstat` of `real` (a resolved path inside the root) if every folder
   * between the root and it is a plain folder, not a symlink, before and
   * after; else `undefined`. With `rounds` above 1, the file and the folders
   * are looked at again that many times and must not change.
   *
   * A folder swapped for a symlink and back between two of these system
   * calls is not seen: Deno resolves every path by name and has no `openat`
   * to pin a folder. Each round is one more swap the attacker must time
   * exactly (the README gives the measured odds).
   *
   * @example
   * ```ts
   * const root = new Root(".");
   * root.lstat(root.path + "/deno.json")?.isFile;
   * ```
   */
  lstat(real: string, rounds = 1): Deno.FileInfo | undefined {
    try {
      if (!this.#plainFolders(real)) return undefined;
      const info = Deno.lstatSync(real);
      if (!this.#plainFolders(real)) return undefined;
      // A file right in the root has no folder to swap: one look is exact.
      if (real.lastIndexOf(sep) < this.#prefix.length) return info;
      for (let round = 1; round < rounds; round++) {
        if (!sameFile(Deno.lstatSync(real), info) || !this.#plainFolders(real)) return undefined;
      }
      return info;
    } catch {
      return undefined; // Removed or renamed meanwhile.
    }
  }

  /** Whether every folder between the root and `real` is a folder, not a symlink, right now. */
  #plainFolders(real: string): boolean {
    for (let i = real.indexOf(sep, this.#prefix.length); i > 0; i = real.indexOf(sep, i + 1)) {
      if (!Deno.lstatSync(real.slice(0, i)).isDirectory) return false;
    }
    return true;
  }
}
