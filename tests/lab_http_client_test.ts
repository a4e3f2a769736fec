import assert from "node:assert/strict";
import { join } from "node:path";
import { randomBytes } from "../harness/bytes.ts";
import { startChaosProxy } from "./support/chaos_proxy.ts";
import { runScript, script } from "../harness/process.ts";
import { rawHttpServer } from "./support/raw_http.ts";

const CLIENT = script("lab_http/client.ts");
const NET = ["--allow-net"];
const enc = new TextEncoder();
const TLS_DIR = script("tests/fixtures/tls");

const ok = (body: string | Uint8Array, extra = "") => {
  const bytes = typeof body === "string" ? enc.encode(body) : body;
  return { parts: [`HTTP/1.1 200 OK\r\nContent-Length: ${bytes.length}\r\n${extra}\r\n`, bytes] };
};

/** Runs the client and returns stdout as bytes as well as text. */
async function curl(
  args: string[],
  options: { stdin?: string; flags?: string[]; cwd?: string } = {},
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...(options.flags ?? NET), CLIENT, ...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(enc.encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    bytes: out.stdout,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("Content-Length body to stdout, and the exact request sent", async () => {
  await using s = rawHttpServer(() => ok("hello, world\n"));
  const r = await curl([`http://127.0.0.1:${s.port}/path/x?q=1`]);
  assert.equal(r.stdout, "hello, world\n");
  assert.equal(r.code, 0);
  assert.equal(
    s.requests[0].head,
    `GET /path/x?q=1 HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nUser-Agent: deno-socket-labs/1.0\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
  );
});

Deno.test("chunked: 1-byte chunks, extensions and trailers; it wins over Content-Length", async () => {
  await using s = rawHttpServer(() => ({
    parts: [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
      "1\r\na\r\n1;name=value\r\nb\r\n",
      "A ; ext\r\n0123456789\r\n",
      "0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n",
    ],
  }));
  const r = await curl([`http://127.0.0.1:${s.port}/`]);
  assert.equal(r.stdout, "ab0123456789");
  assert.equal(r.code, 0);
});

Deno.test("chunked framing errors: a bad size, a missing CRLF", async () => {
  for (
    const [body, pattern] of [
      ["1x\r\nab\r\n0\r\n\r\n", /^error: bad chunk size line: "1x"\n$/],
      ["2\r\nabXY0\r\n\r\n", /^error: missing CRLF after chunk data\n$/],
      ["fffffffffffffff\r\n", /^error: chunk of \d+ bytes is over the limit\n$/],
    ]
  ) {
    await using s = rawHttpServer(() =>
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`
    );
    const r = await curl([`http://127.0.0.1:${s.port}/`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, pattern as RegExp);
  }
});

Deno.test("close-delimited body, and a chunked body cut short is partial (exit 18)", async () => {
  {
    await using s = rawHttpServer(() =>
      "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
    );
    const r = await curl([`http://127.0.0.1:${s.port}/`]);
    assert.equal(r.stdout, "until the end");
    assert.equal(r.code, 0);
  }
  await using s = rawHttpServer(() =>
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc"
  );
  const r = await curl([`http://127.0.0.1:${s.port}/`]);
  assert.equal(r.code, 18);
  assert.match(
    r.stderr,
    /^error: partial body: the connection closed inside the chunked body after 3 bytes\n$/,
  );
});

Deno.test("HEAD (-I), 204 and 304 have no body even when a length is announced", async () => {
  await using s = rawHttpServer((req) =>
    req.method === "HEAD"
      ? { parts: ["HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"], keepOpen: true }
      : req.target === "/204"
      ? { parts: ["HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"], keepOpen: true }
      : {
        parts: ['HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: "x"\r\n\r\n'],
        keepOpen: true,
      }
  );
  const head = await curl([`http://127.0.0.1:${s.port}/`, "-I", "--timeout", "5"]);
  assert.equal(head.code, 0);
  assert.equal(head.stdout, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
  assert.equal(s.requests[0].method, "HEAD");
  for (const path of ["/204", "/304"]) {
    const started = performance.now();
    const r = await curl([`http://127.0.0.1:${s.port}${path}`, "--timeout", "5"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "");
    assert.ok(performance.now() - started < 4000, "the client waited for a body");
  }
});

Deno.test("-i prints the head; -v shows request and response lines on stderr", async () => {
  await using s = rawHttpServer(() => ok("body", "X-Test: 1\r\n"));
  const r = await curl([`http://127.0.0.1:${s.port}/a`, "-i", "-v"]);
  assert.equal(r.stdout, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Test: 1\r\n\r\nbody");
  assert.match(r.stderr, /^> GET \/a HTTP\/1\.1$/m);
  assert.match(r.stderr, /^> Host: 127\.0\.0\.1:\d+$/m);
  assert.match(r.stderr, /^< HTTP\/1\.1 200 OK$/m);
  assert.match(r.stderr, /^< X-Test: 1$/m);
});

Deno.test("-L follows a redirect chain (relative Location, 303 turns POST-less GET), loops stop at 10", async () => {
  await using s = rawHttpServer((req) => {
    if (req.target === "/a") {
      return "HTTP/1.1 301 Moved\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n";
    }
    if (req.target === "/b") {
      return "HTTP/1.1 302 Found\r\nLocation: c?x=1\r\nContent-Length: 0\r\n\r\n";
    }
    if (req.target === "/c?x=1") {
      return `HTTP/1.1 303 See Other\r\nLocation: http://127.0.0.1:${s.port}/end\r\n\r\n`;
    }
    if (req.target === "/end") return ok("arrived");
    return "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n";
  });
  const r = await curl([`http://127.0.0.1:${s.port}/a`, "-L"]);
  assert.equal(r.stdout, "arrived");
  assert.deepEqual(s.requests.map((q) => q.target), ["/a", "/b", "/c?x=1", "/end"]);
  const noFollow = await curl([`http://127.0.0.1:${s.port}/a`]);
  assert.equal(noFollow.code, 0);
  assert.equal(noFollow.stdout, "");
  s.requests.length = 0;
  const loop = await curl([`http://127.0.0.1:${s.port}/loop`, "-L"]);
  assert.equal(loop.code, 47);
  assert.equal(loop.stderr, "error: maximum (10) redirects followed\n");
  assert.equal(s.requests.length, 11);
});

Deno.test("404: body and exit 0 by default, exit 22 and no body with -f", async () => {
  await using s = rawHttpServer(() =>
    "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"
  );
  const plain = await curl([`http://127.0.0.1:${s.port}/x`]);
  assert.equal(plain.code, 0);
  assert.equal(plain.stdout, "not found");
  const failing = await curl([`http://127.0.0.1:${s.port}/x`, "-f"]);
  assert.equal(failing.code, 22);
  assert.equal(failing.stdout, "");
  assert.equal(failing.stderr, "error: the requested URL returned error: 404\n");
});

Deno.test("a truncated body: exit 18 with the counts, and no -o file", async () => {
  await using s = rawHttpServer(() => ({
    parts: ["HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", new Uint8Array(1200)],
  }));
  const dir = await Deno.makeTempDir();
  try {
    const r = await curl([`http://127.0.0.1:${s.port}/`, "-o", "out.bin"], {
      flags: [...NET, `--allow-write=${dir}`],
      cwd: dir,
    });
    assert.equal(r.code, 18);
    assert.equal(r.stderr, "error: partial body: got 1200 of 5000 bytes\n");
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("garbage, obs-fold, conflicting lengths and an oversized head are errors that say what came", async () => {
  const cases: [string, RegExp][] = [
    ["SSH-2.0-OpenSSH_9.6\r\n\r\n", /^error: malformed status line: "SSH-2\.0-OpenSSH_9\.6"\n$/],
    [
      "HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\n\r\n",
      /^error: obsolete line folding in a header \(rejected\)\n$/,
    ],
    [
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      /^error: conflicting Content-Length values: 3, 4\n$/,
    ],
    ["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", /^error: invalid Content-Length: -1\n$/],
    [
      "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
      /^error: malformed header line: "Bad Header: x"\n$/,
    ],
    [
      "HTTP/1.1 200 OK\r\n" + `X-Big: ${"a".repeat(1000)}\r\n`.repeat(70) + "\r\n",
      /^error: header section larger than 65536 bytes\n$/,
    ],
    [
      "HTTP/1.1 200 OK\r\n" + "X-N: 1\r\n".repeat(101) + "\r\n",
      /^error: more than 100 header fields\n$/,
    ],
  ];
  for (const [reply, pattern] of cases) {
    await using s = rawHttpServer(() => reply);
    const r = await curl([`http://127.0.0.1:${s.port}/`]);
    assert.equal(r.code, 1, `${reply.slice(0, 30)}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});

Deno.test("a server that never answers: a timeout, exit 1", async () => {
  await using s = rawHttpServer(() => ({ parts: [], keepOpen: true }));
  const r = await curl([`http://127.0.0.1:${s.port}/`, "--timeout", "0.3"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "error: timed out after 0.3 s\n");
});

Deno.test("a 5 MiB binary body with -o is byte-exact", async () => {
  const body = randomBytes(5 * 1024 * 1024);
  await using s = rawHttpServer(() => ok(body, "Content-Type: application/octet-stream\r\n"));
  const dir = await Deno.makeTempDir();
  try {
    const r = await curl([`http://127.0.0.1:${s.port}/blob`, "-o", join(dir, "blob.bin")], {
      flags: [...NET, `--allow-read=${dir}`, `--allow-write=${dir}`],
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await Deno.readFile(join(dir, "blob.bin")), body);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["blob.bin"]);
    const stdout = await curl([`http://127.0.0.1:${s.port}/blob`]);
    assert.deepEqual(stdout.bytes, body);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("IPv6 loopback: bracketed Host header", async () => {
  await using s = rawHttpServer(() => ok("v6"), { hostname: "::1" });
  const r = await curl([`http://[::1]:${s.port}/`]);
  assert.equal(r.stdout, "v6");
  assert.match(s.requests[0].head, new RegExp(`\r\nHost: \\[::1\\]:${s.port}\r\n`));
});

Deno.test("1-byte segmentation through the chaos proxy parses the same", async () => {
  await using s = rawHttpServer(() =>
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
  );
  await using proxy = startChaosProxy({
    target: { hostname: "127.0.0.1", port: s.port },
    segmentSize: 1,
  });
  const r = await curl([`http://127.0.0.1:${proxy.addr.port}/`, "-i"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\nabcde");
});

Deno.test("https with --cacert; without it the certificate is refused", async () => {
  const tls = {
    cert: await Deno.readTextFile(join(TLS_DIR, "server.pem")),
    key: await Deno.readTextFile(join(TLS_DIR, "server.key")),
  };
  await using s = rawHttpServer(() => ok("secure"), { tls });
  const r = await curl([`https://localhost:${s.port}/`, "--cacert", join(TLS_DIR, "ca.pem")], {
    flags: [...NET, `--allow-read=${TLS_DIR}`],
  });
  assert.equal(r.stdout, "secure", r.stderr);
  assert.match(s.requests[0].head, new RegExp(`Host: localhost:${s.port}\r\n`));
  const untrusted = await curl([`https://localhost:${s.port}/`]);
  assert.equal(untrusted.code, 1);
  assert.match(
    untrusted.stderr,
    /^error: TLS with localhost:\d+ failed: invalid peer certificate: UnknownIssuer\n$/,
  );
});

Deno.test("the handout's interactive loop, driven through stdin", async () => {
  await using s = rawHttpServer((req) => ok(`page ${req.target}`, "Content-Type: text/plain\r\n"));
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = closed.addr.port;
  closed.close();
  const r = await curl([], {
    stdin:
      `http://127.0.0.1:${s.port}/one\nnot a url\nhttp://127.0.0.1:${deadPort}/\nhttp://127.0.0.1:${s.port}/two\n\n`,
  });
  assert.equal(r.code, 0);
  assert.match(
    r.stdout,
    /^Type the object's URL: HTTP\/1\.1 200 OK\r\nContent-Length: 9\r\nContent-Type: text\/plain\r\n\r\npage \/one\n/,
  );
  assert.match(r.stdout, /Type the object's URL: Error in parsing URL not a url\. Retry\.\n/);
  assert.match(r.stdout, /page \/two\nType the object's URL: $/);
  assert.equal(r.stderr, `error: could not connect to 127.0.0.1:${deadPort}: connection refused\n`);
});

Deno.test("bad arguments exit 2", async () => {
  for (const args of [["ftp://x/"], ["--nope"], ["http://a/", "http://b/"]]) {
    const r = await runScript(NET, CLIENT, args);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, /^error: /);
  }
});
