/**
 * Which file a requested name may open, and, once it is open, a check that
 * the file opened is that one. Read this first: it is what keeps every byte
 * outside the root from being sent.
 *
 * A name is checked as text (no absolute path, no `..`, no control
 * characters), then as the real path it resolves to (still inside the
 * root, a regular file). That is not enough on its own: the server then
 * opens the file by name, and the kernel follows symlinks while it does
 * (Deno's `--allow-read` checks the name, not where a link points), so a
 * user who can write inside the root could swap the file, or a folder on
 * its path, for a symlink to outside between the check and the open. So the
 * server opens first and then calls {@linkcode checkOpened}, which compares
 * the open handle's identity (device, inode, type) with what the path
 * names now, through folders that are real folders and did not change
 * while it looked. What that guarantees, and what it relies on, is in the
 * README ("What the server guarantees").
 *
 * @module
 */

import { isAbsolute, join, sep, win32 } from "node:path";
import { foldersTo, MAX_DEPTH, sameFile, steadyLook } from "../common/steady_path.ts";

/** A request the server refuses; the message is the reason sent to the client. */
export class Refusal extends Error {
  override name = "Refusal";
}

/**
 * Checks `name` and maps it to the real path of a regular file inside
 * `root` (which must be a real path itself), or throws a
 * {@linkcode Refusal}. A symlink that stays inside the root is followed.
 * Folders, FIFOs and devices are refused here, before anything is opened:
 * opening a FIFO would wait for a writer.
 *
 * @example
 * ```ts
 * const root = await Deno.realPath(".");
 * const path = await confine(root, "notes.txt");
 * using file = await Deno.open(path);
 * await checkOpened(root, path, await file.stat());
 * ```
 */
export async function confine(root: string, name: string): Promise<string> {
  if (name.length === 0) throw new Refusal("empty file name");
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new Refusal("control characters in file name");
  // "C:x" is relative to drive C's current folder on Windows: as bad as absolute there.
  const driveRelative = Deno.build.os === "windows" && /^[A-Za-z]:/.test(name);
  if (isAbsolute(name) || win32.isAbsolute(name) || driveRelative) {
    throw new Refusal("absolute paths are not served");
  }
  if (name.split(/[\\/]/).includes("..")) throw new Refusal("'..' is not allowed in file names");
  // Deeper than any file checkOpened passes: refused before anything is resolved.
  if (name.split(/[\\/]/).length > MAX_DEPTH + 1) {
    throw new Refusal(`more than ${MAX_DEPTH} folders in the name`);
  }
  let real: string;
  let info: Deno.FileInfo;
  try {
    real = await Deno.realPath(join(root, name));
    info = await Deno.lstat(real);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      throw new Refusal("no such file");
    }
    throw new Refusal("cannot open file");
  }
  if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new Refusal("no such file");
  }
  if (info.isDirectory) throw new Refusal("is a folder");
  if (!info.isFile) throw new Refusal("not a regular file");
  return real;
}

/**
 * Checks, after the open, that `opened` (the open handle's `stat()`) is the
 * regular file that `path` names now, through folders inside `root` that
 * did not move while the server looked (`steadyLook` in
 * `common/steady_path.ts`, which says why no swap can pass), or throws a
 * {@linkcode Refusal}.
 *
 * @example
 * ```ts
 * const root = await Deno.realPath(".");
 * const path = await confine(root, "notes.txt");
 * using file = await Deno.open(path);
 * await checkOpened(root, path, await file.stat());
 * ```
 */
export async function checkOpened(
  root: string,
  path: string,
  opened: Deno.FileInfo,
): Promise<void> {
  if (!opened.isFile) throw new Refusal("not a regular file");
  const folders = foldersTo(root, path);
  if (folders === undefined) throw new Refusal(`more than ${MAX_DEPTH} folders in the name`);
  const seen = await steadyLook(folders, () => Deno.lstatSync(path));
  if (seen === "busy") throw new Refusal("the folder is being changed; try again");
  if (seen === "moved" || !sameFile(seen.value, opened)) {
    throw new Refusal("the file changed while it was opened; try again");
  }
}
