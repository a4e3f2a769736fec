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

/** A request the server refuses; the message is the reason sent to the client. */
export class Refusal extends Error {
  override name = "Refusal";
}

/** What makes two looks at a file the same file: its device and inode (file index on Windows). */
export type Identity = Pick<Deno.FileInfo, "dev" | "ino">;

/**
 * Whether two `stat` results describe the same file (not just equal ones).
 *
 * @example
 * ```ts
 * using file = await Deno.open("notes.txt");
 * sameFile(await file.stat(), await Deno.lstat("notes.txt")); // true unless it was swapped
 * ```
 */
export function sameFile(a: Identity, b: Identity): boolean {
  return a.ino !== null && a.dev === b.dev && a.ino === b.ino;
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
 * How long after a change a time stamp is trusted to tell that change from
 * the next one: more than a tick of the clock the OS stamps files and
 * folders with (at most about 16 ms on Linux, macOS and Windows).
 */
export const RACY_MS = 50;

/**
 * The same for a file system that counts in whole seconds (FAT counts in
 * 2 s steps), told by a time stamp on a whole second.
 */
export const COARSE_RACY_MS = 2000;

/**
 * How many more milliseconds a change stamped `changed` must be left alone
 * before its time stamp tells it from any later change: 0 once it is.
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

/** How many times {@linkcode checkOpened} waits for a folder that is being changed. */
const MAX_WAITS = 4;

/**
 * Checks, after the open, that `opened` (the open handle's `stat()`) is the
 * regular file that `path` names now, through real folders inside `root`,
 * or throws a {@linkcode Refusal}.
 *
 * How: each folder on the way is looked at (`lstat`), then the file, then
 * the folders again. The file must be the one opened; each folder must be
 * a folder, the same one both times; and no folder whose entry leads
 * onward (the root, and each folder but the file's own) may have changed
 * during the looks. A folder swapped for a symlink and back in between
 * would have changed: a rename stamps the folder holding the entry with a
 * new change time, which no program can set back. That is only a new stamp
 * if the last change was more than a clock tick earlier, so while such a
 * folder has changed within the last {@linkcode RACY_MS}, this waits for it
 * to be left alone (a few times at most) and looks again.
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
  // The root, each folder below it on the way, and last the file's own folder.
  const parts = path.slice(root.length).split(sep).filter(Boolean).slice(0, -1);
  const folders = [root, ...parts.map((_, i) => join(root, ...parts.slice(0, i + 1)))];
  for (let waits = 0;; waits++) {
    const wait = lookTwice(folders, path, opened);
    if (wait === 0) return;
    if (waits === MAX_WAITS) throw new Refusal("the folder is being changed; try again");
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * Looks at the folders, the file, and the folders again, with nothing run
 * in between. Returns 0 if the file opened is the one `path` names, through
 * folders that did not change; else how long to wait before looking again.
 * Throws a {@linkcode Refusal} if the file is not (or no longer) there.
 */
function lookTwice(folders: string[], path: string, opened: Deno.FileInfo): number {
  const changedMessage = "the file changed while it was opened; try again";
  const now = Date.now();
  let before: Deno.FileInfo[], file: Deno.FileInfo, after: Deno.FileInfo[];
  try {
    before = folders.map((folder) => Deno.lstatSync(folder));
    file = Deno.lstatSync(path);
    after = folders.map((folder) => Deno.lstatSync(folder));
  } catch {
    throw new Refusal(changedMessage); // Gone.
  }
  if (!file.isFile || !sameFile(file, opened)) throw new Refusal(changedMessage);
  let wait = 0;
  for (const [i, b] of before.entries()) {
    const a = after[i];
    if (!b.isDirectory || !a.isDirectory || !sameFile(b, a)) return RACY_MS; // Being swapped.
    // The file's own folder may gain and lose other entries meanwhile.
    if (i === folders.length - 1) continue;
    const changed = b.ctime?.getTime();
    // Changed during the looks, or an OS that gives no change time: nothing to trust.
    if (changed === undefined || changed !== a.ctime?.getTime()) return RACY_MS;
    wait = Math.max(wait, racyFor(changed, now));
  }
  return wait;
}
