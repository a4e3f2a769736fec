/**
 * The file-serving handler of the static HTTP server. For each request:
 * confine the path (`confine.ts`), open the file, check what was opened,
 * build the response (`responses.ts`). A folder gets its `index.html` or a
 * listing (`listing.ts`). Small files asked for again come from memory
 * (`fast_path.ts`), which changes how fast, never what, the server answers.
 *
 * @module
 */

import { pathSegments, type Place, Root } from "./confine.ts";
import { FastPath, SMALL_FILE } from "./fast_path.ts";
import { folderEntries, renderListing } from "./listing.ts";
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
 * Answers a GET or HEAD for `target`, the request target in origin form
 * (path and query). May return a promise.
 */
export type StaticHandler = (req: Asked, target: string) => Answer | Promise<Answer>;

/**
 * Builds the handler. Throws if the folder cannot be resolved (e.g.
 * `Deno.errors.NotFound`).
 *
 * @example
 * ```ts
 * const handle = staticHandler({ root: "." });
 * const answer = await handle({ method: "GET", headers: new Headers() }, "/deno.json");
 * answer.file?.cancel(); // a large file is sent by the server, or closed unsent
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
    let streamed = false;
    try {
      // 3. Check what was opened: the file the path names, through folders that stayed put.
      const opened = file.statSync();
      const check = await root.check(place, opened);
      if (check === "busy") return busy();
      if (check === "moved") return notFound();

      // 4. Build the response: a small file read whole, a large one streamed.
      const rep = representation(place.real, opened, Date.now());
      if (opened.size > SMALL_FILE) {
        const answer = fileAnswer(req, rep, file, cors);
        streamed = answer.file !== undefined;
        return answer;
      }
      const body = readWhole(file, opened.size);
      if (body === undefined) {
        // Truncated while being read: being written, most likely. Ask again in a moment.
        return errorAnswer(503, cors, [["retry-after", "1"]]);
      }
      fast.remember(pathname, place, opened, body, readStarted);
      return fileAnswer(req, rep, body, cors);
    } catch {
      return notFound(); // The handle refused by Deno's permission layer (a swap), or unreadable.
    } finally {
      if (!streamed) file.close();
    }
  }

  async function listFolder(place: Place, segments: string[]): Promise<Answer> {
    // The folder listed must be the one confined to: no folder on the way moved meanwhile.
    const listing = await root.readFolder(place, () => folderEntries(root, place.real));
    if (listing === "busy") return busy();
    if (listing === "moved") return notFound();
    const urlPath = "/" + segments.map((s) => s + "/").join("");
    return htmlAnswer(await renderListing(urlPath, listing), cors);
  }

  return (req, target) => {
    if (req.method === "OPTIONS" && cors) return preflightAnswer();
    if (req.method !== "GET" && req.method !== "HEAD") {
      return errorAnswer(405, cors, [["allow", cors ? "GET, HEAD, OPTIONS" : "GET, HEAD"]]);
    }
    const query = target.indexOf("?");
    const pathname = query < 0 ? target : target.slice(0, query);
    return fast.answer(req, pathname) ??
      serve(req, pathname, query < 0 ? "" : target.slice(query));
  };
}

/** Reads `size` bytes from the start of `file`; `undefined` if it ends sooner. */
function readWhole(file: Deno.FsFile, size: number): Uint8Array<ArrayBuffer> | undefined {
  const body = new Uint8Array(size);
  for (let got = 0; got < size;) {
    const n = file.readSync(body.subarray(got));
    if (n === null || n === 0) return undefined;
    got += n;
  }
  return body;
}
