/**
 * The file-serving handler of the static HTTP server: it maps a URL path to
 * a file or folder under the root, safely, and answers with caching headers,
 * conditional requests and byte ranges.
 *
 * @module
 */

import { join, sep } from "node:path";
import { contentType } from "./mime.ts";
import { type ListingEntry, renderListing } from "./listing.ts";

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

/** Files up to this size are kept in memory, checked against their stat each time. */
const SMALL_FILE = 128 * 1024;
const CACHE_BYTES = 64 * 1024 * 1024;
const encoder = new TextEncoder();

/** A URL path already checked to lead to a file inside the root. */
interface Resolved {
  /** The root joined with the decoded segments (symlinks not resolved). */
  candidate: string;
  /** Where it led, symlinks resolved (inside the root, not hidden). */
  real: string;
  /**
   * When no symlink was on the way (`candidate === real`): the folders
   * between the root and the file, to check they are still plain folders.
   */
  folders?: string[];
}

const MAX_RESOLVED = 4096;

/** The path part of an absolute request URL, without the query. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

/** One file version's response headers, and its body if small. */
interface Cached {
  /** The version: compared as numbers, so a hit builds no string. */
  ino: number;
  size: number;
  mtimeMs: number;
  etag: string;
  lastModified: string;
  type: string;
  body?: Uint8Array<ArrayBuffer>;
  /**
   * The whole-file 200 response of a small file, never sent itself: each
   * request gets a clone, which copies the header list without checking
   * every header again (the largest cost of a new Response here).
   */
  whole?: Response;
}

const MAX_CACHED = 4096;

/**
 * Builds the request handler.
 *
 * @example
 * ```ts
 * const handler = staticHandler({ root: "." });
 * Deno.serve({ port: 8080 }, handler);
 * ```
 */
export function staticHandler(
  options: StaticOptions,
): (req: Request) => Response | Promise<Response> {
  const root = Deno.realPathSync(options.root);
  const rootPrefix = root.endsWith(sep) ? root : root + sep;
  const listing = options.listing ?? true;
  const cache = new Map<string, Cached>();
  let cacheBytes = 0;
  const resolved = new Map<string, Resolved>();

  const baseHeaders = (): Headers => {
    const h = new Headers({ "x-content-type-options": "nosniff" });
    if (options.cors) h.set("access-control-allow-origin", "*");
    return h;
  };

  const error = (status: number, text: string, extra: Record<string, string> = {}): Response => {
    const h = baseHeaders();
    h.set("content-type", "text/html; charset=utf-8");
    for (const [k, v] of Object.entries(extra)) h.set(k, v);
    const body = encoder.encode(
      `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${status} ${text}</title></head>` +
        `<body><h1>${status} ${text}</h1></body></html>\n`,
    );
    h.set("content-length", `${body.length}`);
    return new Response(body, { status, headers: h });
  };

  const hidden = (segment: string) => !options.dotfiles && segment.startsWith(".");

  /** Inside the root, and (a symlink to a dotfile is a dotfile) not hidden. */
  const servable = (real: string): boolean =>
    real === root ||
    (real.startsWith(rootPrefix) && !real.slice(rootPrefix.length).split(sep).some(hidden));

  /** What a file version's responses share, computed once per version (toUTCString alone cost a fifth of the rate). */
  const describe = (path: string, info: Deno.FileInfo): Cached => {
    const mtime = info.mtime ?? new Date(0);
    const ino = info.ino ?? 0;
    const mtimeMs = mtime.getTime();
    const hit = cache.get(path);
    if (hit && hit.ino === ino && hit.size === info.size && hit.mtimeMs === mtimeMs) return hit;
    if (hit) forget(path);
    const entry: Cached = {
      ino,
      size: info.size,
      mtimeMs,
      etag: `"${ino.toString(16)}-${info.size.toString(16)}-${mtimeMs.toString(16)}"`,
      lastModified: mtime.toUTCString(),
      type: contentType(path),
    };
    cache.set(path, entry);
    while (cache.size > MAX_CACHED) forget(cache.keys().next().value!);
    return entry;
  };

  const forget = (path: string) => {
    cacheBytes -= cache.get(path)?.body?.length ?? 0;
    cache.delete(path);
  };

  const readSmall = (path: string, entry: Cached): Uint8Array<ArrayBuffer> => {
    if (entry.body) return entry.body;
    entry.body = Deno.readFileSync(path);
    cacheBytes += entry.body.length;
    for (const key of cache.keys()) {
      if (cacheBytes <= CACHE_BYTES) break;
      if (key !== path) forget(key);
    }
    return entry.body;
  };

  // Not async: a small file is answered without a promise, which shows in the request rate.
  const serveFile = (
    req: Request,
    path: string,
    info: Deno.FileInfo,
  ): Response | Promise<Response> => {
    const meta = describe(path, info);
    // The common case, a plain GET of a small file seen before: nothing to
    // compare or build.
    if (meta.whole && req.method === "GET" && !conditional(req.headers)) return meta.whole.clone();
    const size = info.size;
    const { etag, lastModified } = meta;
    // A plain list of pairs: cheaper than filling a Headers object on the hot path.
    const h: [string, string][] = [
      ["content-type", meta.type],
      ["last-modified", lastModified],
      ["etag", etag],
      ["accept-ranges", "bytes"],
      ["x-content-type-options", "nosniff"],
    ];
    if (options.cors) h.push(["access-control-allow-origin", "*"]);

    if (notModified(req, etag, meta.mtimeMs)) {
      return new Response(null, { status: 304, headers: h });
    }

    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.get("range");
    if (range !== null && ifRangeHolds(req.headers.get("if-range"), etag, lastModified)) {
      const r = parseRange(range, size);
      if (r === "unsatisfiable") {
        return error(416, "Range Not Satisfiable", {
          ...Object.fromEntries(h),
          "content-range": `bytes */${size}`,
        });
      }
      if (r) {
        [start, end] = r;
        status = 206;
        h.push(["content-range", `bytes ${start}-${end}/${size}`]);
      }
    }
    const length = Math.max(0, end - start + 1);
    h.push(["content-length", `${length}`]);
    if (req.method === "HEAD") return new Response(null, { status, headers: h });
    if (size <= SMALL_FILE && status === 200) {
      // Built once per version; later plain GETs take the early return above.
      meta.whole ??= new Response(readSmall(path, meta), { headers: h });
      return meta.whole.clone();
    }
    if (size <= SMALL_FILE) {
      const body = readSmall(path, meta);
      return new Response(status === 206 ? body.subarray(start, end + 1) : body, {
        status,
        headers: h,
      });
    }
    // A large file is streamed, never held in memory. The Response owns the
    // file from here and closes it at the end of the stream (so no `using`).
    return Deno.open(path, { read: true }).then((file) => {
      const body = status === 206 ? rangeStream(file, start, length) : file.readable;
      return new Response(body, { status, headers: h });
    });
  };

  const serveListing = (urlPath: string, dir: string): Response => {
    const entries: ListingEntry[] = [];
    for (const entry of Deno.readDirSync(dir)) {
      if (hidden(entry.name)) continue;
      try {
        const path = join(dir, entry.name);
        // A link is listed only if following it would be served.
        if (entry.isSymlink && !servable(Deno.realPathSync(path))) continue;
        const info = Deno.statSync(path);
        entries.push({
          name: entry.name,
          isDirectory: info.isDirectory,
          size: info.size,
          mtime: info.mtime,
        });
      } catch {
        // A dangling symlink or a file removed meanwhile: not listed.
      }
    }
    const h = baseHeaders();
    h.set("content-type", "text/html; charset=utf-8");
    h.set("cache-control", "no-cache");
    const body = encoder.encode(renderListing(urlPath, entries));
    h.set("content-length", `${body.length}`);
    return new Response(body, { headers: h });
  };

  return (req: Request): Response | Promise<Response> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return error(405, "Method Not Allowed", { allow: "GET, HEAD" });
    }
    // Fast path: a URL path that led to a file inside the root before skips
    // the decoding and checks, if it still resolves to the same real path.
    // (Comparing inodes alone is not enough: a deleted file's inode is reused.)
    const pathname = pathOf(req.url);
    const known = resolved.get(pathname);
    if (known) {
      try {
        if (known.folders) {
          // No symlink was on the way: if each step is still a plain folder and the
          // file a plain file, the path is still its own real path. One lstat per
          // step costs a third of realpath + stat, the largest cost per request.
          if (known.folders.every((folder) => Deno.lstatSync(folder).isDirectory)) {
            const info = Deno.lstatSync(known.real);
            if (info.isFile) return serveFile(req, known.real, info);
          }
        } else if (Deno.realPathSync(known.candidate) === known.real) {
          const info = Deno.statSync(known.real);
          if (info.isFile) return serveFile(req, known.real, info);
        }
      } catch {
        // Gone or changed: resolve it again below.
      }
      resolved.delete(pathname);
    }
    const url = new URL(req.url);
    // Each segment is decoded on its own, so an encoded "/" or "\" cannot make a new one.
    const segments: string[] = [];
    for (const raw of url.pathname.split("/").slice(1)) {
      let segment: string;
      try {
        segment = decodeURIComponent(raw);
      } catch {
        return error(400, "Bad Request");
      }
      if (segment === "") continue;
      if (segment === "." || segment === ".." || /[/\\\0]/.test(segment) || hidden(segment)) {
        return error(404, "Not Found");
      }
      segments.push(segment);
    }
    const candidate = join(root, ...segments);
    let real: string;
    let info: Deno.FileInfo;
    try {
      real = Deno.realPathSync(candidate);
      if (!servable(real)) return error(404, "Not Found");
      info = Deno.statSync(real);
    } catch {
      return error(404, "Not Found");
    }
    if (info.isDirectory) {
      if (!url.pathname.endsWith("/")) {
        // One leading slash only: "//evil.example" would send the browser to another host.
        const location = "/" + url.pathname.replace(/^\/+/, "") + "/" + url.search;
        const h = baseHeaders();
        h.set("location", location);
        h.set("content-length", "0");
        return new Response(null, { status: 301, headers: h });
      }
      const index = join(real, "index.html");
      try {
        const indexInfo = Deno.statSync(index);
        if (indexInfo.isFile) return serveFile(req, index, indexInfo);
      } catch {
        // No index.html: list the folder.
      }
      if (!listing) return error(404, "Not Found");
      return serveListing("/" + segments.map((s) => s + "/").join(""), real);
    }
    // FIFOs, sockets and devices are never opened.
    if (!info.isFile) return error(404, "Not Found");
    if (resolved.size >= MAX_RESOLVED) resolved.delete(resolved.keys().next().value!);
    const folders = candidate === real
      ? segments.slice(0, -1).map((_, i) => join(root, ...segments.slice(0, i + 1)))
      : undefined;
    resolved.set(pathname, { candidate, real, folders });
    return serveFile(req, real, info);
  };
}

/** Whether the answer depends on more than the path: a range or a cache validator. */
function conditional(headers: Headers): boolean {
  return headers.has("range") || headers.has("if-none-match") || headers.has("if-modified-since");
}

/** Whether `If-None-Match` (or else `If-Modified-Since`) says the client's copy is current. */
function notModified(req: Request, etag: string, mtimeMs: number): boolean {
  const inm = req.headers.get("if-none-match");
  if (inm !== null) {
    // Weak comparison, as RFC 9110 13.1.2 asks for If-None-Match.
    const strip = (t: string) => t.trim().replace(/^W\//, "");
    return inm.trim() === "*" || inm.split(",").some((t) => strip(t) === etag);
  }
  const ims = req.headers.get("if-modified-since");
  if (ims !== null) {
    const since = Date.parse(ims);
    return !Number.isNaN(since) && Math.floor(mtimeMs / 1000) <= Math.floor(since / 1000);
  }
  return false;
}

/** `If-Range`: a strong ETag must match exactly, a date must equal Last-Modified. */
function ifRangeHolds(ifRange: string | null, etag: string, lastModified: string): boolean {
  if (ifRange === null) return true;
  const value = ifRange.trim();
  if (value.startsWith('"')) return value === etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === Date.parse(lastModified);
}

/**
 * Parses a single byte range against `size`: `[start, end]` inclusive,
 * `"unsatisfiable"`, or `undefined` to ignore the header (malformed or
 * several ranges: RFC 9110 lets a server send the whole file instead).
 */
export function parseRange(
  header: string,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  const m = header.trim().match(/^bytes=(\d{0,15})-(\d{0,15})$/);
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  if (m[2] !== "" && Number(m[2]) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  const end = m[2] === "" ? size - 1 : Number(m[2]);
  return [start, Math.min(end, size - 1)];
}

/** Streams `length` bytes of `file` from `start`, closing the file at the end or on cancel. */
function rangeStream(file: Deno.FsFile, start: number, length: number): ReadableStream<Uint8Array> {
  let left = length;
  let positioned = false;
  return new ReadableStream({
    async pull(controller) {
      try {
        if (!positioned) {
          await file.seek(start, Deno.SeekMode.Start);
          positioned = true;
        }
        const buf = new Uint8Array(Math.min(64 * 1024, left));
        const n = await file.read(buf);
        if (n === null) throw new Error("file shrank while being sent");
        controller.enqueue(buf.subarray(0, n));
        left -= n;
        if (left === 0) {
          controller.close();
          file.close();
        }
      } catch (err) {
        file.close();
        controller.error(err);
      }
    },
    cancel() {
      file.close();
    },
  });
}
