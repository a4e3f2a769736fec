/**
 * Which file a requested name may open: {@linkcode openConfined}. Read this first: it is what
 * keeps every byte outside the root from being sent.
 *
 * A name is checked as text (no absolute path, no `..`, no control characters), then as the real
 * path it resolves to (still inside the root, a regular file). That is not enough on its own: the
 * server then opens the file by name, and the kernel follows symlinks while it does (Deno's
 * `--allow-read` checks the name, not where a link points), so a user who can write inside the
 * root could swap the file, or a folder on its path, for a symlink to outside between the check
 * and the open. So the server opens first and then checks what it opened: the open handle's
 * identity (device, inode, type) must be what the path names now, through folders that are real
 * folders and did not change while it looked (`steadyLook` in `common/steady_path.ts`, which
 * says why no swap can pass). What that guarantees, and what it relies on, is in the README
 * ("What the server guarantees").
 *
 * @module
 */

import { join, sep, win32 } from "node:path";
import { foldersTo, MAX_DEPTH, sameFile, steadyLook } from "../common/steady_path.ts";

const CHANGED = "the file changed while it was opened; try again";

/** A file the server opened, with its real path and its `stat()`. */
export type Opened = { path: string; file: Deno.FsFile; info: Deno.FileInfo };

/**
 * A request the server refuses; the message is the reason sent to the client.
 *
 * @example
 * ```ts
 * const refusal = new Refusal("no such file"); // sent as "ERROR no such file"
 * ```
 */
export class Refusal extends Error {}

/**
 * Opens the regular file `name` names inside `root` (a real path), and returns it with its real
 * path and its `stat()`; or throws a {@linkcode Refusal}, which the client gets as `ERROR`. A
 * symlink that stays inside the root is followed. Folders, FIFOs and devices are refused before
 * anything is opened: opening a FIFO would wait for a writer.
 *
 * @example
 * ```ts
 * const { file, info } = await openConfined(await Deno.realPath("."), "notes.txt");
 * console.log(info.size);
 * file.close();
 * ```
 */
export async function openConfined(root: string, name: string): Promise<Opened> {
  if (name.length === 0) throw new Refusal("empty file name");
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new Refusal("control characters in file name");
  // "C:x" is relative to drive C's current folder on Windows: as bad as absolute there. (win32's
  // absolute paths include POSIX's.)
  const driveRelative = Deno.build.os === "windows" && /^[A-Za-z]:/.test(name);
  if (win32.isAbsolute(name) || driveRelative) throw new Refusal("absolute paths are not served");
  const parts = name.split(/[\\/]/);
  if (parts.includes("..")) throw new Refusal("'..' is not allowed in file names");
  // Deeper than any file the check after the open passes: refused before anything is resolved.
  if (parts.length > MAX_DEPTH + 1) throw new Refusal(`more than ${MAX_DEPTH} folders in the name`);
  const path = await Deno.realPath(join(root, name)).catch(refuse);
  const found = await Deno.lstat(path).catch(refuse);
  const inside = path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
  if (!inside) throw new Refusal("no such file");
  if (found.isDirectory) throw new Refusal("is a folder");
  if (!found.isFile) throw new Refusal("not a regular file");
  const folders = foldersTo(root, path);
  if (folders === undefined) throw new Refusal(`more than ${MAX_DEPTH} folders in the name`);

  const file = await Deno.open(path).catch(refuse);
  // Every failure from here is a refusal too: a folder swapped for a symlink out can make the
  // open land outside the root, and Deno then refuses the handle's stat() (`NotCapable`) when
  // the server may read its root only.
  try {
    const info = await file.stat();
    if (!info.isFile) throw new Refusal("not a regular file");
    const seen = await steadyLook(folders, () => Deno.lstatSync(path));
    if (seen === "busy") throw new Refusal("the folder is being changed; try again");
    if (seen === "moved" || !sameFile(seen.value, info)) throw new Refusal(CHANGED);
    return { path, file, info };
  } catch (error) {
    file.close();
    throw error instanceof Refusal ? error : new Refusal(CHANGED);
  }
}

/** For a `.catch()` on a look at the requested name, or its open: the refusal that says why. */
function refuse(error: unknown): never {
  const { NotFound, NotADirectory } = Deno.errors;
  const missing = error instanceof NotFound || error instanceof NotADirectory;
  throw new Refusal(missing ? "no such file" : "cannot open file");
}
