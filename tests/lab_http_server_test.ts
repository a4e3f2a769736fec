import assert from "node:assert/strict";
import { join } from "node:path";
import { serveHttp } from "../lab_http/server.ts";
import { Root } from "../lab_http/confine.ts";
import { FastPath } from "../lab_http/fast_path.ts";
import { decodeHead, headEnd, HeadError, MAX_FIELDS, parseHead } from "../lab_http/request_head.ts";
import { RACY_MS } from "../lab_http/responses.ts";
import { randomBytes } from "../harness/bytes.ts";
import { runScript, script, startScript } from "../harness/process.ts";
import { MAX_LISTED, staticHandler } from "../lab_http/static_files.ts";
import { COARSE_RACY_MS, MAX_DEPTH } from "../common/steady_path.ts";
import { canExchange, exchangeArgs } from "./support/exchange.ts";
import { inProcess } from "./support/in_process.ts";
import { readAll } from "./support/read_all.ts";

const SERVER = script("lab_http/server.ts");
const CLIENT = script("lab_http/client.ts");
const enc = new TextEncoder();
const dec = new TextDecoder();

interface RawResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  text: string;
}

/** Sends one request exactly as written (no URL normalization) and parses the reply. */
async function raw(
  port: number,
  target: string,
  headers: Record<string, string> = {},
  method = "GET",
  hostname = "127.0.0.1",
): Promise<RawResponse> {
  using conn = await Deno.connect({ hostname, port });
  const lines = [
    `${method} ${target} HTTP/1.1`,
    "Host: test",
    "Connection: close",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  await conn.write(enc.encode(lines.join("\r\n") + "\r\n\r\n"));
  const all = await readAll(conn);
  const split = all.findIndex((_, i) =>
    all[i] === 13 && all[i + 1] === 10 && all[i + 2] === 13 && all[i + 3] === 10
  );
  const head = dec.decode(all.subarray(0, split)).split("\r\n");
  const status = Number(head[0].split(" ")[1]);
  const h = new Headers();
  for (const line of head.slice(1)) {
    h.append(line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim());
  }
  let body = all.subarray(split + 4);
  if (h.get("transfer-encoding") === "chunked") {
    const parts: number[] = [];
    let i = 0;
    while (true) {
      const eol = body.indexOf(10, i);
      const size = parseInt(dec.decode(body.subarray(i, eol)), 16);
      if (!size) break;
      parts.push(...body.subarray(eol + 1, eol + 1 + size));
      i = eol + 1 + size + 2;
    }
    body = new Uint8Array(parts);
  }
  return { status, headers: h, body, text: dec.decode(body) };
}

async function site() {
  const base = await Deno.makeTempDir({ prefix: "lab_http_" });
  const root = join(base, "www");
  await Deno.mkdir(root);
  const w = (path: string, data: string | Uint8Array) =>
    Deno.writeFile(join(root, path), typeof data === "string" ? enc.encode(data) : data);
  await w("hello.txt", "hello, world\n");
  await w("page.html", "<!DOCTYPE html><title>p</title><p>page</p>\n");
  for (const ext of ["css", "js", "png", "mp4", "woff2", "zip", "pdf", "json", "svg", "weird"]) {
    await w(`file.${ext}`, "x");
  }
  await w("Makefile", "all:\n");
  const names = [
    "a b.txt",
    "hash#.txt",
    "q?.txt",
    "pct%.txt",
    "lt<gt>.txt",
    "ünïcödé.txt",
    "zeta.txt",
    "Alpha.txt",
  ];
  for (const n of names) await w(n, `content of ${n}\n`);
  await Deno.mkdir(join(root, "sub"));
  await w("sub/inner.txt", "inner\n");
  await Deno.mkdir(join(root, "zdir"));
  await Deno.mkdir(join(root, "with-index"));
  await w("with-index/index.html", "<p>index page</p>\n");
  await Deno.mkdir(join(root, "evil.example"));
  await Deno.mkdir(join(root, ".git"));
  await w(".git/config", "[core]\n");
  await w(".env", "SECRET=1\n");
  await Deno.writeTextFile(join(base, "outside.txt"), "outside secret\n");
  await Deno.symlink(join(base, "outside.txt"), join(root, "link-out"));
  await Deno.symlink(base, join(root, "dir-out"));
  await Deno.symlink(".env", join(root, "env-link"));
  const big = randomBytes(3 * 1024 * 1024 + 5);
  await w("big.bin", big);
  const mk = await new Deno.Command("mkfifo", { args: [join(root, "fifo")] }).output();
  assert.ok(mk.success);
  await backdate(root);
  return { base, root, names, big };
}

/**
 * Sets every file's mtime an hour back: the site as it is most of its life.
 * A file changed in the last 2 s gets no validators (see the freshness tests).
 */
async function backdate(dir: string): Promise<void> {
  const past = new Date(Date.now() - 3600_000);
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) await backdate(path);
    else if (entry.isFile) await Deno.utime(path, past, past);
  }
}

/**
 * Waits until files made just now may be answered from memory: their ctime,
 * which `backdate` cannot set back (and Deno gives in whole seconds), must be
 * {@linkcode RACY_MS} in the past.
 */
function aged(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, RACY_MS + 1100));
}

/** Waits (at most 5 s) until a log line matches `pattern`; the line. */
async function logged(log: string[], pattern: RegExp): Promise<string> {
  for (let waited = 0; waited < 5000; waited += 10) {
    const line = log.find((l) => pattern.test(l));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no log line matches ${pattern}:\n${log.join("\n")}`);
}

async function startServer(
  options: { cors?: boolean; dotfiles?: boolean; listing?: boolean; hostname?: string } = {},
) {
  const s = await site();
  const log: string[] = [];
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    root: s.root,
    log: (l) => log.push(l),
    ...options,
  });
  return {
    ...s,
    log,
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      server.close();
      await server.finished;
      await Deno.remove(s.base, { recursive: true });
    },
  };
}

Deno.test("listing: HTML5, folders first then names, escaped names, percent-encoded links that work", async () => {
  await using s = await startServer();
  const r = await raw(s.port, "/");
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(r.text, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.match(r.text, /<title>Index of \/<\/title>/);
  const hrefs = [...r.text.matchAll(/<a href="([^"]*)">([^<]*)<\/a>/g)].map((m) => [m[1], m[2]]);
  // Folders first (dot-folders hidden), then files by name.
  assert.deepEqual(hrefs.slice(0, 4).map(([h]) => h), [
    "evil.example/",
    "sub/",
    "with-index/",
    "zdir/",
  ]);
  // Hidden: dot-names, and links that lead outside the root or to a dot-name.
  assert.doesNotMatch(r.text, /\.git|\.env|env-link|link-out|dir-out/);
  assert.ok(r.text.includes(`<a href="lt%3Cgt%3E.txt">lt&#60;gt&#62;.txt</a>`));
  assert.doesNotMatch(r.text, /<gt>/);
  const files = hrefs.slice(4).map(([, label]) => label);
  assert.ok(files.indexOf("Alpha.txt") < files.indexOf("zeta.txt"));
  for (const name of s.names) {
    const href = hrefs.find(([, label]) =>
      label === name.replace("<", "&#60;").replace(">", "&#62;")
    )?.[0];
    assert.ok(href, `no link for ${name}`);
    const f = await raw(s.port, `/${href}`);
    assert.equal(f.status, 200, name);
    assert.equal(f.text, `content of ${name}\n`);
  }
  const sub = await raw(s.port, "/sub/");
  assert.match(sub.text, /<a href="\.\.\/">\.\.\/<\/a>/);
  assert.match(
    sub.text,
    /<a href="inner\.txt">inner\.txt<\/a><\/td><td>6 B<\/td><td>\d{4}-\d\d-\d\d \d\d:\d\d<\/td>/,
  );
});

Deno.test("index.html, trailing-slash redirects that never leave the host, --no-listing", async () => {
  await using s = await startServer();
  assert.equal((await raw(s.port, "/with-index/")).text, "<p>index page</p>\n");
  const redirect = await raw(s.port, "/sub?x=1");
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get("location"), "/sub/?x=1");
  const evil = await raw(s.port, "//evil.example");
  assert.equal(evil.status, 301);
  assert.equal(evil.headers.get("location"), "/evil.example/");
  const evil3 = await raw(s.port, "///evil.example");
  assert.equal(evil3.headers.get("location"), "/evil.example/");
  await using q = await startServer({ listing: false });
  assert.equal((await raw(q.port, "/sub/")).status, 404);
  assert.equal((await raw(q.port, "/with-index/")).status, 200);
});

Deno.test("content types, nosniff, --cors", async () => {
  await using s = await startServer({ cors: true });
  const expect: Record<string, string> = {
    "hello.txt": "text/plain; charset=utf-8",
    "page.html": "text/html; charset=utf-8",
    "file.css": "text/css; charset=utf-8",
    "file.js": "text/javascript; charset=utf-8",
    "file.json": "application/json; charset=utf-8",
    "file.png": "image/png",
    "file.svg": "image/svg+xml",
    "file.mp4": "video/mp4",
    "file.woff2": "font/woff2",
    "file.zip": "application/zip",
    "file.pdf": "application/pdf",
    "file.weird": "application/octet-stream",
    "Makefile": "application/octet-stream",
  };
  for (const [name, type] of Object.entries(expect)) {
    const r = await raw(s.port, `/${name}`);
    assert.equal(r.headers.get("content-type"), type, name);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
  }
  await using plain = await startServer();
  assert.equal(
    (await raw(plain.port, "/hello.txt")).headers.get("access-control-allow-origin"),
    null,
  );
});

Deno.test("a small file answered from memory: same bytes and headers every time, a change seen at once", async () => {
  await using s = await startServer();
  await aged();
  const first = await raw(s.port, "/sub/inner.txt");
  for (let i = 0; i < 5; i++) {
    const r = await raw(s.port, "/sub/inner.txt");
    assert.equal(r.status, 200);
    assert.equal(r.text, "inner\n");
    assert.deepEqual(
      [...r.headers].filter(([k]) => k !== "date"),
      [...first.headers].filter(([k]) => k !== "date"),
    );
  }
  // Same size, new content and time: the next request has both.
  await Deno.writeTextFile(join(s.root, "sub", "inner.txt"), "INNER\n");
  await Deno.utime(join(s.root, "sub", "inner.txt"), new Date(), new Date(Date.now() + 5000));
  const changed = await raw(s.port, "/sub/inner.txt");
  assert.equal(changed.text, "INNER\n");
  assert.notEqual(changed.headers.get("etag"), first.headers.get("etag"));
});

Deno.test("FastPath: a kept file is answered from memory while its path names that version, and only then", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lab_http_fast_" });
  try {
    await Deno.writeTextFile(join(dir, "a.txt"), "kept\n");
    const root = new Root(dir);
    const fast = new FastPath(false);
    const place = root.resolve(["a.txt"])!;
    const keep = () => {
      using file = Deno.openSync(place.real);
      const info = file.statSync();
      const body = new Uint8Array(info.size);
      file.readSync(body);
      // Read as if well after its last change: the racy rule has its own test above.
      fast.remember("/a.txt", place, info, body, Date.now() + RACY_MS + 1000);
    };
    const get = (headers: [string, string][] = []) =>
      fast.answer({ method: "GET", headers: new Map(headers) }, "/a.txt");
    assert.equal(get(), undefined, "nothing kept yet");
    keep();
    const hit = get();
    assert.ok(hit, "kept");
    assert.equal(hit.status, 200);
    assert.equal(dec.decode(hit.body), "kept\n");
    assert.equal(hit.length, 5);
    const head = dec.decode(hit.head);
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n[^]*content-length: 5\r\n$/);
    // Every hit sends the same kept bytes; a conditional GET is answered from the kept copy too.
    assert.equal(get()!.body, hit.body);
    const etag = head.match(/\r\netag: (.*)\r\n/)![1];
    assert.equal(get([["if-none-match", etag]])!.status, 304);
    // Another version under the same path: a rewrite, a rename over it, a symlink, nothing.
    await Deno.writeTextFile(join(dir, "a.txt"), "new!\n");
    assert.equal(get(), undefined, "rewritten");
    keep();
    await Deno.writeTextFile(join(dir, "b.txt"), "kept\n");
    await Deno.rename(join(dir, "b.txt"), join(dir, "a.txt"));
    assert.equal(get(), undefined, "renamed over");
    keep();
    await Deno.remove(join(dir, "a.txt"));
    await Deno.writeTextFile(join(dir, "outside.txt"), "kept\n");
    await Deno.symlink(join(dir, "outside.txt"), join(dir, "a.txt"));
    assert.equal(get(), undefined, "swapped for a symlink");
    await Deno.remove(join(dir, "a.txt"));
    assert.equal(get(), undefined, "removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GET and HEAD only: 405 with Allow", async () => {
  await using s = await startServer();
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
    const r = await raw(s.port, "/hello.txt", {}, method);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("allow"), "GET, HEAD");
  }
  const head = await raw(s.port, "/hello.txt", {}, "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), "13");
  assert.equal(head.body.length, 0);
});

Deno.test("caching: strong ETag, Last-Modified, 304 on If-None-Match and If-Modified-Since", async () => {
  await using s = await startServer();
  const first = await raw(s.port, "/hello.txt");
  const etag = first.headers.get("etag")!;
  const lastModified = first.headers.get("last-modified")!;
  assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
  assert.equal((await raw(s.port, "/hello.txt", { "If-None-Match": etag })).status, 304);
  assert.equal(
    (await raw(s.port, "/hello.txt", { "If-None-Match": `"other", W/${etag}` })).status,
    304,
  );
  assert.equal((await raw(s.port, "/hello.txt", { "If-None-Match": "*" })).status, 304);
  assert.equal((await raw(s.port, "/hello.txt", { "If-None-Match": '"nope"' })).status, 200);
  assert.equal(
    (await raw(s.port, "/hello.txt", { "If-Modified-Since": lastModified })).status,
    304,
  );
  assert.equal(
    (await raw(s.port, "/hello.txt", { "If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT" }))
      .status,
    200,
  );
  // A changed file gets a new ETag, and the cached small body is not served stale.
  await Deno.writeTextFile(join(s.root, "hello.txt"), "changed content\n");
  await Deno.utime(join(s.root, "hello.txt"), new Date(), new Date(Date.now() + 5000));
  const changed = await raw(s.port, "/hello.txt", { "If-None-Match": etag });
  assert.equal(changed.status, 200);
  assert.equal(changed.text, "changed content\n");
});

Deno.test("ranges: a-b, a-, -n, unsatisfiable, If-Range, several ranges", async () => {
  await using s = await startServer();
  const cases: [string, number, string, string][] = [
    ["bytes=0-4", 206, "bytes 0-4/13", "hello"],
    ["bytes=7-", 206, "bytes 7-12/13", "world\n"],
    ["bytes=-6", 206, "bytes 7-12/13", "world\n"],
    ["bytes=7-100", 206, "bytes 7-12/13", "world\n"],
    ["bytes=-100", 206, "bytes 0-12/13", "hello, world\n"],
  ];
  for (const [range, status, contentRange, body] of cases) {
    const r = await raw(s.port, "/hello.txt", { Range: range });
    assert.equal(r.status, status, range);
    assert.equal(r.headers.get("content-range"), contentRange);
    assert.equal(r.text, body);
    assert.equal(r.headers.get("accept-ranges"), "bytes");
  }
  for (const range of ["bytes=13-", "bytes=100-200", "bytes=-0"]) {
    const r = await raw(s.port, "/hello.txt", { Range: range });
    assert.equal(r.status, 416, range);
    assert.equal(r.headers.get("content-range"), "bytes */13");
  }
  for (const ignored of ["bytes=0-1,3-4", "bytes=5-2", "items=0-1", "bytes=x-"]) {
    assert.equal((await raw(s.port, "/hello.txt", { Range: ignored })).status, 200, ignored);
  }
  const etag = (await raw(s.port, "/hello.txt")).headers.get("etag")!;
  assert.equal(
    (await raw(s.port, "/hello.txt", { Range: "bytes=0-4", "If-Range": etag })).status,
    206,
  );
  assert.equal(
    (await raw(s.port, "/hello.txt", { Range: "bytes=0-4", "If-Range": '"stale"' })).status,
    200,
  );
  // A large (streamed) file: a range from the middle.
  const r = await raw(s.port, "/big.bin", { Range: "bytes=1000000-1999999" });
  assert.equal(r.status, 206);
  assert.deepEqual(r.body, s.big.subarray(1000000, 2000000));
});

Deno.test("nothing outside the root, no dotfiles, no FIFOs, no paths in errors", async () => {
  await using s = await startServer();
  const notFound = [
    "/../outside.txt",
    "/%2e%2e/outside.txt",
    "/%2E%2E/%2e%2e/etc/passwd",
    "/..%2foutside.txt",
    "/sub/..%2f..%2foutside.txt",
    "/..%5coutside.txt",
    "/sub/..\\..\\outside.txt",
    "/%252e%252e/outside.txt",
    "/..%252foutside.txt",
    "//etc/passwd",
    "/etc/passwd",
    "/hello.txt%00.png",
    "/link-out",
    "/dir-out/outside.txt",
    "/.env",
    "/.git/config",
    "/sub/../.env",
    "/%2eenv",
    "/env-link",
    "/fifo",
  ];
  for (const target of notFound) {
    const r = await raw(s.port, target);
    assert.equal(r.status, 404, target);
    assert.doesNotMatch(r.text, /secret|SECRET|\/tmp|www|Error:|at /, target);
  }
  assert.equal((await raw(s.port, "/%zz")).status, 400);
  assert.equal((await raw(s.port, "/%E0%A4%A")).status, 400);
  // With --dotfiles they are served and listed.
  await using d = await startServer({ dotfiles: true });
  assert.equal((await raw(d.port, "/.env")).text, "SECRET=1\n");
  assert.match((await raw(d.port, "/")).text, /href="\.git\/"/);
  assert.equal((await raw(d.port, "/link-out")).status, 404);
});

Deno.test("a path served before is checked again: swapping the file for a link outside gives 404", async () => {
  await using s = await startServer();
  await aged(); // So that what was served before is answered from memory.
  assert.equal((await raw(s.port, "/zeta.txt")).status, 200);
  await Deno.remove(join(s.root, "zeta.txt"));
  await Deno.symlink(join(s.base, "outside.txt"), join(s.root, "zeta.txt"));
  const r = await raw(s.port, "/zeta.txt");
  assert.equal(r.status, 404);
  assert.doesNotMatch(r.text, /secret/);
  // And a directory swapped for a link outside.
  assert.equal((await raw(s.port, "/sub/inner.txt")).status, 200);
  await Deno.remove(join(s.root, "sub"), { recursive: true });
  await Deno.mkdir(join(s.base, "elsewhere"));
  await Deno.writeTextFile(join(s.base, "elsewhere", "inner.txt"), "secret elsewhere\n");
  await Deno.symlink(join(s.base, "elsewhere"), join(s.root, "sub"));
  assert.equal((await raw(s.port, "/sub/inner.txt")).status, 404);
});

Deno.test("the access log follows Python's format, control characters escaped", async () => {
  await using s = await startServer();
  await raw(s.port, "/hello.txt");
  await raw(s.port, "/missing%0a%1b");
  assert.match(
    s.log[0],
    /^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4} \d\d:\d\d:\d\d\] "GET \/hello\.txt HTTP\/1\.1" 200 13$/,
  );
  assert.match(s.log[1], /"GET \/missing%0a%1b HTTP\/1\.1" 404 \d+$/);
  // A method that is not a token, or a target with raw control or non-ASCII
  // bytes, is refused, and logged as sent with its control bytes escaped.
  for (
    const [method, target] of [["GE\x01T", "/hello.txt"], ["G\u00e9T", "/"], ["GET", "/\x1b[2J"]]
  ) {
    assert.equal((await raw(s.port, target, {}, method)).status, 400);
  }
  assert.equal(s.log.length, 5);
  assert.match(s.log[2], /"GE\\x01T \/hello\.txt HTTP\/1\.1" 400 \d+$/);
  assert.match(s.log[4], /"GET \/\\x1b\[2J HTTP\/1\.1" 400 \d+$/);
  // deno-lint-ignore no-control-regex -- the test looks for raw control characters
  for (const line of s.log) assert.doesNotMatch(line, /[\x00-\x1f\x7f]/);
});

Deno.test("the lab's client and curl fetch files byte-exact, ranges included; IPv6", async () => {
  await using s = await startServer({ hostname: "::1" });
  const dir = await Deno.makeTempDir();
  try {
    const ours = await runScript(
      ["--allow-net", `--allow-read=${dir}`, `--allow-write=${dir}`],
      CLIENT,
      [`http://[::1]:${s.port}/big.bin`, "-o", join(dir, "ours.bin")],
    );
    assert.equal(ours.code, 0, ours.stderr);
    assert.deepEqual(await Deno.readFile(join(dir, "ours.bin")), s.big);
    const curl = await new Deno.Command("curl", {
      args: ["-sSf", "-g", "-o", join(dir, "curl.bin"), `http://[::1]:${s.port}/big.bin`],
    }).output();
    assert.ok(curl.success, dec.decode(curl.stderr));
    assert.deepEqual(await Deno.readFile(join(dir, "curl.bin")), s.big);
    const ranged = await new Deno.Command("curl", {
      args: ["-sSf", "-g", "-r", "100-199", `http://[::1]:${s.port}/big.bin`],
    }).output();
    assert.deepEqual(ranged.stdout, s.big.subarray(100, 200));
    const encoded = await new Deno.Command("curl", {
      args: ["-sSf", "-g", `http://[::1]:${s.port}/%C3%BCn%C3%AFc%C3%B6d%C3%A9.txt`],
    }).output();
    assert.equal(dec.decode(encoded.stdout), "content of ünïcödé.txt\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server CLI: banner, log lines, Ctrl+C; bad arguments exit 2; a missing folder exits 1", async () => {
  await using s = await startServer();
  const server = await startScript(["--allow-net", `--allow-read=${s.root}`], SERVER, [
    "0",
    "-b",
    "127.0.0.1",
    "-d",
    s.root,
  ], /^Serving .* at http:\/\/127\.0\.0\.1:(\d+)\/$/);
  const r = await runScript(["--allow-net"], CLIENT, [
    `http://127.0.0.1:${server.match[1]}/hello.txt`,
  ]);
  assert.equal(r.stdout, "hello, world\n");
  await server.waitFor(/"GET \/hello\.txt HTTP\/1\.1" 200 13$/);
  assert.equal((await server.stop("SIGINT")).code, 0);
  for (const args of [["80"], ["x"], ["--nope"], ["-a", "127.0.0.1", "-b", "::1"]]) {
    assert.equal(
      (await runScript(["--allow-net", "--allow-read"], SERVER, args)).code,
      2,
      `${args}`,
    );
  }
  const missing = await runScript(["--allow-net", "--allow-read"], SERVER, [
    "0",
    "-d",
    "/nonexistent/folder",
  ]);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr,
    "error: cannot serve /nonexistent/folder: no such file or directory\n",
  );
});

Deno.test("server CLI --trace: each answer's head as it went out, the answers from memory included", async () => {
  await using s = await startServer();
  await aged();
  const server = await startScript(["--allow-net", `--allow-read=${s.root}`], SERVER, [
    "0",
    "-a",
    "127.0.0.1",
    "-d",
    s.root,
    "--trace",
  ], /^Serving .* at http:\/\/127\.0\.0\.1:(\d+)\/$/);
  // The first GET reads the file and keeps it; the next two are answered from memory.
  for (let i = 0; i < 3; i++) {
    const r = await raw(Number(server.match[1]), "/hello.txt");
    assert.equal(r.headers.get("content-length"), "13");
  }
  await server.waitFor(/"GET \/hello\.txt HTTP\/1\.1" 200 13$/);
  const { stderr } = await server.stop("SIGINT");
  assert.equal(stderr.match(/^<- GET \/hello\.txt HTTP\/1\.1$/gm)?.length, 3);
  assert.equal(stderr.match(/^-> HTTP\/1\.1 200 OK$/gm)?.length, 3);
  assert.equal(stderr.match(/^-> date: /gm)?.length, 3);
  assert.equal(stderr.match(/^-> content-length: 13$/gm)?.length, 3);
});

// ---------------------------------------------------------------------------
// Hardening (issue 15): each test below fails on the server before that issue.

/** Sends `head` (request line and headers, no final blank line) as is; the parsed reply. */
async function rawHead(port: number, head: string): Promise<RawResponse> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(enc.encode(head + "\r\n\r\n"));
  const all = await readAll(conn);
  const split = all.findIndex((_, i) =>
    all[i] === 13 && all[i + 1] === 10 && all[i + 2] === 13 && all[i + 3] === 10
  );
  const lines = dec.decode(all.subarray(0, split)).split("\r\n");
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    headers.append(line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim());
  }
  const body = all.subarray(split + 4);
  return { status: Number(lines[0].split(" ")[1]), headers, body, text: dec.decode(body) };
}

/**
 * Runs `code` (a loop that swaps names in `dir` until `ms` have passed and
 * prints how many rounds it made) in a separate Deno process.
 */
function swapper(dir: string, ms: number, code: string): Promise<number> {
  const program = `const dir = ${
    JSON.stringify(dir)
  }; const end = Date.now() + ${ms}; let rounds = 0;
while (Date.now() < end) { ${code}; rounds++; }
console.log(rounds);`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", program],
    stdout: "piped",
    stderr: "inherit",
  }).output().then((out) => Number(dec.decode(out.stdout)));
}

/** GETs `target` from `clients` loops until `until` settles; counts what came back. */
async function hammer(
  port: number,
  target: string,
  until: Promise<unknown>,
  judge: (r: RawResponse) => "ok" | "leak" | "refused",
): Promise<{ ok: number; refused: number; leaks: string[] }> {
  const counts = { ok: 0, refused: 0, leaks: [] as string[] };
  let running = true;
  until.finally(() => (running = false));
  const client = async () => {
    while (running) {
      const r = await raw(port, target);
      const verdict = judge(r);
      if (verdict === "leak") counts.leaks.push(`${r.status} ${[...r.headers]} ${r.text}`);
      else counts[verdict]++;
    }
  };
  await Promise.all([client(), client(), client(), client()]);
  return counts;
}

Deno.test("symlink swaps under load: a file or a folder swapped for a link outside never leaks a byte or a header of the secret", async () => {
  const base = await Deno.makeTempDir({ prefix: "lab_http_swap_" });
  const root = join(base, "site");
  try {
    await Deno.mkdir(join(root, "d"), { recursive: true });
    await Deno.mkdir(join(base, "secret-dir"));
    const PUBLIC = "public\n";
    const SECRET = "SECRET-SECRET-SECRET\n";
    await Deno.writeTextFile(join(root, ".keep"), PUBLIC);
    await Deno.writeTextFile(join(root, "d", "a.txt"), PUBLIC);
    await Deno.writeTextFile(join(base, "secret.txt"), SECRET);
    await Deno.writeTextFile(join(base, "secret-dir", "a.txt"), SECRET);
    // Distinct dates, so a Last-Modified would tell the secret too.
    await Deno.utime(join(base, "secret.txt"), new Date("2001-02-03"), new Date("2001-02-03"));
    await Deno.utime(
      join(base, "secret-dir", "a.txt"),
      new Date("2001-02-03"),
      new Date("2001-02-03"),
    );
    await backdate(root);
    await Deno.link(join(root, ".keep"), join(root, "a.txt"));
    await Deno.symlink("../secret-dir", join(root, ".d-link"));
    const secretInodes = [
      Deno.statSync(join(base, "secret.txt")).ino!,
      Deno.statSync(join(base, "secret-dir", "a.txt")).ino!,
    ];
    const judge = (r: RawResponse): "ok" | "leak" | "refused" => {
      const etag = r.headers.get("etag") ?? "";
      if (
        r.text.includes("SECRET") || r.headers.get("content-length") === `${SECRET.length}` ||
        secretInodes.some((ino) => etag.startsWith(`"${ino.toString(16)}-`)) ||
        /2001/.test(r.headers.get("last-modified") ?? "")
      ) return "leak";
      if (r.status === 200 && r.text === PUBLIC) return "ok";
      // A swap seen (404), or a folder that kept changing too fast to check (503).
      if (r.status === 404 || r.status === 503) return "refused";
      return "leak"; // Anything else is unexplained: show it.
    };
    await using s = inProcess((log) => serveHttp({ hostname: "127.0.0.1", port: 0, root, log }));
    // Served, and (old enough) kept in memory, before the swaps start.
    assert.equal((await raw(s.port, "/a.txt")).text, PUBLIC);
    assert.equal((await raw(s.port, "/d/a.txt")).text, PUBLIC);

    // The file: a.txt is by turns a hard link of .keep and a symlink to ../secret.txt.
    const fileSwaps = swapper(
      root,
      3000,
      `Deno.symlinkSync("../secret.txt", dir + "/.l"); Deno.renameSync(dir + "/.l", dir + "/a.txt");
       Deno.linkSync(dir + "/.keep", dir + "/.f"); Deno.renameSync(dir + "/.f", dir + "/a.txt")`,
    );
    const file = await hammer(s.port, "/a.txt", fileSwaps, judge);
    assert.ok((await fileSwaps) > 100, "the swapper hardly ran");
    assert.deepEqual(file.leaks, [], `${file.leaks.length} leaks, ${file.ok} ok`);
    assert.ok(file.ok > 0 && file.refused > 0, JSON.stringify(file));

    // The folder on the way: d is by turns a folder and a symlink to ../secret-dir.
    const folderSwaps = swapper(
      root,
      3000,
      `Deno.renameSync(dir + "/d", dir + "/.d-real"); Deno.renameSync(dir + "/.d-link", dir + "/d");
       Deno.renameSync(dir + "/d", dir + "/.d-link"); Deno.renameSync(dir + "/.d-real", dir + "/d")`,
    );
    const folder = await hammer(s.port, "/d/a.txt", folderSwaps, judge);
    assert.ok((await folderSwaps) > 100, "the swapper hardly ran");
    assert.deepEqual(folder.leaks, [], `${folder.leaks.length} leaks, ${folder.ok} ok`);
    assert.ok(folder.ok > 0 && folder.refused > 0, JSON.stringify(folder));
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

/** Runs the atomic swapper (tests/support/exchange.ts) on `a` and `b`; its count of exchanges. */
function exchanger(a: string, b: string, ms: number): Promise<number> {
  return new Deno.Command(Deno.execPath(), { args: exchangeArgs(a, b, ms), stdout: "piped" })
    .output().then((out) => Number(dec.decode(out.stdout)));
}

Deno.test({
  name: "a folder on the path exchanged with a symlink out (renameat2 RENAME_EXCHANGE), on the " +
    "least-privilege run line and in the handler's own loop: no answer carries the outside " +
    `file, none is a 500${canExchange ? "" : " (skipped: needs Linux's renameat2)"}`,
  ignore: !canExchange,
  async fn() {
    const base = await Deno.makeTempDir({ prefix: "lab_http_exchange_" });
    const root = join(base, "site");
    try {
      await Deno.mkdir(join(root, "d"), { recursive: true });
      await Deno.mkdir(join(base, "out"));
      const PUBLIC = "public\n";
      const SECRET = "SECRET-SECRET-SECRET\n";
      await Deno.writeTextFile(join(root, "d", "a.txt"), PUBLIC);
      await Deno.writeTextFile(join(base, "out", "a.txt"), SECRET);
      // Hidden, so it is never served under its own name: only through the swap.
      await Deno.symlink(join(base, "out"), join(root, ".s"));
      await backdate(root);
      await backdate(join(base, "out"));
      const verdicts = { ok: 0, refused: 0, leaks: [] as string[] };
      const judge = (status: number, body: string) => {
        if (body.includes("SECRET") || (status !== 200 && status !== 404 && status !== 503)) {
          verdicts.leaks.push(`${status} ${body.slice(0, 80)}`);
        } else if (status === 200 && body === PUBLIC) verdicts.ok++;
        else if (status === 200) verdicts.leaks.push(`200 ${body.slice(0, 80)}`);
        else verdicts.refused++;
      };

      // 1. The server as its README runs it, four clients asking while the swapper runs.
      await using server = await startScript(
        ["--allow-net=127.0.0.1", `--allow-read=${root}`],
        SERVER,
        ["-p", "0", "-a", "127.0.0.1", "-d", root],
        /^Serving .* at http:\/\/127\.0\.0\.1:(\d+)\/$/,
      );
      const port = Number(server.match[1]);
      // Served (once the root's fresh change time lets it be checked) and kept in memory first.
      assert.equal((await raw(port, "/d/a.txt")).text, PUBLIC);
      await aged();
      assert.equal((await raw(port, "/d/a.txt")).text, PUBLIC);
      const swaps = exchanger(join(root, "d"), join(root, ".s"), 3000);
      const counts = await hammer(port, "/d/a.txt", swaps, (r) => {
        judge(r.status, r.text);
        return "ok";
      });
      assert.ok((await swaps) > 1000, "the swapper hardly ran");
      assert.ok(counts.ok > 100, "the clients hardly ran");

      // 2. The handler called in a loop, as fast as it goes: the in-memory copy gets every
      // chance to be made while the swap is in place (before issue 28, most leaks came so).
      const handle = staticHandler({ root });
      const req = { method: "GET", headers: new Map() };
      let running = true;
      const loopSwaps = exchanger(join(root, "d"), join(root, ".s"), 3000)
        .finally(() => (running = false));
      let calls = 0;
      while (running) {
        const answer = await handle(req, "/d/a.txt");
        answer.file?.close();
        judge(answer.status, dec.decode(answer.body ?? new Uint8Array()));
        // A turn of the event loop now and then, so the swapper's exit is seen.
        if (++calls % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      }
      assert.ok((await loopSwaps) > 1000, "the swapper hardly ran");
      assert.deepEqual(verdicts.leaks, [], `${verdicts.leaks.length} leaks, ${verdicts.ok} ok`);
      assert.ok(verdicts.ok > 0 && verdicts.refused > 0, JSON.stringify(verdicts));
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

Deno.test("the path comes from the request target only: a Host that is not host[:port] gets 400, and the log shows the real target", async () => {
  await using s = await startServer();
  const get = (host: string | undefined, target = "/hello.txt") =>
    rawHead(
      s.port,
      [
        `GET ${target} HTTP/1.1`,
        ...(host === undefined ? [] : [`Host: ${host}`]),
        "Connection: close",
      ]
        .join("\r\n"),
    );
  // Each of these chose the path, or broke the URL, when Deno built req.url from it.
  const bad = [
    "x/sub",
    "x#",
    "x y",
    "[::1",
    "x:99999",
    "x?y",
    "us@er",
    "x\\y",
    "[::1]:",
    "x:",
    "[zz]",
    // Names no host, which an http URL always has (RFC 9112 3.2; nginx: 400).
    "",
  ];
  for (const host of bad) {
    const r = await get(host, "/inner.txt");
    assert.equal(r.status, 400, host);
    assert.doesNotMatch(r.text, /inner|Index of/, host);
    assert.match(s.log.at(-1)!, /"GET \/inner\.txt HTTP\/1\.1" 400 \d+$/, host);
  }
  // Before: Host "x/sub" served /sub/inner.txt and "x#" the listing of /.
  assert.equal((await get("x/sub", "/inner.txt")).status, 400);
  assert.equal((await get("x#", "/hello.txt")).status, 400);
  const good = [
    "example.org",
    "Example.ORG:8080",
    "127.0.0.1:80",
    "[::1]:8080",
    "[::ffff:127.0.0.1]",
    "a-b_c~d.%41!$&'()*+,;=",
    undefined,
  ];
  for (const host of good) {
    const r = await get(host);
    assert.equal(r.status, 200, `${host}`);
    assert.equal(r.text, "hello, world\n");
    assert.match(s.log.at(-1)!, /"GET \/hello\.txt HTTP\/1\.1" 200 13$/, `${host}`);
  }
  // The absolute form (what a proxy receives): its path, whatever the Host.
  const absolute = await get("other.example", "http://example.org/hello.txt?x=1");
  assert.equal(absolute.text, "hello, world\n");
  assert.match(s.log.at(-1)!, /"GET \/hello\.txt\?x=1 HTTP\/1\.1" 200 13$/);
  // The query stays out of the path; a folder's redirect keeps it.
  const redirect = await get("example.org", "/sub?a=1");
  assert.equal(redirect.headers.get("location"), "/sub/?a=1");
});

Deno.test("a small file rewritten twice within one clock tick, same size: every GET has the bytes just written", async () => {
  await using s = await startServer();
  const path = join(s.root, "tick.txt");
  let stale = 0;
  for (let i = 0; i < 200; i++) {
    const a = `A-${String(i).padStart(4, "0")}\n`;
    const b = `B-${String(i).padStart(4, "0")}\n`;
    Deno.writeTextFileSync(path, a);
    const first = await raw(s.port, "/tick.txt");
    Deno.writeTextFileSync(path, b);
    const second = await raw(s.port, "/tick.txt");
    if (first.text !== a || second.text !== b) stale++;
    // A validator handed out with A must not make B a 304.
    const etag = first.headers.get("etag");
    if (etag && (await raw(s.port, "/tick.txt", { "If-None-Match": etag })).status === 304) stale++;
  }
  assert.equal(stale, 0, `${stale} stale answers in 200 tries`);
  // A file changed in the last 2 s carries no validators at all.
  const fresh = await raw(s.port, "/tick.txt");
  assert.equal(fresh.headers.get("etag"), null);
  assert.equal(fresh.headers.get("last-modified"), null);
});

Deno.test("a transfer cut short is logged as cut, with the bytes that went out", async () => {
  await using s = await startServer();
  // Larger than every socket buffer on the way, so the cut lands mid-file.
  const size = 64 * 1024 * 1024;
  {
    using f = await Deno.open(join(s.root, "huge.bin"), { write: true, create: true });
    await f.truncate(size);
  }
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await conn.write(enc.encode("GET /huge.bin HTTP/1.1\r\nHost: test\r\n\r\n"));
  const buf = new Uint8Array(65536);
  for (let got = 0; got < 1_000_000;) got += (await conn.read(buf)) ?? Infinity;
  conn.close(); // With unread data: a reset.
  const cut = await logged(s.log, /"GET \/huge\.bin HTTP\/1\.1"/);
  const m = cut.match(/" 200 (\d+) of (\d+) \(cut short\)$/);
  assert.ok(m, cut);
  assert.ok(Number(m[1]) >= 1_000_000 && Number(m[1]) < size, cut);
  assert.equal(Number(m[2]), size);
  // The file is closed with the connection (this server runs in the test's own process; Linux
  // lists a process's descriptors in /proc).
  const open: string[] = [];
  for (const fd of Deno.build.os === "linux" ? Deno.readDirSync("/proc/self/fd") : []) {
    try {
      open.push(Deno.readLinkSync(`/proc/self/fd/${fd.name}`));
    } catch {
      // Closed meanwhile.
    }
  }
  assert.ok(!open.some((path) => path.endsWith("huge.bin")), open.join("\n"));
  // A complete one says its size, as before.
  const whole = await raw(s.port, "/big.bin");
  assert.equal(whole.body.length, s.big.length);
  assert.match(
    await logged(s.log, /"GET \/big\.bin HTTP\/1\.1"/),
    new RegExp(`" 200 ${s.big.length}$`),
  );
});

Deno.test("server CLI: the port as PORT or -p PORT (the same twice is fine, two different ones are not)", async () => {
  await using s = await startServer();
  for (const args of [["-p", "0"], ["0", "-p", "0"], ["--port=0"]]) {
    await using server = await startScript(["--allow-net", `--allow-read=${s.root}`], SERVER, [
      ...args,
      "-a",
      "127.0.0.1",
      "-d",
      s.root,
    ], /^Serving .* at http:\/\/127\.0\.0\.1:(\d+)\/$/);
    const r = await raw(Number(server.match[1]), "/hello.txt");
    assert.equal(r.text, "hello, world\n", `${args}`);
  }
});

Deno.test("a file that shrinks while it is sent: the body stops at its new end, the connection closes, the log says cut", async () => {
  await using s = await startServer();
  // Sparse, so it costs no disk. The new end is far past what socket buffers can hold when the
  // file shrinks (loopback autotuning lets a receiver buffer up to 32 MiB here), so every byte up
  // to it, and none after, is read after the shrink.
  const size = 256 * 1024 * 1024;
  const newSize = size / 2;
  const path = join(s.root, "shrinks.bin");
  {
    using f = await Deno.open(path, { write: true, create: true });
    await f.truncate(size);
  }
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await conn.write(enc.encode("GET /shrinks.bin HTTP/1.1\r\nHost: test\r\n\r\n"));
  const buf = new Uint8Array(65536);
  const first = (await conn.read(buf)) ?? 0;
  const headBytes = new TextDecoder().decode(buf.subarray(0, first)).indexOf("\r\n\r\n") + 4;
  assert.ok(headBytes >= 4, "the head came in the first read");
  let got = first;
  while (got < 1_000_000) got += (await conn.read(buf)) ?? Infinity;
  await Deno.truncate(path, newSize);
  // The rest: whatever was already on the way, then the end of the connection.
  for (let n; (n = await conn.read(buf)) !== null;) got += n;
  assert.equal(got - headBytes, newSize, "the body ends at the file's new end");
  const cut = await logged(s.log, /"GET \/shrinks\.bin HTTP\/1\.1"/);
  const m = cut.match(/" 200 (\d+) of (\d+) \(cut short\)$/);
  assert.ok(m, cut);
  assert.equal(Number(m[1]), newSize, cut);
  assert.equal(Number(m[2]), size);
});

// ---------------------------------------------------------------------------
// The server reads requests off its own sockets (issue 18): each rule of the
// request grammar, and each way a client can misuse a connection.

/** Writes `bytes` as is, then reads until the server closes; the reply as Latin-1 text. */
async function exchange(port: number, text: string): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new Uint8Array([...text].map((c) => c.charCodeAt(0))));
  return new TextDecoder("latin1").decode(await readAll(conn));
}

/** The status of each response in `text`, in order (bodies skipped by Content-Length). */
function statuses(text: string): number[] {
  const found: number[] = [];
  for (let at = 0; at < text.length;) {
    const end = text.indexOf("\r\n\r\n", at);
    assert.ok(end >= 0, `a response head ends: ${JSON.stringify(text.slice(at, at + 80))}`);
    const head = text.slice(at, end);
    found.push(Number(head.split(" ")[1]));
    const length = head.match(/\r\ncontent-length: (\d+)/i);
    at = end + 4 + (length && !head.startsWith("HTTP/1.1 304") ? Number(length[1]) : 0);
  }
  return found;
}

Deno.test("request heads: the grammar of RFC 9112 is enforced, nothing is guessed", () => {
  const ok = parseHead(
    "GET /a.txt?x=1 HTTP/1.1\r\nHost: example.org\r\nRange:  bytes=0-1 \r\n\r\n",
  );
  assert.equal(ok.method, "GET");
  assert.equal(ok.target, "/a.txt?x=1");
  assert.equal(ok.headers.get("host"), "example.org");
  assert.equal(ok.headers.get("range"), "bytes=0-1");
  assert.equal(ok.keepAlive, true);
  assert.equal(ok.hasBody, false);
  const h10 = (fields: string) => parseHead(`GET / HTTP/1.0\r\n${fields}\r\n`);
  assert.equal(h10("").keepAlive, false);
  assert.equal(h10("Connection: Keep-Alive\r\n").keepAlive, true);
  assert.equal(parseHead("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").keepAlive, false);
  assert.equal(parseHead("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").hasBody, true);
  assert.equal(parseHead("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").hasBody, false);
  assert.equal(parseHead("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").hasBody, true);
  assert.equal(parseHead("GET http://x/a HTTP/1.1\r\n\r\n").target, "http://x/a");
  // A value with UTF-8 in it is obs-text: taken, one character per byte, 0x80-0x9f included (an
  // em dash is E2 80 94; windows-1252, which TextDecoder calls latin1, made it three other
  // characters the grammar refused).
  const utf8Value = enc.encode("GET / HTTP/1.1\r\nX: caf\u00e9 \u2014 \u20ac\r\n\r\n");
  assert.equal(
    parseHead(decodeHead(utf8Value)).headers.get("x"),
    "caf\u00c3\u00a9 \u00e2\u0080\u0094 \u00e2\u0082\u00ac",
  );
  // A byte order mark is not dropped before the check.
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode("GET / HTTP/1.1\r\n\r\n")]);
  assert.throws(() => parseHead(decodeHead(bom)), HeadError);
  assert.equal(parseHead("GET / HTTP/1.2\r\nHost: x\r\n\r\n").keepAlive, true);
  // Spaces around a value are trimmed in one pass: a long run of them inside a value once took
  // 70 ms a head of the server's one thread (a regular expression retried from each space).
  const spaces = `GET / HTTP/1.1\r\nX: a${" ".repeat(8000)}b \r\n\r\n`;
  const began = performance.now();
  for (let i = 0; i < 200; i++) assert.equal(parseHead(spaces).headers.get("x")!.length, 8002);
  assert.ok(performance.now() - began < 3000, "200 heads parsed in linear time (14 s before)");
  const refused: [string, number][] = [
    ["GET /  HTTP/1.1\r\n\r\n", 400],
    ["GET / HTTP/1.1 \r\n\r\n", 400],
    ["get / HTTP/1.1\r\n\r\n", 200], // a token: refused later with 405, not here
    ["G(T / HTTP/1.1\r\n\r\n", 400],
    ["GET a.txt HTTP/1.1\r\n\r\n", 400],
    ["GET * HTTP/1.1\r\n\r\n", 400],
    ["GET / HTTP/2.0\r\n\r\n", 505],
    ["GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["GET / HTTP/1.1\nHost: x\n\n", 200], // bare LF line ends: RFC 9112 2.2 lets a server take them
    ["GET / HTTP/1.1\r\nHost: x\r\r\n\r\n", 400],
    ["\ufeffGET / HTTP/1.1\r\n\r\n", 400],
    ["OPTIONS * HTTP/1.1\r\n\r\n", 200],
    ["GET https://x/a HTTP/1.1\r\n\r\n", 200],
    [`GET / HTTP/1.1\r\n${"X: y\r\n".repeat(MAX_FIELDS + 1)}\r\n`, 431],
  ];
  for (const [text, status] of refused) {
    let got = 200;
    try {
      parseHead(text);
    } catch (error) {
      assert.ok(error instanceof HeadError, `${error}`);
      got = error.status;
    }
    assert.equal(got, status, JSON.stringify(text));
  }
  const bytes = enc.encode("GET / HTTP/1.1\r\n\r\nGET");
  assert.equal(headEnd(bytes, 0, bytes.length), 18);
  assert.equal(headEnd(bytes, 0, 17), -1);
  assert.equal(headEnd(enc.encode("GET /\n\nx"), 0, 8), 7);
});

Deno.test("connections: keep-alive, pipelined requests answered in order, HTTP/1.0 and Connection: close end it", async () => {
  await using s = await startServer();
  const get = (target: string, extra = "") => `GET ${target} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
  // Three requests in one write: three answers, in order, then the close the last asked for.
  const three = await exchange(
    s.port,
    get("/hello.txt") + get("/missing") + get("/hello.txt", "Connection: close\r\n"),
  );
  assert.deepEqual(statuses(three), [200, 404, 200]);
  assert.equal(three.match(/hello, world\n/g)?.length, 2);
  assert.match(three, /connection: close\r\n\r\nhello, world\n$/);
  // HTTP/1.0 closes after one answer unless it asks otherwise; then the answer says it kept it.
  assert.deepEqual(statuses(await exchange(s.port, "GET /hello.txt HTTP/1.0\r\n\r\n")), [200]);
  const kept = await exchange(
    s.port,
    "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello.txt HTTP/1.0\r\n\r\n",
  );
  assert.deepEqual(statuses(kept), [200, 200]);
  assert.match(kept, /^HTTP\/1\.1 200 OK\r\n[^]*connection: keep-alive\r\n\r\nhello/);
  // Empty lines before a request are skipped; lines may end in a bare LF (a student's client).
  const lenient = await exchange(
    s.port,
    "\r\nGET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n\r\nGET /hello.txt HTTP/1.1\nHost: t\nConnection: close\n\n",
  );
  assert.deepEqual(statuses(lenient), [200, 200]);
  // A header value with UTF-8 in it, as a browser's cookie may have.
  const cookie = await exchange(
    s.port,
    "GET /hello.txt HTTP/1.1\r\nHost: t\r\nCookie: t=a\u00e2\u0080\u0094b\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(statuses(cookie), [200]);
  // A request cut in two segments is one request.
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await conn.write(enc.encode("GET /hello.txt HT"));
  await new Promise((r) => setTimeout(r, 50));
  await conn.write(enc.encode("TP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  assert.deepEqual(statuses(dec.decode(await readAll(conn))), [200]);
  assert.equal(s.log.filter((l) => / 200 13$/.test(l)).length, 9);
});

Deno.test("smuggling: a request body is never read as the next request, and an ambiguous one is refused", async () => {
  await using s = await startServer();
  const hidden = "GET /inner.txt HTTP/1.1\r\nHost: t\r\n\r\n";
  // Content-Length on a GET: answered, then closed; the body is never parsed.
  const withBody = await exchange(
    s.port,
    `GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`,
  );
  assert.deepEqual(statuses(withBody), [200]);
  assert.match(withBody, /connection: close\r\n/);
  // Chunked, with or without a length beside it.
  const chunked = `GET /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n` +
    `${hidden.length.toString(16)}\r\n${hidden}\r\n0\r\n\r\n`;
  assert.deepEqual(statuses(await exchange(s.port, chunked)), [200]);
  const both =
    `POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n` +
    `0\r\n\r\n${hidden}`;
  assert.deepEqual(statuses(await exchange(s.port, both)), [400]);
  // A POST with a body: 405, then closed, the body unread.
  const post =
    `POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`;
  assert.deepEqual(statuses(await exchange(s.port, post)), [405]);
  assert.ok(!s.log.some((l) => l.includes("/inner.txt")), s.log.join("\n"));
  // A client that sends its whole 5 MB body before it reads (Python's http.client, curl) still
  // gets the answer: the server drops the body before it closes, where a close with bytes unread
  // would reset the connection under the client.
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const body = new Uint8Array(5_000_000);
  await conn.write(
    enc.encode(`POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`),
  );
  for (let off = 0; off < body.length;) off += await conn.write(body.subarray(off));
  assert.deepEqual(statuses(dec.decode(await readAll(conn))), [405]);
});

Deno.test("limits: a head over 8 KiB gets 431, a request line over it 414; a silent or slow client is closed after the idle timeout while others are served", async () => {
  await using s = await startServer();
  const long = await exchange(s.port, `GET /hello.txt HTTP/1.1\r\nX: ${"a".repeat(9000)}\r\n\r\n`);
  assert.deepEqual(statuses(long), [431]);
  assert.deepEqual(statuses(await exchange(s.port, `GET /${"a".repeat(9000)} HTTP/1.1\r\n\r\n`)), [
    414,
  ]);
  assert.match(s.log.at(-1)!, /"GET \/a{100,}" 414 \d+$/);
  assert.ok(s.log.at(-1)!.length < 400, "the log shows the start of a long line only");
  // Idle timeout: a short one for this server.
  const base = await site();
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    root: base.root,
    idleTimeoutMs: 300,
    log: () => {},
  });
  try {
    const port = server.addr.port;
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    const slow = await Deno.connect({ hostname: "127.0.0.1", port });
    await slow.write(enc.encode("GET /hello.txt HTTP/1.1\r\nHo"));
    // A client that drips its head a byte every 100 ms, each within the idle timeout: the whole
    // head must still come within it.
    const drip = await Deno.connect({ hostname: "127.0.0.1", port });
    let dripping = true;
    const dripped = (async () => {
      try {
        // At most 3 s of it: without the rule, the test fails instead of waiting forever.
        for (let i = 0; dripping && i < 30; i++) {
          await drip.write(enc.encode("X"));
          await new Promise((r) => setTimeout(r, 100));
        }
      } catch {
        // Closed by the server.
      }
    })();
    // Meanwhile another client is served.
    assert.deepEqual(statuses(await exchange(port, "GET /hello.txt HTTP/1.0\r\n\r\n")), [200]);
    const started = Date.now();
    const buf = new Uint8Array(16);
    assert.equal(await silent.read(buf), null, "the silent client is closed");
    assert.equal(await slow.read(buf), null, "the slow client is closed");
    const dripReply = new Uint8Array(1024);
    let dripText = "";
    for (let n; (n = await drip.read(dripReply)) !== null;) {
      dripText += dec.decode(dripReply.subarray(0, n));
    }
    assert.match(dripText, /^HTTP\/1\.1 408 /, "the dripping client gets 408 and is closed");
    assert.ok(Date.now() - started < 5000);
    dripping = false;
    await dripped;
    silent.close();
    slow.close();
    drip.close();
  } finally {
    server.close();
    await server.finished;
    await Deno.remove(base.base, { recursive: true });
  }
});

Deno.test("resets: a client that resets mid-head, mid-pipeline or mid-answer leaves the server serving", async () => {
  await using s = await startServer();
  const reset = async (text: string) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await conn.write(enc.encode(text));
    // Closing with the server's answers unread (the pipelined case) makes Linux send a reset;
    // the cut head is a plain close mid-head. (A reset mid-answer: "a transfer cut short".)
    conn.close();
  };
  for (let i = 0; i < 20; i++) {
    await reset("GET /hello.txt HTTP/1.1\r\nHo");
    await reset("GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n".repeat(50));
  }
  assert.deepEqual(statuses(await exchange(s.port, "GET /hello.txt HTTP/1.0\r\n\r\n")), [200]);
});

// Other people's test suites, run black-box against this server (issue 28): Deno std's
// http/file_server_test.ts, CPython's Lib/test/test_httpservers.py, and RFC 9110/9112 probes
// as nginx answers them. Each test is named after the case it answers.

Deno.test("CPython test_httpservers SimpleHTTPServerTestCase.test_get (Issue 17324), nginx: a file asked for with a trailing slash is 404", async () => {
  await using s = await startServer();
  for (const target of ["/hello.txt/", "/page.html////", "/big.bin/", "/sub/inner.txt/"]) {
    const r = await raw(s.port, target);
    assert.equal(r.status, 404, target);
    assert.doesNotMatch(r.text, /hello, world|INNER/, target);
  }
  // Folders keep their slash form, files their plain one.
  assert.equal((await raw(s.port, "/sub/")).status, 200);
  assert.equal((await raw(s.port, "/hello.txt")).text, "hello, world\n");
});

Deno.test("CPython http.server and nginx: a raw # in the request target ends the path (the fragment is dropped)", async () => {
  await using s = await startServer();
  await Deno.writeTextFile(join(s.root, "file#2.txt"), "hash\n");
  const fragment = await raw(s.port, "/hello.txt#frag");
  assert.equal(fragment.status, 200);
  assert.equal(fragment.text, "hello, world\n");
  assert.equal((await raw(s.port, "/hello.txt?x=1#frag")).text, "hello, world\n");
  // "#2.txt" is a fragment: the path is /file, which is not there.
  assert.equal((await raw(s.port, "/file#2.txt")).status, 404);
  // The name with its # percent-encoded, as a browser sends it.
  assert.equal((await raw(s.port, "/file%232.txt")).text, "hash\n");
  // A folder's redirect does not carry the fragment into its Location.
  assert.equal((await raw(s.port, "/sub#x")).headers.get("location"), "/sub/");
});

Deno.test("RFC 9112 6.3 and 3.2, RFC 9110 4.2.4, as nginx answers them: a Transfer-Encoding not ending in chunked, an unknown coding, a huge Content-Length, userinfo in the target, an empty Host", async () => {
  await using s = await startServer();
  const cases: [string, number][] = [
    ["Transfer-Encoding: gzip", 400],
    ["Transfer-Encoding: identity", 400],
    ["Transfer-Encoding: ", 400],
    ["Transfer-Encoding: chunked, gzip", 400],
    ["Transfer-Encoding: gzip, chunked", 501],
    ["Content-Length: 999999999999999", 413],
  ];
  for (const [field, status] of cases) {
    const r = await rawHead(s.port, `GET /hello.txt HTTP/1.1\r\nHost: x\r\n${field}`);
    assert.equal(r.status, status, field);
    assert.equal(r.headers.get("connection"), "close", field);
    assert.doesNotMatch(r.text, /hello, world/, field);
  }
  // Still served: chunked alone, and a body the server can drop.
  const chunked = await rawHead(
    s.port,
    "GET /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0",
  );
  assert.equal(chunked.status, 200);
  const userinfo = await rawHead(s.port, "GET http://a@b/hello.txt HTTP/1.1\r\nHost: b");
  assert.equal(userinfo.status, 400);
  const absolute = "GET http://b/hello.txt HTTP/1.1\r\nHost: b\r\nConnection: close";
  assert.equal((await rawHead(s.port, absolute)).status, 200);
  // Refused, and the connection ends with the answer, although HTTP/1.1 would keep it.
  const empty = await rawHead(s.port, "GET /hello.txt HTTP/1.1\r\nHost:");
  assert.equal(empty.status, 400);
  assert.equal(empty.headers.get("connection"), "close");
  assert.match(s.log.at(-1)!, /"GET \/hello\.txt HTTP\/1\.1" 400 \d+$/);
});

Deno.test("RFC 9110 15.4.5: a 304 carries the validators, not Content-Type, Content-Length or the other representation fields", async () => {
  await using s = await startServer({ cors: true });
  const first = await raw(s.port, "/hello.txt");
  const etag = first.headers.get("etag")!;
  // From disk, then from memory: the same head.
  for (let i = 0; i < 2; i++) {
    const r = await raw(s.port, "/hello.txt", { "If-None-Match": etag });
    assert.equal(r.status, 304);
    assert.equal(r.headers.get("etag"), etag);
    assert.equal(r.headers.get("last-modified"), first.headers.get("last-modified"));
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
    for (const name of ["content-type", "content-length", "accept-ranges", "content-range"]) {
      assert.equal(r.headers.get(name), null, name);
    }
    assert.equal(r.body.length, 0);
  }
});

Deno.test("Deno std file_server_test 'CORS support' and 'serveWithUnorthodoxFilename': --cors answers carry Access-Control-Allow-Headers; an OPTIONS preflight gets 204", async () => {
  await using s = await startServer({ cors: true });
  for (const target of ["/", "/hello.txt", "/sub/", "/missing.txt", "/sub", "/a%20b.txt"]) {
    const r = await raw(s.port, target);
    assert.equal(r.headers.get("access-control-allow-origin"), "*", target);
    assert.match(r.headers.get("access-control-allow-headers") ?? "", /\bRange\b/, target);
  }
  const preflight = await raw(s.port, "/hello.txt", {
    Origin: "http://example.org",
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "range",
  }, "OPTIONS");
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  assert.match(preflight.headers.get("access-control-allow-methods")!, /\bGET\b/);
  assert.match(preflight.headers.get("access-control-allow-headers")!, /\bRange\b/);
  assert.equal(preflight.body.length, 0);
  // Without --cors, OPTIONS is a method the server does not take.
  await using plain = await startServer();
  const refused = await raw(plain.port, "/hello.txt", {}, "OPTIONS");
  assert.equal(refused.status, 405);
  assert.equal(refused.headers.get("allow"), "GET, HEAD");
  assert.equal(refused.headers.get("access-control-allow-headers"), null);
});

/** Waits until folders changed just now can be checked: their change time, in whole seconds, is older than its grain. */
function settled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, COARSE_RACY_MS + 100));
}

/** Makes `count` empty files named by `name(i)` in a new folder `dir`. */
function manyFiles(dir: string, count: number, name: (i: number) => string): void {
  Deno.mkdirSync(dir);
  for (let i = 0; i < count; i++) Deno.writeFileSync(join(dir, name(i)), new Uint8Array());
}

Deno.test("a listing is capped and built in pieces: 10,050 entries list the first 10,000 and say 50 more; a small file is answered while four listings of 30,000 are built", async () => {
  await using s = await startServer();
  manyFiles(join(s.root, "capped"), MAX_LISTED + 50, (i) => `n${String(i).padStart(5, "0")}`);
  Deno.mkdirSync(join(s.root, "capped", "zz-folder"));
  manyFiles(join(s.root, "big"), 30_000, (i) => `file-${i}.txt`);
  await settled();

  const capped = await raw(s.port, "/capped/");
  assert.equal(capped.status, 200);
  const links = [...capped.text.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1]);
  assert.equal(links.length, 1 + MAX_LISTED, "../ and the first entries");
  // Folders first, then names in order: the first 9,999 files, and not one past them.
  assert.deepEqual(links.slice(0, 3), ["../", "zz-folder/", "n00000"]);
  assert.equal(links.at(-1), "n09998");
  assert.match(capped.text, /51 more entries not shown: a listing shows the first 10000\./);

  // Four listings at once, the server in this process: how long is its one thread ever held?
  // (Built in one piece, a listing of 30,000 held it 0.6-1 s.)
  let longest = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    const small = raw(s.port, "/hello.txt");
    const listings = await Promise.all([1, 2, 3, 4].map(() => raw(s.port, "/big/")));
    for (const listing of listings) assert.match(listing.text, /20000 more entries not shown/);
    assert.equal((await small).text, "hello, world\n");
  } finally {
    clearInterval(ticker);
  }
  assert.ok(longest < 400, `the server's thread was held for ${longest.toFixed(0)} ms at a time`);
});

Deno.test("a listing cut short is logged as cut, with the bytes that went out", async () => {
  await using s = await startServer();
  // Names that escape long: some 20 MB of listing, more than every socket buffer on the way.
  manyFiles(join(s.root, "long"), 8000, (i) => `${i}`.padEnd(250, "<"));
  await settled();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await conn.write(enc.encode("GET /long/ HTTP/1.1\r\nHost: test\r\n\r\n"));
  const buf = new Uint8Array(65536);
  for (let got = 0; got < 1_000_000;) got += (await conn.read(buf)) ?? Infinity;
  conn.close(); // With unread data: a reset.
  const line = await logged(s.log, /"GET \/long\/ HTTP\/1\.1"/);
  const m = line.match(/" 200 (\d+) of (\d+) \(cut short\)$/);
  assert.ok(m, line);
  assert.ok(Number(m[1]) >= 1_000_000 && Number(m[1]) < Number(m[2]), line);
  // A listing read whole says its size.
  const whole = await raw(s.port, "/sub/");
  assert.match(
    await logged(s.log, /"GET \/sub\/ HTTP\/1\.1"/),
    new RegExp(`" 200 ${whole.body.length}$`),
  );
});

Deno.test("a path deeper than MAX_DEPTH folders is refused before anything is resolved (1,900 levels: 404), one within it served", async () => {
  await using s = await startServer();
  const deep = (levels: number) => "/d".repeat(levels);
  Deno.mkdirSync(join(s.root, deep(1900)), { recursive: true });
  Deno.writeTextFileSync(join(s.root, deep(1900), "f.txt"), "deep\n");
  Deno.writeTextFileSync(join(s.root, deep(MAX_DEPTH), "f.txt"), "deep\n");
  await settled();
  assert.equal((await raw(s.port, `${deep(MAX_DEPTH)}/f.txt`)).text, "deep\n");
  assert.equal((await raw(s.port, `${deep(MAX_DEPTH)}/`)).status, 200);
  assert.equal((await raw(s.port, `${deep(MAX_DEPTH + 1)}/f.txt`)).status, 404);
  assert.equal((await raw(s.port, `${deep(1900)}/f.txt`)).status, 404);
  assert.equal((await raw(s.port, `${deep(1900)}/`)).status, 404);
  await Deno.remove(join(s.root, "d"), { recursive: true });
});

Deno.test("a connection cap: past --max-connections a client gets 503 with Retry-After at once; a freed place is taken again", async () => {
  const s = await site();
  try {
    await using server = inProcess((log) =>
      serveHttp({ hostname: "127.0.0.1", port: 0, root: s.root, maxConnections: 2, log })
    );
    const idle = [
      await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
      await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
    ];
    const over = await raw(server.port, "/hello.txt");
    assert.equal(over.status, 503);
    assert.equal(over.headers.get("retry-after"), "1");
    assert.match(await logged(server.log, / 503 /), /"-" 503 \d+ \(2 connections open\)$/);
    idle[0].close();
    // The place is free once the server has seen the close.
    let answer = await raw(server.port, "/hello.txt");
    for (let tries = 0; answer.status === 503 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      answer = await raw(server.port, "/hello.txt");
    }
    assert.equal(answer.text, "hello, world\n");
    idle[1].close();
  } finally {
    await Deno.remove(s.base, { recursive: true });
  }
});

Deno.test("a slow answer is not a silent client: a request whose folder changed just now waits that out past a short idle timeout, and is answered", async () => {
  const s = await site();
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    root: s.root,
    idleTimeoutMs: 300,
    log: () => {},
  });
  try {
    // A folder made just now changes the root's change time: the check waits until that time
    // stamp can tell a later change (1 to 2 s, see common/steady_path.ts), then answers.
    Deno.mkdirSync(join(s.root, "fresh"));
    Deno.writeTextFileSync(join(s.root, "fresh", "f.txt"), "fresh\n");
    const started = Date.now();
    const r = await raw(server.addr.port, "/fresh/f.txt");
    assert.ok(Date.now() - started > 300, "the answer took longer than the idle timeout");
    assert.equal(r.status, 200);
    assert.equal(r.text, "fresh\n");
  } finally {
    server.close();
    await server.finished;
    await Deno.remove(s.base, { recursive: true });
  }
});
