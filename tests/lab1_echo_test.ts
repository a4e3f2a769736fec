import assert from "node:assert/strict";
import { join } from "node:path";
import { echoOnce } from "../lab1_echo/client.ts";
import { serveEcho } from "../lab1_echo/server.ts";
import { inProcess } from "./support/in_process.ts";
import { readAll } from "./support/read_all.ts";
import { writeAll } from "../common/io.ts";
import { startChaosProxy } from "./support/chaos_proxy.ts";
import { copyDir, ROOT, runScript, script, startScript } from "../harness/process.ts";

const CLIENT = script("lab1_echo/client.ts");
const SERVER = script("lab1_echo/server.ts");
const READY = /^Server waiting on \('[^']+', (\d+)\)$/;

/** An in-process server whose log lines the test can read. */
function startServer(options: { idleTimeoutMs?: number; hostname?: string } = {}) {
  return inProcess((log) => serveEcho({ hostname: "127.0.0.1", port: 0, log, ...options }));
}

Deno.test("CLI round trip: the client prints the upper-case reply", async () => {
  await using s = startServer();
  const r = await runScript([`--allow-net=127.0.0.1:${s.port}`], CLIENT, [
    "-p",
    `${s.port}`,
    "hello",
    "straße",
  ]);
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, "Message received: HELLO STRASSE\n");
  assert.equal(r.code, 0);
  assert.deepEqual(s.log.slice(-1), ["Data from connected user: hello straße"]);
  assert.match(s.log[0], /^Connected by: \('127\.0\.0\.1', \d+\)$/);
});

Deno.test("CLI prompt path reads the sentence from piped stdin", async () => {
  await using s = startServer();
  const r = await runScript(["--allow-net"], CLIENT, ["-p", `${s.port}`], {
    stdin: "from the keyboard\n",
  });
  assert.equal(r.stdout, "Input lowercase sentence: Message received: FROM THE KEYBOARD\n");
  assert.equal(r.code, 0);
});

Deno.test("200 concurrent clients are all answered correctly", async () => {
  await using s = startServer();
  const replies = await Promise.all(
    Array.from(
      { length: 200 },
      (_, i) => echoOnce({ hostname: "127.0.0.1", port: s.port, sentence: `client ${i} ä` }),
    ),
  );
  replies.forEach((r, i) => assert.equal(r, `CLIENT ${i} Ä`));
});

Deno.test("a sentence longer than every socket buffer on the way comes back whole: the client reads while it sends", async () => {
  await using s = startServer({ idleTimeoutMs: 5000 });
  // A client that sends it all before reading fills both directions' buffers and waits for the
  // server, which waits for it, until the idle timeout ends both.
  const sentence = "x".repeat(32 * 1024 * 1024);
  const reply = await echoOnce({ hostname: "127.0.0.1", port: s.port, sentence });
  assert.equal(reply.length, sentence.length);
  assert.ok(reply === sentence.toUpperCase());
  assert.ok(!s.log.some((l) => /idle/.test(l)), s.log.join("\n"));
});

Deno.test("a client that sends and never reads its echo is cut off after the idle timeout", async () => {
  await using s = startServer({ idleTimeoutMs: 300 });
  using greedy = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  // Sends until the server, its echo unread, stops taking more; the server's blocked write times
  // out and it closes the connection, which ends this client's blocked write too.
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const sending = (async () => {
    for (let i = 0; i < 4096; i++) await writeAll(greedy, chunk);
    return "sent 256 MiB";
  })().catch(() => "cut off");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise((resolve) => (timer = setTimeout(resolve, 10_000, "still open")));
  assert.equal(await Promise.race([sending, hung]), "cut off");
  clearTimeout(timer);
  assert.ok(s.log.some((l) => /: idle for 0\.3 s, closed$/.test(l)), s.log.join("\n"));
});

Deno.test("no client's bytes reach another: a long sentence, a reset mid-sentence, an empty one", async () => {
  await using s = startServer();
  // A long sentence fills the chunk; the next clients reuse it (one at a time, so they must).
  const long = "x".repeat(12_000);
  assert.equal(await plainEcho(s.port, long), long.toUpperCase());
  assert.equal(await plainEcho(s.port, "hi"), "HI");
  // A client gone in the middle of its sentence (unread echo: a reset) gives its chunk back too.
  const reset = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await writeAll(reset, new TextEncoder().encode("secret ".repeat(1000)));
  reset.close();
  assert.equal(await plainEcho(s.port, "ok"), "OK");
  assert.equal(await plainEcho(s.port, ""), "");
});

/** One exchange from a client that makes no timer, so the server's are the only ones counted. */
async function plainEcho(port: number, sentence: string): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, new TextEncoder().encode(sentence));
  await conn.closeWrite();
  return new TextDecoder().decode(await readAll(conn));
}

Deno.test("a silent client does not block others and is closed after the idle timeout", async () => {
  await using s = startServer({ idleTimeoutMs: 300 });
  using silent = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const started = performance.now();
  assert.equal(
    await echoOnce({ hostname: "127.0.0.1", port: s.port, sentence: "meanwhile" }),
    "MEANWHILE",
  );
  assert.ok(performance.now() - started < 250, "the second client waited for the silent one");
  // The server closes the silent connection: our read sees end of stream.
  assert.equal(await silent.read(new Uint8Array(1)), null);
  assert.ok(performance.now() - started >= 250);
  assert.ok(s.log.some((l) => /: idle for 0\.3 s, closed$/.test(l)), s.log.join("\n"));
});

Deno.test("1-byte segmentation through the chaos proxy", async () => {
  await using s = startServer();
  await using proxy = startChaosProxy({
    target: { hostname: "127.0.0.1", port: s.port },
    segmentSize: 1,
    delayMs: 1,
  });
  const sentence = "segmented straße ünïcödé €";
  assert.equal(
    await echoOnce({ hostname: "127.0.0.1", port: proxy.addr.port, sentence }),
    sentence.toUpperCase(),
  );
});

Deno.test("a UTF-8 character split across writes is upper-cased whole", async () => {
  await using s = startServer();
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const bytes = new TextEncoder().encode("aß€");
  // Split inside "ß" (2 bytes) and inside "€" (3 bytes), with pauses so they arrive apart.
  for (const part of [bytes.subarray(0, 2), bytes.subarray(2, 4), bytes.subarray(4)]) {
    await conn.write(part);
    await new Promise((r) => setTimeout(r, 20));
  }
  await conn.closeWrite();
  assert.equal(new TextDecoder().decode(await readAll(conn)), "ASS€");
});

Deno.test("the log escapes DEL, C1 and bidirectional controls in a sentence, also split across reads", async () => {
  await using s = startServer();
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  // DEL in the ASCII start; U+009B (a CSI) cut between its two bytes, U+202E between its second
  // and third: the server reads each part apart.
  const bytes = new TextEncoder().encode("a\x7fb\u009b2J\u202egnp.exe");
  for (const part of [bytes.subarray(0, 4), bytes.subarray(4, 8), bytes.subarray(8)]) {
    await conn.write(part);
    await new Promise((r) => setTimeout(r, 20));
  }
  await conn.closeWrite();
  await readAll(conn);
  assert.equal(s.log.at(-1), "Data from connected user: a\\x7fb\\x9b2J\\u202egnp.exe");
});

Deno.test("handout-style peers: a client that never half-closes, a server that reads once", async () => {
  // The handout's client: send, recv once, close, without shutdown(SHUT_WR).
  await using s = startServer();
  {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await conn.write(new TextEncoder().encode("python client"));
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "PYTHON CLIENT");
  }
  // The handout's server: recv(1024) once, reply, close.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    using conn = await listener.accept();
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    await conn.write(
      new TextEncoder().encode(new TextDecoder().decode(buf.subarray(0, n!)).toUpperCase()),
    );
  })();
  const r = await runScript(["--allow-net"], CLIENT, ["-p", `${listener.addr.port}`, "to python"]);
  await serving;
  assert.equal(r.stdout, "Message received: TO PYTHON\n");
});

Deno.test("a server that stalls: the client's --timeout ends it with one line", async () => {
  await using s = startServer();
  await using proxy = startChaosProxy({
    target: { hostname: "127.0.0.1", port: s.port },
    stallAfter: 0,
  });
  const r = await runScript(["--allow-net"], CLIENT, [
    "-p",
    `${proxy.addr.port}`,
    "--timeout",
    "0.3",
    "anyone?",
  ]);
  assert.equal(r.stderr, "error: timed out after 0.3 s\n");
  assert.equal(r.code, 1);
});

Deno.test("a server that answers without end: the client stops past its reply limit, one line", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const flood = (async () => {
    using conn = await listener.accept();
    const block = new Uint8Array(4096).fill(0x41);
    // Far more than "hi" upper-cased can become; the client must stop reading, not store it all.
    try {
      for (let i = 0; i < 4096; i++) await conn.write(block);
    } catch {
      // The client closed: what a client over its limit does.
    }
  })();
  const r = await runScript(["--allow-net"], CLIENT, ["-p", `${listener.addr.port}`, "hi"]);
  await flood;
  assert.equal(r.stderr, "error: the reply is longer than 1030 bytes\n");
  assert.equal(r.stdout, "");
  assert.equal(r.code, 1);
});

Deno.test("connection refused: one line, exit 1", async () => {
  // Bind then close to find a port with nothing listening.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const r = await runScript(["--allow-net"], CLIENT, ["-p", `${port}`, "hi"]);
  assert.equal(r.stderr, `error: could not connect to 127.0.0.1:${port}: connection refused\n`);
  assert.equal(r.stdout, "");
  assert.equal(r.code, 1);
});

Deno.test("bad arguments: error line plus usage, exit 2; --help exits 0", async () => {
  for (
    const [file, args] of [
      [CLIENT, ["-p", "0"]],
      [CLIENT, ["-p", "70000"]],
      [CLIENT, ["-p", "abc"]],
      [SERVER, ["-p", "80"]],
      [SERVER, ["--timeout", "-1"]],
      [SERVER, ["--nope"]],
    ] as const
  ) {
    const r = await runScript(["--allow-net"], file, [...args]);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, /^error: .+\n\nusage: /);
  }
  const help = await runScript([], SERVER, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--timeout SECONDS/);
});

Deno.test("--trace shows each read and write with its byte count", async () => {
  await using s = startServer();
  const r = await runScript(["--allow-net"], CLIENT, ["-p", `${s.port}`, "--trace", "traced"]);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^-> 6 bytes {2}"traced"$/m);
  assert.match(r.stderr, /^<- 6 bytes {2}"TRACED"$/m);
});

Deno.test("server CLI: IPv6, log lines, and Ctrl+C stops it cleanly", async () => {
  const server = await startScript(["--allow-net"], SERVER, ["-a", "::1", "-p", "0"], READY);
  const port = server.match[1];
  const r = await runScript(["--allow-net"], CLIENT, ["-a", "::1", "-p", port, "over ipv6"]);
  assert.equal(r.stdout, "Message received: OVER IPV6\n");
  await server.waitFor(/^Data from connected user: over ipv6$/);
  const done = await server.stop("SIGINT");
  assert.equal(done.code, 0);
  assert.match(done.stdout, /Connected by: \('::1', \d+\)/);
});

Deno.test("a copy of lab1_echo/ + common/ runs on its own", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await copyDir(join(ROOT, "lab1_echo"), join(dir, "lab1_echo"));
    await copyDir(join(ROOT, "common"), join(dir, "common"));
    await using server = await startScript(
      ["--allow-net"],
      "lab1_echo/server.ts",
      ["-p", "0"],
      READY,
      { cwd: dir },
    );
    const r = await runScript(["--allow-net"], "lab1_echo/client.ts", [
      "-p",
      server.match[1],
      "copied",
    ], { cwd: dir });
    assert.equal(r.stdout, "Message received: COPIED\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a server that reads one recv() and closes: the client says what it replied, exit 1", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const handout = (async () => {
    const conn = await listener.accept();
    // The handout's server: one recv(1024) taken as the whole sentence, a reply, a close.
    const n = await conn.read(new Uint8Array(1024));
    await conn.write(new TextEncoder().encode("X".repeat(n!)));
    conn.close(); // With the rest of the sentence unread: a reset.
  })();
  // Longer than every socket buffer on the way, so the reset meets the client still sending.
  const sentence = "x".repeat(8 * 1024 * 1024);
  const r = await runScript(["--allow-net"], CLIENT, ["-p", `${listener.addr.port}`], {
    stdin: `${sentence}\n`,
  });
  await handout;
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^error: (broken pipe|connection reset by peer) after \d+ bytes of the reply: "X+"\n$/,
  );
});

Deno.test("a server that closes without a reply to a sentence: an error, exit 1, not an empty message", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const silent = (async () => {
    const conn = await listener.accept();
    await readAll(conn); // The whole sentence, to its half-close; then a close and no reply.
    conn.close();
  })();
  const r = await runScript(["--allow-net"], CLIENT, ["-p", `${listener.addr.port}`, "hello"]);
  await silent;
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "error: the server closed without replying\n");
  assert.equal(r.code, 1);
});
