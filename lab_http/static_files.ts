/**
 * The file-serving handler of the static HTTP server. For each request: confine the path
 * (`confine.ts`), open the file, check what was opened, build the answer (`responses.ts`). A folder
 * gets its `index.html`, or a listing. Small files asked for again come from memory
 * (`fast_path.ts`), which changes how fast, never what, the server answers.
 *
 * @module
 */

import { join } from "node:path";
import { pathSegments, type Place, Root } from "./confine.ts";
import { FastPath, SMALL_FILE } from "./fast_path.ts";
import {
  type Answer,
  type Asked,
  errorAnswer,
  fileAnswer,
  htmlAnswer,
  preflightAnswer,
  redirectAnswer,
  representation,
} from "./responses.ts";

/** Options for {@linkcode staticHandler}. */
export interface StaticOptions {
  /** The served folder; made canonical (symlinks resolved) by the handler. */
  root: string;
  /** Add `Access-Control-Allow-Origin: *`. */
  cors?: boolean;
  /** Serve and list names starting with a dot. */
  dotfiles?: boolean;
  /** List folders without an index.html (default true). */
  listing?: boolean;
}

/**
 * Answers a request for `target`, the request target in origin form (path and query). May
 * return a promise.
 */
export type StaticHandler = (req: Asked, target: string) => Answer | Promise<Answer>;

/**
 * Builds the handler. Throws if the folder cannot be resolved (e.g. `Deno.errors.NotFound`).
 *
 * @example
 * ```ts
 * const handle = staticHandler({ root: "." });
 * const answer = await handle({ method: "GET", headers: new Map() }, "/deno.json");
 * answer.file?.close(); // a large file is sent by the server, or closed unsent
 * ```
 */
export function staticHandler(options: StaticOptions): StaticHandler {
  const dotfiles = options.dotfiles ?? false;
  const cors = options.cors ?? false;
  const root = new Root(options.root, { dotfiles });
  const fast = new FastPath(cors);
  const notFound = () => errorAnswer(404, cors);
  // A folder on the way kept changing: nothing could be checked.
  const busy = () => errorAnswer(503, cors, [["retry-after", "2"]]);

  async function serve(req: Asked, pathname: string, search: string): Promise<Answer> {
    // 1. Confine the path: URL segments to a place inside the root.
    const segments = pathSegments(pathname, dotfiles);
    if (segments === 400) return errorAnswer(400, cors);
    if (segments === 404) return notFound();
    let place = root.resolve(segments);
    if (place?.info.isDirectory) {
      if (!pathname.endsWith("/")) return redirectAnswer(pathname, search, cors);
      const index = root.resolve([...segments, "index.html"]);
      if (!index?.info.isFile) {
        return options.listing === false ? notFound() : listFolder(place, segments);
      }
      place = index;
    } else if (pathname.endsWith("/")) {
      // A file has no "folder" form: served, its relative links would resolve wrongly.
      return notFound();
    }
    // FIFOs, sockets and devices are never opened (opening a FIFO waits for a writer).
    if (!place?.info.isFile) return notFound();

    // 2. Open the file: what is opened is what the path names at this instant.
    const readStarted = Date.now();
    let file: Deno.FsFile;
    try {
      file = await Deno.open(place.real, { read: true });
    } catch {
      return notFound(); // Removed meanwhile, not readable, or a link out refused by Deno.
    }
    let answer: Answer | undefined;
    try {
      // 3. Check what was opened: the file the path names, through folders that stayed put.
      const opened = file.statSync();
      const check = await root.check(place, opened);
      if (check === "busy") return busy();
      if (check === "moved") return notFound();

      // 4. Build the answer: a small file read whole, a large one sent from the file.
      const rep = representation(place.real, opened, Date.now());
      if (opened.size > SMALL_FILE) {
        answer = fileAnswer(req, rep, file, cors);
        return answer;
      }
      const body = readWhole(file, opened.size);
      // Truncated while being read: being written, most likely. Ask again in a moment.
      if (body === undefined) return errorAnswer(503, cors, [["retry-after", "1"]]);
      fast.remember(pathname, place, opened, body, readStarted);
      return fileAnswer(req, rep, body, cors);
    } catch {
      return notFound(); // The handle refused by Deno's permission layer (a swap), or unreadable.
    } finally {
      // Unless the answer sends from it (the server closes it then).
      if (answer?.file === undefined) file.close();
    }
  }

  async function listFolder(place: Place, segments: string[]): Promise<Answer> {
    // The folder listed must be the one confined to: no folder on the way moved meanwhile.
    const urlPath = "/" + segments.map((s) => s + "/").join("");
    const page = await root.readFolder(place, () => listing(root, place.real, urlPath));
    if (page === "busy") return busy();
    if (page === "moved") return notFound();
    return htmlAnswer(page, cors);
  }

  return (req, target) => {
    if (req.method === "OPTIONS" && cors) return preflightAnswer();
    if (req.method !== "GET" && req.method !== "HEAD") {
      return errorAnswer(405, cors, [["allow", cors ? "GET, HEAD, OPTIONS" : "GET, HEAD"]]);
    }
    const query = target.indexOf("?");
    const pathname = query < 0 ? target : target.slice(0, query);
    return fast.answer(req, pathname) ?? serve(req, pathname, query < 0 ? "" : target.slice(query));
  };
}

/** Reads `size` bytes from the start of `file`; `undefined` if it ends sooner. */
function readWhole(file: Deno.FsFile, size: number): Uint8Array | undefined {
  const body = new Uint8Array(size);
  for (let got = 0; got < size;) {
    const n = file.readSync(body.subarray(got));
    if (n === null || n === 0) return undefined;
    got += n;
  }
  return body;
}

/** The most entries a listing shows: a larger folder shows the first ones and how many more. */
export const MAX_LISTED = 10_000;
/**
 * Entries looked at and rendered between two turns of the event loop. A listing is built in
 * pieces: a folder of 30,000 files took 0.6 s of the server's one thread in one piece, and four
 * clients reading it pushed a 6-byte file's median to 2.9 s. Now the longest piece is the sort
 * of the names (about 50 ms for 30,000).
 */
const PIECE = 500;

/**
 * The listing page of `dir` (a folder inside `root`, shown as `urlPath`): valid HTML5, folders
 * first, then names as a person sorts them (letter case ignored, `file2` before `file10`), names
 * escaped and links percent-encoded; the first {@linkcode MAX_LISTED} entries. Hidden names are
 * left out, and a symlink unless it leads to a place the server would serve; each entry is
 * `lstat`ed, so one swapped for a link after the folder was read shows nothing of its target.
 *
 * @example
 * ```ts
 * import { Root } from "./confine.ts";
 * const root = new Root(".");
 * (await listing(root, root.path, "/")).startsWith("<!DOCTYPE html>"); // true
 * ```
 */
export async function listing(root: Root, dir: string, urlPath: string): Promise<string> {
  // One key to sort by: folders first, then the name lower-cased with its numbers padded (a tenth
  // of the cost of `Intl.Collator`, which took 180-260 ms for 30,000 names), then the name.
  const names: { name: string; key: string }[] = [];
  // Read on one of the runtime's threads, not this one.
  for await (const { name, isDirectory } of Deno.readDir(dir)) {
    if (root.hides(name)) continue;
    const natural = name.toLowerCase().replace(/\d+/g, (digits) => digits.padStart(20, "0"));
    names.push({ name, key: `${isDirectory ? 0 : 1}${natural}\0${name}` });
  }
  names.sort((a, b) => a.key < b.key ? -1 : 1);
  const rows = urlPath === "/"
    ? []
    : [`<tr><td><a href="../">../</a></td><td>-</td><td>-</td></tr>`];
  for (const [i, { name }] of names.slice(0, MAX_LISTED).entries()) {
    // Lets the other connections run between pieces.
    if (i > 0 && i % PIECE === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    const info = entryInfo(root, join(dir, name));
    if (info === undefined) continue;
    const slash = info.isDirectory ? "/" : "";
    const size = info.isDirectory ? "-" : formatSize(info.size);
    const time = info.mtime?.toISOString().replace("T", " ").slice(0, 16) ?? "-";
    rows.push(
      `<tr><td><a href="${encodeURIComponent(name)}${slash}">${escapeHtml(name)}${slash}</a></td>` +
        `<td>${size}</td><td>${time}</td></tr>`,
    );
  }
  const title = `Index of ${escapeHtml(urlPath)}`;
  const more = names.length - MAX_LISTED;
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>${title}</title>\n` +
    `<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.2em 1.5em .2em 0}` +
    `th{text-align:left}</style>\n</head>\n<body>\n<h1>${title}</h1>\n<table>\n` +
    `<thead><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr></thead>\n<tbody>\n` +
    `${rows.join("\n")}\n</tbody>\n</table>\n` +
    (more > 0
      ? `<p>${more} more entries not shown: a listing shows the first ${MAX_LISTED}.</p>\n`
      : "") +
    `</body>\n</html>\n`;
}

/** What a listing says of one entry, or `undefined` if it shows none of it. */
function entryInfo(root: Root, path: string): Deno.FileInfo | undefined {
  try {
    let info = Deno.lstatSync(path);
    if (info.isSymlink) {
      const real = Deno.realPathSync(path);
      if (!root.contains(real)) return undefined;
      info = Deno.lstatSync(real);
    }
    return info.isFile || info.isDirectory ? info : undefined; // No FIFOs, sockets, devices.
  } catch {
    return undefined; // A dangling symlink, or an entry removed meanwhile.
  }
}

/** Escapes text for HTML content and attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `6 B`, `1.5 KiB`, `3.0 MiB`. */
function formatSize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}
