import assert from "node:assert/strict";
import { formatAddr } from "../common/addr.ts";
import { parseCli, parsePort, UsageError } from "../common/cli.ts";
import { describeError, Failure } from "../common/errors.ts";
import { IdleTimeoutError, withTimeout, writeAll } from "../common/io.ts";
import { LineTooLongError, ProtocolError, readAhead, readLine } from "../common/lines.ts";
import { closeIdle } from "../common/idle.ts";
import { acceptWithRetry } from "../common/server.ts";
import { escapeControl, traced } from "../common/trace.ts";
import { join } from "node:path";
import { runScript } from "../harness/process.ts";

const enc = new TextEncoder();

/** An in-memory stream that delivers `data` cut at the given offsets, one piece per read. */
function splitStream(data: Uint8Array, cuts: number[]) {
  const pieces: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, data.length]) {
    if (c > prev) pieces.push(data.slice(prev, c));
    prev = Math.max(prev, c);
  }
  const written: Uint8Array[] = [];
  return {
    written,
    read(p: Uint8Array): Promise<number | null> {
      const piece = pieces.shift();
      if (!piece) return Promise.resolve(null);
      const n = Math.min(p.length, piece.length);
      p.set(piece.subarray(0, n));
      if (n < piece.length) pieces.unshift(piece.subarray(n));
      return Promise.resolve(n);
    },
    write(p: Uint8Array): Promise<number> {
      // Accept at most 3 bytes per call, to prove writeAll loops.
      written.push(p.slice(0, 3));
      return Promise.resolve(Math.min(3, p.length));
    },
  };
}

Deno.test("readLine parses the same at every split point, the read-ahead small", async () => {
  const data = enc.encode("Ann\r\nstraße 42\nXYZ\n12345\r\ntail\n");
  for (let a = 0; a <= data.length; a++) {
    for (let b = a; b <= data.length; b += 3) {
      const stream = splitStream(data, [a, b]);
      // Just room for the longest line and its "\r\n": what is left moves to the front.
      const ahead = readAhead(12);
      assert.equal(await readLine(stream, ahead, 10), "Ann");
      assert.equal(await readLine(stream, ahead, 10), "straße 42");
      for (const part of ["XYZ", "12345", "tail"]) {
        assert.equal(await readLine(stream, ahead, 10), part, `cut at ${a}, ${b}`);
      }
      assert.equal(await readLine(stream, ahead, 10), null);
    }
  }
});

Deno.test("readLine enforces its limit, strict UTF-8 and a terminated last line", async () => {
  const line = (text: string | Uint8Array, cuts: number[], max: number) => {
    const bytes = typeof text === "string" ? enc.encode(text) : text;
    return readLine(splitStream(bytes, cuts), readAhead(), max);
  };
  await assert.rejects(line("x".repeat(50) + "\n", [7, 20], 10), LineTooLongError);
  // Exactly at the limit, with \r\n, is fine.
  assert.equal(await line("abcd\r\n", [5], 4), "abcd");
  await assert.rejects(line(new Uint8Array([0xff, 0x0a]), [], 10), ProtocolError);
  await assert.rejects(line("abc", [1], 10), /connection closed in the middle of a line/);
  // A line that never ends is refused once the limit is passed, not at end of stream, as is one
  // longer than the read-ahead holds.
  assert.equal(await line("12345678\r\n", [3, 9], 8), "12345678");
  const endless: Pick<Deno.Conn, "read"> = {
    read: (p) => Promise.resolve((p.fill(0x61), p.length)),
  };
  await assert.rejects(readLine(endless, readAhead(), 4096), /longer than 4096/);
  await assert.rejects(readLine(endless, readAhead(8), 100), LineTooLongError);
  // At the end of the stream, with no line begun: null, as many times as it is asked (lab2 reads
  // its second line after a first null).
  const ended = splitStream(enc.encode("last\n"), []);
  const ahead = readAhead();
  assert.equal(await readLine(ended, ahead, 10), "last");
  assert.equal(await readLine(ended, ahead, 10), null);
  assert.equal(await readLine(ended, ahead, 10), null);
});

Deno.test("writeAll loops over partial writes; traced() shows each read and write", async () => {
  const stream = splitStream(enc.encode("in"), []);
  const seen: string[] = [];
  const socket = traced(stream, (d, b) => seen.push(`${d} ${new TextDecoder().decode(b)}`));
  await writeAll(socket, enc.encode("abcdefgh"));
  assert.deepEqual(stream.written.map((b) => new TextDecoder().decode(b)), ["abc", "def", "gh"]);
  assert.equal(await socket.read(new Uint8Array(8)), 2);
  assert.equal(await socket.read(new Uint8Array(8)), null);
  assert.deepEqual(seen, ["-> abc", "-> def", "-> gh", "<- in"]);
});

/** Runs a child script that imports `imports` from `common/<module>`, and returns its result. */
async function runCommonChild(imports: string, module: string, body: string, flags: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "common_test_" });
  try {
    const child = join(dir, "child.ts");
    const url = JSON.stringify(new URL(`../common/${module}`, import.meta.url).href);
    await Deno.writeTextFile(child, `import { ${imports} } from ${url};\n${body}`);
    return await runScript(flags, child);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs a child script that logs through common/log.ts and returns its result. */
function runLogChild(body: string) {
  return runCommonChild(
    "logLine",
    "log.ts",
    `const MAX_PENDING = 10_000; // the log's bound\n${body}`,
  );
}

Deno.test("the batched log writes every line once, in order, across timed flushes and a full batch", async () => {
  // Bursts with pauses (several timed flushes), then as many lines in one
  // turn as the log keeps; the rest is left to the timer.
  const r = await runLogChild(`let n = 0;
for (let burst = 0; burst < 30; burst++) {
  for (let i = 0; i < 300; i++) logLine("line " + n++);
  await new Promise((r) => setTimeout(r, 3));
}
await new Promise((r) => setTimeout(r, 100));
for (let i = 0; i < MAX_PENDING; i++) logLine("line " + n++);
await new Promise((r) => setTimeout(r, 100));
`);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines.pop(), "");
  assert.equal(lines.length, 30 * 300 + 10_000);
  lines.forEach((line, i) => assert.equal(line, `line ${i}`));
});

Deno.test("lines past the log's bound are dropped, never held without limit", async () => {
  const r = await runLogChild(`for (let i = 0; i < MAX_PENDING + 7; i++) logLine("line " + i);
await new Promise((r) => setTimeout(r, 100));
`);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines.pop(), "");
  assert.equal(lines.length, 10_000);
  assert.equal(lines.at(-1), `line ${10_000 - 1}`);
});

Deno.test("trace lines go to stderr as log lines go to stdout: bounded, flushed at exit", async () => {
  const r = await runCommonChild(
    "flushLog, logLine, traceLine",
    "log.ts",
    `for (let i = 0; i < 10_000 + 7; i++) traceLine("line " + i);
logLine("on stdout");
await flushLog();
`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "on stdout\n");
  const lines = r.stderr.split("\n");
  assert.equal(lines.pop(), "");
  assert.equal(lines.length, 10_000);
  assert.equal(lines.at(-1), `line ${10_000 - 1}`);
});

Deno.test("withTimeout: a wait past its limit rejects with IdleTimeoutError, and the socket closed after it ends the read", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const conn = await listener.accept();
  const started = performance.now();
  const error = await withTimeout(100, readLine(conn, readAhead(), 10)).catch((e) => e);
  assert.ok(error instanceof IdleTimeoutError);
  assert.equal(error.ms, 100);
  assert.equal(error.message, "timed out after 0.1 s");
  assert.ok(performance.now() - started >= 90);
  // The caller closes the socket: the read left pending ends, unhandled by nobody, and the
  // client sees the close.
  conn.close();
  assert.equal(await client.read(new Uint8Array(1)), null);
  // An answer in time is the answer, and its timer is cleared (the sanitizer checks).
  assert.equal(await withTimeout(1000, Promise.resolve("on time")), "on time");
});

Deno.test("closeIdle closes and forgets the connections idle past the timeout, and only those", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using idleClient = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const idle = await listener.accept();
  using busyClient = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using busy = await listener.accept();
  const open = new Map<Deno.TcpConn, number>([
    [idle, performance.now() - 1000],
    [busy, performance.now()],
  ]);
  closeIdle(open, 500);
  assert.deepEqual([...open.keys()], [busy]);
  assert.equal(await idleClient.read(new Uint8Array(1)), null, "the idle one is closed");
  await busyClient.write(enc.encode("x"));
  assert.equal(await busy.read(new Uint8Array(1)), 1, "the busy one is open");
});

Deno.test("acceptWithRetry gives each connection, and null once the listener is closed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const log: string[] = [];
  const conn = await acceptWithRetry(listener, (l) => log.push(l));
  assert.ok(conn);
  conn.close();
  setTimeout(() => listener.close(), 10);
  assert.equal(await acceptWithRetry(listener, (l) => log.push(l)), null);
  assert.deepEqual(log, []);
  assert.equal(await client.read(new Uint8Array(1)), null);
});

Deno.test("real sockets: lines sent byte by byte arrive whole", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using conn = await listener.accept();
  const text = enc.encode("first line\nsecond\n");
  const sending = (async () => {
    for (const byte of text) {
      await client.write(new Uint8Array([byte]));
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  const ahead = readAhead();
  assert.equal(await readLine(conn, ahead, 64), "first line");
  assert.equal(await readLine(conn, ahead, 64), "second");
  await sending;
});

Deno.test("ask: one line per question from piped stdin (\\r\\n or \\n), the last without its newline, then null", async () => {
  const r = await runScript([], new URL("./support/ask_child.ts", import.meta.url).pathname, [], {
    stdin: "first\r\nsecond ä\nthird",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Q? Q? Q? Q? ["first","second ä","third",null]\n');
});

Deno.test("the stderr trace shows bytes as quoted text, bytes not UTF-8 as U+FFFD, after the peer's label", async () => {
  const r = await runCommonChild(
    "tracer",
    "trace.ts",
    `const png = new Uint8Array(1024);
png.set([0x89, 0x50, 0x4e, 0x47]);
tracer(undefined, console.error)("->", new TextEncoder().encode("Ann\\n42\\n"));
tracer("127.0.0.1:5000", console.error)("<-", png);
tracer(undefined, console.error)("<-", new Uint8Array([0x41]));
`,
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split("\n");
  assert.equal(lines[0], '-> 7 bytes  "Ann\\n42\\n"');
  const nul = "\\u0000";
  assert.equal(lines[1], `[127.0.0.1:5000] <- 1024 bytes  "\ufffdPNG${nul.repeat(56)}" ...`);
  assert.equal(lines[2], '<- 1 byte  "A"');
  assert.deepEqual(lines.slice(3), [""]);
});

Deno.test("a server's trace goes through traceLine; either trace escapes DEL, C1 and bidirectional controls", async () => {
  const r = await runCommonChild(
    "tracer",
    "trace.ts",
    `import { flushLog } from ${JSON.stringify(new URL("../common/log.ts", import.meta.url).href)};
const text = new TextEncoder().encode("ok \\u202egnp.exe");
tracer(undefined, console.error)("<-", text);
tracer("127.0.0.1:5000")("<-", text);
tracer("127.0.0.1:5000")("->", new TextEncoder().encode("a\\u009b2J\\u007f"));
await flushLog();
`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    '<- 13 bytes  "ok \\u202egnp.exe"\n' +
      '[127.0.0.1:5000] <- 13 bytes  "ok \\u202egnp.exe"\n' +
      '[127.0.0.1:5000] -> 6 bytes  "a\\x9b2J\\x7f"\n',
  );
});

Deno.test("addresses as host:port, IPv6 in brackets, or as the handout's Python prints them", () => {
  assert.equal(formatAddr({ hostname: "::1", port: 80 }), "[::1]:80");
  assert.equal(formatAddr({ hostname: "example.org", port: 80 }), "example.org:80");
  assert.equal(formatAddr({ hostname: "127.0.0.1", port: 5000 }, "python"), "('127.0.0.1', 5000)");
});

Deno.test("parsePort: servers take 0 or 1024..65535, clients 1..65535", () => {
  assert.equal(parsePort("0", "server"), 0);
  assert.equal(parsePort("1024", "server"), 1024);
  assert.throws(() => parsePort("80", "server"), UsageError);
  assert.equal(parsePort("80", "client"), 80);
  for (const bad of ["0", "65536", "-1", "abc", "1e3", ""]) {
    assert.throws(() => parsePort(bad, "client"), UsageError);
  }
});

Deno.test("parseCli: defaults, short flags, long-only options, bad options told apart", () => {
  const spec = {
    name: "x.ts",
    summary: "test",
    options: {
      port: { type: "string", short: "p", default: "12000", help: "port" },
      timeout: { type: "string", arg: "SECONDS", default: "10", help: "limit" },
      trace: { type: "boolean", help: "print every socket read and write to stderr" },
    },
  } as const;
  assert.equal(parseCli(spec, []).values.port, "12000");
  assert.equal(parseCli(spec, ["-p", "5"]).values.port, "5");
  assert.equal(parseCli(spec, ["--timeout", "2"]).values.timeout, "2");
  assert.equal(parseCli(spec, ["--trace"]).values.trace, true);
  assert.throws(() => parseCli(spec, ["--nope"]), /^UsageError: unknown option '--nope'$/);
  assert.throws(() => parseCli(spec, ["-x"]), /unknown option '-x'/);
  assert.throws(() => parseCli(spec, ["extra"]), /unexpected argument 'extra'/);
  assert.throws(() => parseCli(spec, ["--timeout"]), /option '--timeout <value>' argument missing/);
  assert.throws(
    () => parseCli(spec, ["-p", "--trace"]),
    /^UsageError: option '-p' argument is ambiguous\. Did you forget .* use '--port=-XYZ'/,
  );
  assert.throws(() => parseCli(spec, ["--trace=1"]), /option '--trace' does not take an argument/);
  assert.match(parseCli(spec, []).usage, /-p, --port PORT +port \(default: 12000\)/);
  assert.match(parseCli(spec, []).usage, /\n {6}--timeout SECONDS +limit \(default: 10\)/);
});

Deno.test("describeError gives one short phrase", () => {
  assert.equal(
    describeError(new Deno.errors.ConnectionRefused("Connection refused (os error 111)")),
    "connection refused",
  );
  assert.equal(
    describeError(new Deno.errors.AddrInUse("Address already in use (os error 98)")),
    "address already in use",
  );
  assert.equal(describeError(new Error("boom (os error 5)")), "boom");
  assert.equal(describeError(new Error("")), "");
  assert.equal(describeError(new Error("TLS alert (os error 5)")), "TLS alert");
  // Deno's own words say which flag to add.
  assert.equal(
    describeError(
      new Deno.errors.NotCapable(
        'Requires net access to "0.0.0.0:0", run again with the --allow-net flag',
      ),
    ),
    'requires net access to "0.0.0.0:0", run again with the --allow-net flag',
  );
  assert.equal(
    describeError(new Deno.errors.PermissionDenied("Permission denied (os error 13)")),
    "permission denied",
  );
  assert.equal(
    describeError(new Error("failed to lookup address information: Name or service not known")),
    "failed to lookup address information: Name or service not known",
  );
  assert.equal(describeError(new DOMException("signal timed out", "TimeoutError")), "timed out");
  // Ours say it already: a Failure as it is, an idle timeout with how long it waited.
  assert.equal(describeError(new Failure("TLS with x failed: boom")), "TLS with x failed: boom");
  assert.equal(describeError(new IdleTimeoutError(2500)), "timed out after 2.5 s");
  assert.equal(
    describeError(new Deno.errors.TimedOut("Connection timed out (os error 110)")),
    "timed out",
  );
});

Deno.test("escapeControl: C0 and C1 controls as \\xHH, bidirectional controls as \\uHHHH; tab, newline and other text kept", () => {
  assert.equal(
    escapeControl("a\x1b[2Jb\x9b\r\u202egnp.exe\u2066\tc\nstraße 🙂\u200d🙂"),
    "a\\x1b[2Jb\\x9b\\x0d\\u202egnp.exe\\u2066\tc\nstraße 🙂\u200d🙂",
  );
});
