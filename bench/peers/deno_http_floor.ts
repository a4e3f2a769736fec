// The floor for lab_http in Deno: `Deno.serve` answering every request with the same 1 KiB body,
// no file system at all. With `--lstat FILE`, one `Deno.lstatSync(FILE)` per request as well: the
// least a server that sees every edit on the next request must do. With `--duties FILE`, also what
// a static file server owes each answer and lab_http gives: the validators built from that lstat
// (`ETag`, `Last-Modified`), a content type, `nosniff`, and an access-log line (written to stdout
// at most every 25 ms, as lab servers do), in a plain form.
// deno run --allow-net [--allow-read=FILE] deno_http_floor.ts PORT [--lstat FILE | --duties FILE]
const [port, mode, file] = Deno.args;
const body = new Uint8Array(1024).fill(97);
const headers = { "content-type": "application/octet-stream" };
const encoder = new TextEncoder();
let lines: string[] = [];

function log(line: string) {
  if (lines.push(line) > 1) return;
  setTimeout(() => {
    const text = lines.join("\n") + "\n";
    lines = [];
    Deno.stdout.write(encoder.encode(text)).catch(() => {});
  }, 25);
}

// The answer is made again only when the file changes, and cloned otherwise, as lab_http's fast
// path does.
let cached: { key: string; response: Response } | undefined;

Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen() {} }, (req, info) => {
  if (mode === "--lstat") Deno.lstatSync(file);
  if (mode !== "--duties") return new Response(body, { headers });
  const stat = Deno.lstatSync(file);
  const mtime = stat.mtime ?? new Date(0);
  const key = `"${stat.ino}-${stat.size}-${mtime.getTime()}"`;
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
