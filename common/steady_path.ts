/**
 * Whether a path inside a served folder led to the same place all along while a server opened or
 * listed what it names. Read this to trust that lab3's and the HTTP server's answers never come
 * from outside their folder.
 *
 * A server checks a path by name, then opens it by name; anyone who can write inside the folder
 * can swap a folder on the way for a symlink to elsewhere, and back, in between (`renameat2`
 * with `RENAME_EXCHANGE` does it atomically, 170,000 times a second). The kernel could say where
 * an open file really is (`/proc/self/fd`, `openat`), but Deno has no `openat` and its
 * permission layer refuses `/proc/self/fd` without `--allow-all`. What a server can see is
 * whether anything on the way changed: a rename, link or unlink in a folder stamps that folder
 * with a new change time (`ctime`), which no program can set back. So the server looks at each
 * folder from the root down (`lstat`), does its open or read, and looks again: if every folder
 * is the same folder both times, and none whose entry leads further on changed in between, then
 * the path led to the same place throughout. A stamp is only new if the last one is older than
 * a tick of the clock that stamps files (Deno gives `ctime` in whole seconds), so while such a
 * folder changed recently, the look waits until it was left alone long enough and looks again
 * ("racily clean", git's rule for its index). What this trusts: that the served folder's own
 * path (above the root) does not change, and the clock that stamps files.
 *
 * @module
 */

import { join, sep } from "node:path";

/**
 * How long after a change a time stamp is trusted to tell that change from the next one: more
 * than a tick of the clock the OS stamps files and folders with (at most about 16 ms on Linux,
 * macOS and Windows).
 */
export const RACY_MS = 50;

/**
 * The same for a stamp on a whole second: Deno gives the change time in whole seconds, and FAT
 * counts in 2 s steps.
 */
export const COARSE_RACY_MS = 2000;

/**
 * The most folders below the root a checked path may have. Deno's permission layer resolves each
 * path it is given one component at a time, so each look costs the depth again, and a look at
 * every folder costs its square: 64 folders is about 8,000 resolved components per check, 1,900
 * (a path an attacker may build) was 7 s of the server's one thread.
 */
export const MAX_DEPTH = 64;

/** How many times a look waits for a folder that is being changed before it gives up. */
const MAX_WAITS = 3;

/**
 * Whether two `stat` results describe the same file (not just equal ones): same device, inode and
 * type.
 *
 * @example
 * ```ts
 * sameFile(Deno.statSync("."), Deno.lstatSync(Deno.realPathSync("."))); // true
 * ```
 */
export function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.ino !== null && a.dev === b.dev && a.ino === b.ino && a.isFile === b.isFile &&
    a.isDirectory === b.isDirectory && a.isSymlink === b.isSymlink;
}

/**
 * How many more milliseconds a change stamped `changed` must be left alone before its time stamp
 * tells it from any later change: 0 once it does.
 *
 * @example
 * ```ts
 * racyFor(Date.now() - 10); // about 40: a later change may get the same stamp
 * racyFor(Date.now() - 60_000); // 0
 * ```
 */
export function racyFor(changed: number, now: number = Date.now()): number {
  const window = changed % 1000 === 0 ? COARSE_RACY_MS : RACY_MS;
  return Math.max(0, changed + window - now);
}

/**
 * The folders a look at `real` (a real path inside `root`, which is a real path too) goes
 * through: the root, then each folder below it, down to the one holding `real`'s last
 * component; `undefined` if there are more than {@linkcode MAX_DEPTH}.
 *
 * @example
 * ```ts
 * foldersTo("/srv", "/srv/a/b/c.txt"); // ["/srv", "/srv/a", "/srv/a/b"]
 * foldersTo("/srv", "/srv/c.txt"); // ["/srv"]
 * ```
 */
export function foldersTo(root: string, real: string): string[] | undefined {
  const names = real.slice(root.length).split(sep).filter(Boolean).slice(0, -1);
  if (names.length > MAX_DEPTH) return undefined;
  const folders = [root];
  for (const name of names) folders.push(join(folders[folders.length - 1], name));
  return folders;
}

/** How a {@linkcode steadyLook} ended. */
export type Steady<T> =
  /** The path led to the same place throughout `look`: its result stands. */
  | { value: T }
  /** A folder on the way is not a folder, or not the same one both times: a swap, or a removal. */
  | "moved"
  /** A folder on the way kept changing: nothing can be told now; ask again later. */
  | "busy";

/**
 * Runs `look` (an open, a `stat`, a folder read) between two looks at `folders` (from
 * {@linkcode foldersTo}, or the root down to a folder that is read). `look`'s result stands if
 * every folder was a folder, the same one both times, and none but the last changed in between:
 * then every name on the way led to the same place throughout, and whatever `look` reached by
 * name, it reached inside the root. (The last folder's own entries may change: `look` checks
 * what it finds there itself, by `lstat`, which follows no symlink.) While a folder changed too
 * recently to tell, this waits and runs `look` again, a few times at most.
 *
 * @example
 * ```ts
 * const root = Deno.realPathSync(".");
 * const path = root + "/deno.json";
 * using file = Deno.openSync(path);
 * const opened = file.statSync();
 * const seen = await steadyLook(foldersTo(root, path)!, () => Deno.lstatSync(path));
 * const same = typeof seen === "object" && seen.value.ino === opened.ino; // true
 * ```
 */
export async function steadyLook<T>(
  folders: string[],
  look: () => T | Promise<T>,
): Promise<Steady<T>> {
  for (let waits = 0;; waits++) {
    const now = Date.now();
    const before = lookAt(folders);
    if (before === undefined) return "moved";
    const value = await look();
    const after = lookAt(folders);
    if (after === undefined) return "moved";
    let wait = 0;
    for (const [i, b] of before.entries()) {
      const a = after[i];
      if (!a.isDirectory || !sameFile(b, a)) return "moved";
      if (i === folders.length - 1) continue; // Its entries are `look`'s to check.
      const changed = b.ctime?.getTime();
      // Changed during the looks, or an OS that gives no change time: nothing to trust yet.
      if (changed === undefined || changed !== a.ctime?.getTime()) wait = Math.max(wait, RACY_MS);
      else wait = Math.max(wait, racyFor(changed, now));
    }
    if (wait === 0) return { value };
    if (waits === MAX_WAITS) return "busy";
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** `lstat` of each folder, in order; `undefined` if one is gone or not a folder. */
function lookAt(folders: string[]): Deno.FileInfo[] | undefined {
  const infos: Deno.FileInfo[] = [];
  try {
    for (const folder of folders) {
      const info = Deno.lstatSync(folder);
      if (!info.isDirectory) return undefined;
      infos.push(info);
    }
  } catch {
    return undefined; // Removed, renamed, or refused by the permission layer (a symlink out).
  }
  return infos;
}
