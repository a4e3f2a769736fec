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

/** Bounds every run: a client that waits for ever is killed, and its test fails on the exit code. */
const KILL_AFTER_MS = 20_000;

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
  const killer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(enc.encode(options.stdin));
    await w.close();
  }
  const out = await child.output().finally(() => clearTimeout(killer));
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
      flags: [...NET, `--allow-read=${dir}`, `--allow-write=${dir}`],
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

// --- Hardening (issue 15: findings 6, 10, 11) -------------------------------------------------

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function send(conn: Deno.Conn, data: string | Uint8Array): Promise<void> {
  let bytes = typeof data === "string" ? enc.encode(data) : data;
  while (bytes.length) bytes = bytes.subarray(await conn.write(bytes));
}

/** Sends `data` every `ms` until the client leaves. */
async function sendEvery(conn: Deno.Conn, data: string, ms: number): Promise<never> {
  while (true) {
    await send(conn, data);
    await sleep(ms);
  }
}

/** Waits, reading and ignoring, until the client closes (or dispose closes us). */
async function waitForHangUp(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(4096);
  while ((await conn.read(buf)) !== null) { /* ignore */ }
}

Deno.test("finding 6: a server that accepts and never speaks TLS: the handshake times out, exit 1", async () => {
  // No request ever comes (the ClientHello has no blank line): the server says nothing.
  await using silent = rawHttpServer(() => "");
  const url = `https://127.0.0.1:${silent.port}/`;
  const r = await curl([url, "--timeout", "0.3"]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr,
    `error: TLS with 127.0.0.1:${silent.port} failed: timed out after 0.3 s\n`,
  );
  // --max-time covers the handshake too, with curl's exit code 28.
  const whole = await curl([url, "--timeout", "10", "--max-time", "0.3"]);
  assert.equal(whole.code, 28, whole.stderr);
  assert.equal(whole.stderr, "error: the whole transfer took longer than 0.3 s (--max-time)\n");
});

// A control character in every place a server's text is shown: status line, a header (bare CR,
// ESC, BEL, and byte 0x9d, which the header decoding, windows-1252 as WHATWG's "latin1" is,
// turns into the C1 control OSC), and the error messages that quote what the server sent.
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/u;

Deno.test("finding 10: server text under -i and -v is printed with control characters escaped; the body stays raw", async () => {
  const body = enc.encode("b\x1b[0mdy\r\n");
  await using s = rawHttpServer(() => ({
    parts: [
      Uint8Array.from([
        ...enc.encode("HTTP/1.1 200 O\x1b[2JK\r\nX-Evil: a\rb\x1b]0;title\x07c"),
        0x9d,
        ...enc.encode(`31m\r\nContent-Length: ${body.length}\r\n\r\n`),
      ]),
      body,
    ],
  }));
  const r = await curl([`http://127.0.0.1:${s.port}/`, "-i", "-v"]);
  assert.equal(r.code, 0, r.stderr);
  const head = "HTTP/1.1 200 O\\x1b[2JK\r\nX-Evil: a\\x0db\\x1b]0;title\\x07c\\x9d31m\r\n" +
    `Content-Length: ${body.length}\r\n\r\n`;
  assert.deepEqual(r.bytes, Uint8Array.from([...enc.encode(head), ...body]));
  assert.match(r.stderr, /^< HTTP\/1\.1 200 O\\x1b\[2JK$/m);
  assert.match(r.stderr, /^< X-Evil: a\\x0db\\x1b\]0;title\\x07c\\x9d31m$/m);
  assert.doesNotMatch(r.stderr, CONTROL);
  // -I prints the head alone, escaped the same way.
  const headOnly = await curl([`http://127.0.0.1:${s.port}/`, "-I"]);
  assert.equal(headOnly.stdout, head);
});

Deno.test("finding 10: error messages that quote the server escape its control characters", async () => {
  const cases: [Uint8Array, RegExp][] = [
    [
      Uint8Array.from([...enc.encode("\x1b[2JHTTP/1.1 200 OK"), 0x9d, ...enc.encode("\r\n\r\n")]),
      /^error: malformed status line: "\\u001b\[2JHTTP\/1\.1 200 OK\\x9d"\n$/,
    ],
    [
      enc.encode("HTTP/1.1 200 OK\r\nBad\x1b[1m Header: x\r\n\r\n"),
      /^error: malformed header line: "Bad\\u001b\[1m Header: x"\n$/,
    ],
    [
      Uint8Array.from([
        ...enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 1"),
        0x9d,
        ...enc.encode("\x1b\r\n\r\n"),
      ]),
      /^error: invalid Content-Length: 1\\x9d\\x1b\n$/,
    ],
    [
      enc.encode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\x1b[2J\r\n"),
      /^error: bad chunk size line: "z\\u001b\[2J"\n$/,
    ],
  ];
  for (const [reply, pattern] of cases) {
    await using s = rawHttpServer(() => reply);
    const r = await curl([`http://127.0.0.1:${s.port}/`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, CONTROL);
  }
});

Deno.test("finding 11: an endless run of 100 Continue is cut after 10 interim responses", async () => {
  await using s = rawHttpServer(() => ({
    serve: (conn) => sendEvery(conn, "HTTP/1.1 100 Continue\r\n\r\n", 20),
  }));
  const r = await curl([`http://127.0.0.1:${s.port}/`, "--timeout", "10", "-v"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^< HTTP\/1\.1 100 Continue$/m);
  assert.match(r.stderr, /\nerror: more than 10 interim \(1xx\) responses\n$/);
});

Deno.test("finding 11: --timeout bounds the whole response head: slow interim responses, a dripped status line", async () => {
  // Each piece comes well within the timeout, so only a limit on the whole head stops them.
  await using interim = rawHttpServer(() => ({
    serve: (conn) => sendEvery(conn, "HTTP/1.1 102 Processing\r\n\r\n", 150),
  }));
  await using dripped = rawHttpServer(() => ({
    serve: async (conn) => {
      for (const byte of enc.encode("HTTP/1.1 200 OK\r\n" + "X-Slow: 1\r\n".repeat(1000))) {
        await send(conn, Uint8Array.of(byte));
        await sleep(50);
      }
    },
  }));
  for (const port of [interim.port, dripped.port]) {
    const r = await curl([`http://127.0.0.1:${port}/`, "--timeout", "0.6"]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, "error: timed out after 0.6 s\n");
  }
});

Deno.test("finding 11: --timeout bounds each wait for body bytes; --max-time the whole body (exit 28, no -o file)", async () => {
  await using stalled = rawHttpServer(() => ({
    serve: async (conn) => {
      await send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome");
      await waitForHangUp(conn);
    },
  }));
  const stall = await curl([`http://127.0.0.1:${stalled.port}/`, "--timeout", "0.3"]);
  assert.equal(stall.code, 1, stall.stderr);
  assert.equal(stall.stdout, "some");
  assert.equal(stall.stderr, "error: timed out after 0.3 s\n");

  // One byte every 100 ms: never idle for 2 s, so only --max-time ends it.
  await using dripping = rawHttpServer(() => ({
    serve: async (conn) => {
      await send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
      await sendEvery(conn, "x", 100);
    },
  }));
  const dir = await Deno.makeTempDir();
  try {
    const r = await curl(
      [`http://127.0.0.1:${dripping.port}/`, "--timeout", "2", "--max-time", "1", "-o", "f.bin"],
      { flags: [...NET, `--allow-read=${dir}`, `--allow-write=${dir}`], cwd: dir },
    );
    assert.equal(r.code, 28, r.stderr);
    assert.equal(r.stderr, "error: the whole transfer took longer than 1 s (--max-time)\n");
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Polls until `check` holds (a few seconds at most). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; !check(); i++) {
    if (i > 500) throw new Error(`never: ${what}`);
    await sleep(20);
  }
}

Deno.test("finding 11: Ctrl+C or SIGTERM during -o removes the .part file; exit 130 or 143", async () => {
  const signals: [Deno.Signal, number][] = Deno.build.os === "windows"
    ? [["SIGINT", 130]]
    : [["SIGINT", 130], ["SIGTERM", 143]];
  // Part of the body, then silence.
  await using s = rawHttpServer(() => ({
    serve: async (conn) => {
      await send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
      await send(conn, new Uint8Array(1000));
      await waitForHangUp(conn);
    },
  }));
  for (const [signal, code] of signals) {
    const dir = await Deno.makeTempDir();
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--no-prompt",
          `--allow-net=127.0.0.1:${s.port}`,
          `--allow-read=${dir}`,
          `--allow-write=${dir}`,
          CLIENT,
          `http://127.0.0.1:${s.port}/big.bin`,
          "-o",
          join(dir, "big.bin"),
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const killer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
      try {
        const partSize = () =>
          [...Deno.readDirSync(dir)].reduce((n, e) => n + Deno.statSync(join(dir, e.name)).size, 0);
        await eventually(() => partSize() === 1000, "the first 1000 bytes in the .part file");
        assert.match([...Deno.readDirSync(dir)][0].name, /^\.big\.bin\.[0-9a-f]{8}\.part$/);
        child.kill(signal);
        const out = await child.output();
        // Neither the .part file nor the target: nothing is left behind.
        assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [], signal);
        assert.equal(out.code, code, `${signal}: ${new TextDecoder().decode(out.stderr)}`);
        assert.equal(new TextDecoder().decode(out.stderr), `error: interrupted (${signal})\n`);
      } finally {
        clearTimeout(killer);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("the README's least-privilege run lines work: the host (any port, so -p needs no change) or one host:port, -o with its folder, --cacert with its file", async () => {
  await using s = rawHttpServer(() => ok("scoped\n"));
  const net = "--allow-net=127.0.0.1";
  for (const flag of [net, `--allow-net=127.0.0.1:${s.port}`]) {
    const plain = await curl([`http://127.0.0.1:${s.port}/`], { flags: [flag] });
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, "scoped\n");
  }
  // Another host is not allowed: the flag names a host, not every one.
  const other = await curl([`http://localhost:${s.port}/`], { flags: [net] });
  assert.equal(other.code, 1);
  assert.match(
    other.stderr,
    /requires net access to "localhost:\d+", run again with the --allow-net flag/,
  );

  const dir = await Deno.makeTempDir();
  try {
    const saved = await curl([`http://127.0.0.1:${s.port}/`, "-o", "page.txt"], {
      flags: [net, `--allow-read=${dir}`, `--allow-write=${dir}`],
      cwd: dir,
    });
    assert.equal(saved.code, 0, saved.stderr);
    assert.equal(await Deno.readTextFile(join(dir, "page.txt")), "scoped\n");
    // --allow-write alone cannot rename the finished file: said at once, before any request.
    const requests = s.requests.length;
    const writeOnly = await curl([`http://127.0.0.1:${s.port}/`, "-o", "again.txt"], {
      flags: [net, `--allow-write=${dir}`],
      cwd: dir,
    });
    assert.equal(writeOnly.code, 1);
    assert.equal(
      writeOnly.stderr,
      "error: -o again.txt needs --allow-write=. and --allow-read=.: " +
        "the body goes to a temporary file there, renamed into place when complete\n",
    );
    assert.equal(s.requests.length, requests);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["page.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  const tls = {
    cert: await Deno.readTextFile(join(TLS_DIR, "server.pem")),
    key: await Deno.readTextFile(join(TLS_DIR, "server.key")),
  };
  await using secure = rawHttpServer(() => ok("secure"), { tls });
  const ca = join(TLS_DIR, "ca.pem");
  const r = await curl([`https://localhost:${secure.port}/`, "--cacert", ca], {
    flags: [`--allow-net=localhost:${secure.port}`, `--allow-read=${ca}`],
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "secure");
});
