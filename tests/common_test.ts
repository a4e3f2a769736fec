import assert from "node:assert/strict";
import { formatAddr } from "../common/addr.ts";
import { option, parseCli, parsePort, serverPort, UsageError } from "../common/cli.ts";
import { describeError, Failure } from "../common/errors.ts";
import {
  type ByteStream,
  holdIdleClock,
  IdleTimeoutError,
  ProtocolError,
  UnexpectedEofError,
  Wire,
} from "../common/wire.ts";
import { escapeControl } from "../common/trace.ts";
import { join } from "node:path";
import { runScript } from "../harness/process.ts";
import { countIntervals } from "./support/count_intervals.ts";
import { readAll } from "./support/read_all.ts";

const enc = new TextEncoder();

/** An in-memory stream that delivers `data` cut at the given offsets, one piece per read. */
function splitStream(data: Uint8Array, cuts: number[]): ByteStream & { written: Uint8Array[] } {
  const pieces: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, data.length]) {
    if (c > prev) pieces.push(data.slice(prev, c));
    prev = Math.max(prev, c);
  }
  const written: Uint8Array[] = [];
  return {
    written,
    read(p) {
      const piece = pieces.shift();
      if (!piece) return Promise.resolve(null);
      const n = Math.min(p.length, piece.length);
      p.set(piece.subarray(0, n));
      if (n < piece.length) pieces.unshift(piece.subarray(n));
      return Promise.resolve(n);
    },
    write(p) {
      // Accept at most 3 bytes per call, to prove writeAll loops.
      written.push(p.slice(0, 3));
      return Promise.resolve(Math.min(3, p.length));
    },
    close() {},
  };
}

/** Reads exactly `n` bytes through `read`, as a client reads a block. */
async function readN(wire: Wire, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const got = await wire.read(out.subarray(off));
    if (got === null) throw new Error(`stream ended after ${off} of ${n} bytes`);
    off += got;
  }
  return out;
}

Deno.test("readLine and read parse the same at every split point", async () => {
  const data = enc.encode("Ann\r\nstraße 42\nXYZ12345tail");
  for (let a = 0; a <= data.length; a++) {
    for (let b = a; b <= data.length; b += 3) {
      const wire = new Wire(splitStream(data, [a, b]), { bufferSize: 4 });
      assert.equal(await wire.readLine(100), "Ann");
      assert.equal(await wire.readLine(100), "straße 42");
      assert.deepEqual(await readN(wire, 3), enc.encode("XYZ"));
      assert.deepEqual(await readN(wire, 5), enc.encode("12345"));
      assert.deepEqual(await readN(wire, 4), enc.encode("tail"));
      assert.equal(await wire.readLine(100), null);
    }
  }
});

Deno.test("readLine enforces its limit, strict UTF-8 and a terminated last line", async () => {
  await assert.rejects(
    new Wire(splitStream(enc.encode("x".repeat(50) + "\n"), [7, 20])).readLine(10),
    ProtocolError,
  );
  // Exactly at the limit, with \r\n, is fine.
  assert.equal(await new Wire(splitStream(enc.encode("abcd\r\n"), [5])).readLine(4), "abcd");
  await assert.rejects(
    new Wire(splitStream(new Uint8Array([0xff, 0x0a]), [])).readLine(10),
    /UTF-8/,
  );
  await assert.rejects(
    new Wire(splitStream(enc.encode("abc"), [1])).readLine(10),
    /middle of a line/,
  );
  assert.deepEqual(
    await new Wire(splitStream(enc.encode("abc"), [1])).readLineBytes(10, true),
    enc.encode("abc"),
  );
  // A line that never ends is refused once the limit is passed, not at end of stream.
  const endless: ByteStream = {
    read: (p) => Promise.resolve((p.fill(0x61), p.length)),
    write: () => Promise.resolve(0),
    close() {},
  };
  await assert.rejects(new Wire(endless).readLine(4096), /longer than 4096/);
  // The message says how far the stream got.
  assert.equal(new UnexpectedEofError(5, 10).message, "connection closed after 5 of 10 bytes");
});

Deno.test("write loops over partial writes and traces each one", async () => {
  const stream = splitStream(new Uint8Array(), []);
  const traced: string[] = [];
  const wire = new Wire(stream, {
    trace: (d, b) => traced.push(`${d} ${new TextDecoder().decode(b)}`),
  });
  await wire.writeText("abcdefgh");
  assert.deepEqual(stream.written.map((b) => new TextDecoder().decode(b)), ["abc", "def", "gh"]);
  assert.deepEqual(traced, ["-> abc", "-> def", "-> gh"]);
});

Deno.test("write with a block size never lets one write span two blocks, even after a partial write", async () => {
  const stream = splitStream(new Uint8Array(), []);
  const wire = new Wire(stream, { timeoutMs: 1000 });
  await wire.write(enc.encode("abcdefghij"), 4);
  // Blocks "abcd" "efgh" "ij"; the stream takes at most 3 bytes a call.
  assert.deepEqual(stream.written.map((b) => new TextDecoder().decode(b)), [
    "abc",
    "d",
    "efg",
    "h",
    "ij",
  ]);
  wire.close();
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

Deno.test("lines past the log's bound are dropped and counted, never held without limit", async () => {
  const r = await runLogChild(`for (let i = 0; i < MAX_PENDING + 7; i++) logLine("line " + i);
await new Promise((r) => setTimeout(r, 100));
`);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines.pop(), "");
  assert.equal(lines.length, 10_000 + 1);
  assert.equal(lines.at(-1), "... 7 log lines dropped (stdout was not reading)");
  assert.equal(lines.at(-2), `line ${10_000 - 1}`);
});

Deno.test("trace lines go to stderr as log lines go to stdout: bounded, dropped lines counted, flushed at exit", async () => {
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
  assert.equal(lines.length, 10_000 + 1);
  assert.equal(lines.at(-2), `line ${10_000 - 1}`);
  assert.equal(lines.at(-1), "... 7 trace lines dropped (stderr was not reading)");
});

Deno.test("the idle timeout closes a silent connection with TimedOut", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const conn = await listener.accept();
  using wire = new Wire(conn, { timeoutMs: 100 });
  const started = performance.now();
  await assert.rejects(wire.readLine(10), IdleTimeoutError);
  assert.ok(performance.now() - started >= 90);
  // The client sees the close.
  assert.equal(await client.read(new Uint8Array(1)), null);
});

Deno.test("a held idle clock is made once for wires one at a time, times each, and stops when let go", async () => {
  // The sanitizer fails this test if the clock is still running when it ends.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const made = await countIntervals(async () => {
    const hold = holdIdleClock();
    for (const round of [1, 2]) {
      using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      using wire = new Wire(await listener.accept(), { timeoutMs: 100 });
      // A clock that stopped for good would wait forever: after 2 s the client ends the line.
      const guard = setTimeout(() => client.closeWrite(), 2000);
      try {
        await assert.rejects(wire.readLine(10), IdleTimeoutError, `round ${round}`);
      } finally {
        clearTimeout(guard);
      }
      assert.equal(await client.read(new Uint8Array(1)), null);
    }
    hold[Symbol.dispose]();
    hold[Symbol.dispose](); // Letting go twice counts once: the next hold still holds.
    using _again = holdIdleClock();
    for (let round = 3; round <= 4; round++) {
      using _client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      using _wire = new Wire(await listener.accept(), { timeoutMs: 100 });
    }
  });
  // One clock for each hold, not one for each wire.
  assert.equal(made, 2);
});

Deno.test("the idle timeout's farewell goes out before the close, unless cleared once a reply began", async () => {
  for (const cleared of [false, true]) {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const conn = await listener.accept();
    using wire = new Wire(conn, { timeoutMs: 100, farewell: enc.encode("ERROR idle\n") });
    await wire.writeText("OK 5\n");
    if (cleared) wire.farewell = undefined;
    const error = await wire.readLine(10).catch((e) => e);
    assert.ok(error instanceof IdleTimeoutError);
    assert.equal(error.ms, 100);
    const seen = new TextDecoder().decode(await readAll(client));
    assert.equal(seen, cleared ? "OK 5\n" : "OK 5\nERROR idle\n");
  }
});

Deno.test("one run of block writes may outlast the idle timeout while bytes move; stalled, it is cut", async () => {
  const timeoutMs = 250;
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using wire = new Wire(await listener.accept(), { timeoutMs });
  // Far more than the socket buffers hold, read at about 12 MB/s: the one
  // write call lasts seconds, the kernel taking more every ~100 ms.
  const data = new Uint8Array(16 * 1024 * 1024);
  const buf = new Uint8Array(128 * 1024);
  let got = 0;
  const reading = (async () => {
    while (got < data.length) {
      const n = await client.read(buf);
      if (n === null) break;
      got += n;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const started = performance.now();
  await wire.write(data, 1024);
  await reading;
  assert.equal(got, data.length);
  assert.ok(performance.now() - started > 3 * timeoutMs, "the run must outlast the timeout");
  // Now nobody reads: the buffers fill, the run stalls and is cut.
  await assert.rejects(wire.write(data, 1024), IdleTimeoutError);
});

Deno.test("real sockets: lines sent byte by byte arrive whole", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using wire = new Wire(await listener.accept());
  const text = enc.encode("first line\nsecond\n");
  const sending = (async () => {
    for (const byte of text) {
      await client.write(new Uint8Array([byte]));
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  assert.equal(await wire.readLine(64), "first line");
  assert.equal(await wire.readLine(64), "second");
  await sending;
});

Deno.test("a wire with an idle timeout that is never closed does not keep its process alive", async () => {
  const r = await runCommonChild(
    "Wire",
    "io.ts",
    `const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const conn = await Deno.connect(listener.addr);
const wire = new Wire(conn, { timeoutMs: 60_000 });
await wire.writeText("hello\\n");
console.log("done");
`,
    ["--allow-net=127.0.0.1"],
  );
  // Held alive by the idle clock, the child would be killed after 30 s (code 137).
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "done\n");
});

Deno.test("the stderr trace shows text quoted and binary as hex, after the peer's label", async () => {
  const r = await runCommonChild(
    "stderrTracer",
    "trace.ts",
    `const png = new Uint8Array(1024);
png.set([0x89, 0x50, 0x4e, 0x47]);
stderrTracer()("->", new TextEncoder().encode("Ann\\n42\\n"));
stderrTracer("127.0.0.1:5000")("<-", png);
stderrTracer()("<-", new Uint8Array([0x41]));
`,
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split("\n");
  assert.equal(lines[0], '-> 7 bytes  "Ann\\n42\\n"');
  assert.match(lines[1], /^\[127\.0\.0\.1:5000\] <- 1024 bytes {2}\(binary\) 89 50 4e 47 00/);
  assert.equal(lines[2], '<- 1 byte  "A"');
  assert.deepEqual(lines.slice(3), [""]);
});

Deno.test("a server's trace goes through traceLine; either trace escapes DEL, C1 and bidirectional controls", async () => {
  const r = await runCommonChild(
    "serverTracer, stderrTracer",
    "trace.ts",
    `import { flushLog } from ${JSON.stringify(new URL("../common/log.ts", import.meta.url).href)};
const text = new TextEncoder().encode("ok \\u202egnp.exe");
stderrTracer()("<-", text);
serverTracer("127.0.0.1:5000")("<-", text);
serverTracer("127.0.0.1:5000")("->", new TextEncoder().encode("a\\u009b2J\\u007f"));
await flushLog();
`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    '<- 13 bytes  "ok \\u202egnp.exe"\n' +
      '[127.0.0.1:5000] <- 13 bytes  "ok \\u202egnp.exe"\n' +
      "[127.0.0.1:5000] -> 6 bytes  (binary) 61 c2 9b 32 4a 7f\n",
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
      port: option.port("12000", "port"),
      timeout: option.timeout("10", "limit"),
      trace: option.trace,
    },
  };
  assert.equal(parseCli(spec, []).values.port, "12000");
  assert.equal(parseCli(spec, ["-p", "5"]).values.port, "5");
  assert.equal(parseCli(spec, ["--timeout", "2"]).values.timeout, "2");
  assert.equal(parseCli(spec, ["--trace"]).values.trace, true);
  assert.throws(() => parseCli(spec, ["--nope"]), /^UsageError: unknown option '--nope'$/);
  assert.throws(() => parseCli(spec, ["-x"]), /unknown option '-x'/);
  assert.throws(() => parseCli(spec, ["extra"]), /unexpected argument 'extra'/);
  assert.throws(() => parseCli(spec, ["--timeout"]), /option '--timeout' needs a value/);
  assert.throws(() => parseCli(spec, ["-p", "--trace"]), /option '--port' needs a value/);
  assert.throws(() => parseCli(spec, ["--trace=1"]), /option '--trace' takes no value/);
  assert.match(parseCli(spec, []).usage, /-p, --port PORT +port \(default: 12000\)/);
  assert.match(parseCli(spec, []).usage, /\n {6}--timeout SECONDS +limit \(default: 10\)/);
});

Deno.test("serverPort: the handout's positional PORT or -p PORT, not two different ones", () => {
  assert.equal(serverPort([], undefined, 12000), 12000);
  assert.equal(serverPort(["12001"], undefined, 12000), 12001);
  assert.equal(serverPort([], "12002", 12000), 12002);
  assert.equal(serverPort(["12003"], "12003", 12000), 12003);
  assert.throws(() => serverPort(["12003"], "12004", 12000), /give the port once/);
  assert.throws(() => serverPort(["80"], undefined, 12000), /invalid port '80'/);
});

Deno.test("describeError gives one short phrase", () => {
  assert.equal(
    describeError(new Deno.errors.ConnectionRefused("os error 111")),
    "connection refused",
  );
  assert.equal(describeError(new Deno.errors.AddrInUse("x")), "address already in use");
  assert.equal(describeError(new Error("boom (os error 5)")), "boom");
  assert.equal(
    describeError(
      new Deno.errors.NotCapable(
        'Requires net access to "0.0.0.0:0", run again with the --allow-net flag',
      ),
    ),
    "permission denied: needs --allow-net=0.0.0.0:0",
  );
  assert.equal(
    describeError(
      new Deno.errors.NotCapable(
        'Requires all access to "ffi", run again with the --allow-all flag',
      ),
    ),
    "permission denied: ffi needs --allow-all",
  );
  assert.equal(describeError(new Deno.errors.PermissionDenied("os error 13")), "permission denied");
  assert.equal(describeError(new Error("failed to lookup address information")), "unknown host");
  assert.equal(describeError(new DOMException("signal timed out", "TimeoutError")), "timed out");
  // Ours say it already: a Failure as it is, an idle timeout with how long it waited.
  assert.equal(
    describeError(new Failure("no such file (os error 2)")),
    "no such file (os error 2)",
  );
  assert.equal(describeError(new IdleTimeoutError(2500)), "timed out after 2.5 s");
  assert.equal(describeError(new Deno.errors.TimedOut("os error 110")), "timed out");
});

Deno.test("escapeControl: C0 and C1 controls as \\xHH, bidirectional controls as \\uHHHH; tab, newline and other text kept", () => {
  assert.equal(
    escapeControl("a\x1b[2Jb\x9b\r\u202egnp.exe\u2066\tc\nstraße 🙂\u200d🙂"),
    "a\\x1b[2Jb\\x9b\\x0d\\u202egnp.exe\\u2066\tc\nstraße 🙂\u200d🙂",
  );
});
