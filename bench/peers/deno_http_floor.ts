// The floor for lab_http in Deno: `Deno.serve` answering every request with the same 1 KiB body,
// no file system at all. With `--lstat FILE`, one `Deno.lstatSync(FILE)` per request as well: the
// least a server that sees every edit on the next request must do. With `--duties FILE`, also what
// a static file server owes each answer and lab_http gives: the validators built from that lstat
// (`ETag`, `Last-Modified`), a content type, `nosniff`, and an access-log line (written to stdout
// at most every 25 ms, as lab servers do), in a plain form. With `--headers FILE`, the duties
// and the reads of the request every static file server must make: `Host` (which names the
// target in `req.url`) and the conditional headers (`Range`, `If-None-Match`,
// `If-Modified-Since`). In Deno 2.9 the first read of `req.headers` costs more than the read:
// `Deno.serve` then copies the whole header list and finishes the answer through a promise.
// deno run --allow-net [--allow-read=FILE] deno_http_floor.ts PORT [--lstat|--duties|--headers FILE]
import { log } from "./batched_log.ts";
import { fileVersion } from "./file_version.ts";

const [port, mode, file] = Deno.args;
const body = new Uint8Array(1024).fill(97);
const headers = { "content-type": "application/octet-stream" };

// The answer is made again only when the file changes, and cloned otherwise, as lab_http's fast
// path does.
let cached: { key: string; response: Response } | undefined;

Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen() {} }, (req, info) => {
  if (mode === "--lstat") Deno.lstatSync(file);
  if (mode !== "--duties" && mode !== "--headers") return new Response(body, { headers });
  if (mode === "--headers") {
    // A real server answers these with 400, 206 or 304 after more checks; here they are read.
    const h = req.headers;
    if (h.get("host") === null) return new Response(null, { status: 400 });
    if (h.has("range") || h.has("if-none-match") || h.has("if-modified-since")) {
      return new Response(null, { status: 304 });
    }
  }
  const { etag: key, mtime } = fileVersion(file);
  if (cached?.key !== key) {
    cached = {
      key,
      response: new Response(body, {
        headers: {
          "content-type": "text/plain; charset=utf-8",
          "last-modified": mtime.toUTCString(),
          "etag": key,
          "accept-ranges": "bytes",
          "x-content-type-options": "nosniff",
        },
      }),
    };
  }
  log(`${info.remoteAddr.hostname} - - "${req.method} ${req.url}" 200 1024`);
  return cached.response.clone();
});
