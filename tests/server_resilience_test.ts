/**
 * What every server survives that no single lab's protocol is about: clients
 * that reset before they are accepted, and a standard output that is closed
 * or never read.
 */

import assert from "node:assert/strict";
import { echoOnce } from "../lab1_echo/client.ts";
import { serveEcho } from "../lab1_echo/server.ts";
import { exchangeSum } from "../lab2_sum/client.ts";
import { serveSum } from "../lab2_sum/server.ts";
import { udpEcho } from "../lab_udp/client.ts";
import { download } from "../lab3_file/client.ts";
import { serveFiles } from "../lab3_file/server.ts";
import { serveHttp } from "../lab_http/server.ts";
import { hasPython, runScript, script } from "../harness/process.ts";
import { inProcess } from "./support/in_process.ts";
import { readAll } from "./support/read_all.ts";

const python = await hasPython();

/** Opens `count` connections to `port` and resets each at once (SO_LINGER 0), from Python. */
async function resetConnections(port: number, count: number): Promise<void> {
  const program = `
import socket, struct
for _ in range(${count}):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.connect(("127.0.0.1", ${port}))
    s.close()
`;
  const out = await new Deno.Command("python3", { args: ["-c", program], stderr: "piped" })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

const tcpServers = [
  {
    lab: "lab1_echo",
    start: (log: (line: string) => void) => serveEcho({ hostname: "127.0.0.1", port: 0, log }),
    ask: async (port: number) =>
      assert.equal(await echoOnce({ hostname: "127.0.0.1", port, sentence: "next" }), "NEXT"),
  },
  {
    lab: "lab2_sum",
    start: (log: (line: string) => void) =>
      serveSum({ hostname: "127.0.0.1", port: 0, number: 17, log }),
    ask: async (port: number) =>
      assert.deepEqual(
        await exchangeSum({ hostname: "127.0.0.1", port, name: "Next", number: 1 }),
        { name: "Server of Deno Socket Labs", number: 17 },
      ),
  },
  {
    lab: "lab3_file",
    start: (log: (line: string) => void) =>
      serveFiles({ hostname: "127.0.0.1", port: 0, root: script("lab3_file/files"), log }),
    ask: async (port: number) => {
      const out = await Deno.makeTempDir();
      try {
        const local = `${out}/notes.txt`;
        await download({ hostname: "127.0.0.1", port, remote: "notes.txt", local });
        assert.deepEqual(
          await Deno.readFile(local),
          await Deno.readFile(script("lab3_file/files/notes.txt")),
        );
      } finally {
        await Deno.remove(out, { recursive: true });
      }
    },
  },
];

for (const { lab, start, ask } of tcpServers) {
  Deno.test({
    name: `${lab}: clients that reset before accept are skipped at once, not waited out`,
    ignore: !python,
    async fn() {
      await using s = inProcess(start);
      // Each reset used to cost the accept loop a 100 ms back-off meant for fd
      // exhaustion: 50 of them held the next client about 5 s.
      await resetConnections(s.port, 50);
      const started = performance.now();
      await ask(s.port);
      const waited = performance.now() - started;
      assert.ok(!s.log.some((l) => /accept failed/.test(l)), s.log.join("\n"));
      // Far below the 5 s the back-offs added up to; only a gross stall fails this.
      assert.ok(waited < 2500, `the next client waited ${waited.toFixed(0)} ms`);
    },
  });
}

/** A server script started with its stdout piped, and a reader for that pipe. */
async function startWithPipedStdout(flags: string[], file: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...flags, script(file), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdout = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await stdout.read();
    if (done) throw new Error(`no ready line: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  // "('127.0.0.1', PORT)" as the handout prints it, or a URL's ":PORT/".
  const m = text.match(/, (\d+)\)|:(\d+)\//);
  const port = Number(m?.[1] ?? m?.[2]);
  return { child, stdout, port, firstLines: text };
}

/** One GET over a fresh connection (Connection: close); the whole reply as text. */
async function httpGet(port: number, path: string): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const encoder = new TextEncoder();
  await conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
  return new TextDecoder().decode(await readAll(conn));
}

const stdoutServers = [
  {
    lab: "lab1_echo",
    flags: () => ["--allow-net"],
    file: "lab1_echo/server.ts",
    args: () => ["-a", "127.0.0.1", "0"],
    ask: async (port: number, n: number) =>
      assert.equal(await echoOnce({ hostname: "127.0.0.1", port, sentence: `s${n}` }), `S${n}`),
  },
  {
    lab: "lab_http",
    flags: (site: string) => ["--allow-net", `--allow-read=${site}`],
    file: "lab_http/server.ts",
    args: (site: string) => ["0", "-a", "127.0.0.1", "-d", site],
    ask: async (port: number) =>
      assert.match(await httpGet(port, "/a.txt"), /^HTTP\/1\.1 200 [^]*\r\n\r\nserved\n$/),
  },
];

for (const { lab, flags, file, args, ask } of stdoutServers) {
  Deno.test(`${lab}: a closed stdout (server | head -1) stops the log, not the server`, async () => {
    const site = await Deno.makeTempDir({ prefix: "resilience_" });
    try {
      await Deno.writeTextFile(`${site}/a.txt`, "served\n");
      const { child, stdout, port } = await startWithPipedStdout(flags(site), file, args(site));
      // What `head -1` does after its line: close the pipe's reading end.
      await stdout.cancel();
      for (let n = 0; n < 3; n++) await ask(port, n);
      child.kill("SIGINT");
      const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
      assert.equal(stderr, "");
      assert.equal(status.code, 0);
    } finally {
      await Deno.remove(site, { recursive: true });
    }
  });
}

/** Sends `count` datagrams to a UDP echo server, `window` at a time, and counts the replies. */
async function udpRounds(port: number, count: number, window = 50): Promise<number> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const to: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
  const payload = new TextEncoder().encode("ping");
  const buf = new Uint8Array(64);
  let replies = 0;
  try {
    for (let sent = 0; sent < count; sent += window) {
      for (let i = 0; i < window; i++) await socket.send(payload, to);
      for (let i = 0; i < window; i++) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), 2000)));
        const got = await Promise.race([socket.receive(buf), timeout]);
        clearTimeout(timer);
        if (got === null) return replies; // The server stopped answering.
        replies++;
      }
    }
    return replies;
  } finally {
    socket.close();
  }
}

Deno.test("a stdout nobody reads: lines past the bound are dropped; the server answers and stops", async () => {
  const flags = ["--unstable-net", "--allow-net"];
  const args = ["-a", "127.0.0.1", "-p", "0"];
  // Two lines a round: about 1,300 fill the pipe; the log keeps 10,000 more, then drops.
  const rounds = 8000;
  {
    const { child, stdout, port } = await startWithPipedStdout(flags, "lab_udp/server.ts", args);
    assert.equal(await udpRounds(port, rounds), rounds);
    child.kill("SIGTERM");
    // Reading again: what the pipe and the log held comes out, and no more.
    const decoder = new TextDecoder();
    let text = "";
    // Bounded: a server that does not stop fails here, it does not hang.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<"gave up">((r) => (timer = setTimeout(r, 10_000, "gave up")));
    while (true) {
      const next = await Promise.race([stdout.read(), gaveUp]);
      if (next === "gave up" || next.done) break;
      text += decoder.decode(next.value, { stream: true });
    }
    clearTimeout(timer);
    const [status] = await Promise.all([child.status, stdout.cancel(), child.stderr.cancel()]);
    assert.equal(status.code, 0);
    const lines = text.split("\n").length - 1;
    assert.ok(lines > 10_000 && lines < 2 * rounds, `${lines} lines`);
  }
  {
    // Stopped while the pipe is still full: a blocked log write used to hold
    // the whole server, SIGTERM included.
    const { child, stdout, port } = await startWithPipedStdout(flags, "lab_udp/server.ts", args);
    assert.equal(await udpRounds(port, 2000), 2000);
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const [status] = await Promise.all([child.status, child.stderr.cancel()]);
    clearTimeout(killer);
    await stdout.cancel();
    assert.equal(status.signal, null, "the server had to be killed");
    assert.equal(status.code, 0);
  }
});

/** Reads `reader` until its text matches `pattern` or 10 s pass; the text read. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pattern: RegExp,
  text = "",
): Promise<string> {
  const decoder = new TextDecoder();
  // Bounded: a line that never comes fails the assertion after, it does not hang.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = new Promise<"gave up">((r) => (timer = setTimeout(r, 10_000, "gave up")));
  while (!pattern.test(text)) {
    const next = await Promise.race([reader.read(), gaveUp]);
    if (next === "gave up" || next.done) break;
    text += decoder.decode(next.value, { stream: true });
  }
  clearTimeout(timer);
  return text;
}

/** A request's text, about 60 characters, that its trace line shows whole: `#n#` then padding. */
const traced = (n: number) => `#${n}# ${"x".repeat(54 - `${n}`.length)}`;

// Each server with --trace, and one request by a client that fails in a few seconds, not 10.
const traceServers = [
  {
    lab: "lab1_echo",
    flags: ["--allow-net"],
    file: "lab1_echo/server.ts",
    args: ["-a", "127.0.0.1", "-p", "0", "--trace"],
    ask: async (port: number, n: number) =>
      assert.equal(
        await echoOnce({ hostname: "127.0.0.1", port, sentence: traced(n), timeoutMs: 3000 }),
        traced(n).toUpperCase(),
      ),
  },
  {
    lab: "lab2_sum",
    flags: ["--allow-net"],
    file: "lab2_sum/server.ts",
    args: ["-a", "127.0.0.1", "-p", "0", "--number", "17", "--trace"],
    ask: async (port: number, n: number) =>
      assert.deepEqual(
        await exchangeSum({
          hostname: "127.0.0.1",
          port,
          name: traced(n),
          number: 1,
          timeoutMs: 3000,
        }),
        { name: "Server of Deno Socket Labs", number: 17 },
      ),
  },
  {
    lab: "lab3_file",
    flags: ["--allow-net", `--allow-read=${script("lab3_file/files")}`],
    file: "lab3_file/server.ts",
    args: ["-a", "127.0.0.1", "-p", "0", "--root", script("lab3_file/files"), "--trace"],
    ask: async (port: number, n: number) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      // A server that stopped answering fails this in 3 s, as the other labs' clients do.
      const timer = setTimeout(() => conn.close(), 3000);
      try {
        // A name that is no file: the ERROR line carries it, so its trace line shows it.
        await conn.write(new TextEncoder().encode(`${traced(n)}\n0\n`));
        assert.match(new TextDecoder().decode(await readAll(conn)), /^ERROR /);
      } finally {
        clearTimeout(timer);
        try {
          conn.close();
        } catch {
          // Closed by the timer.
        }
      }
    },
  },
  {
    lab: "lab_http",
    flags: ["--allow-net", `--allow-read=${script("lab_http/site")}`],
    file: "lab_http/server.ts",
    args: ["-a", "127.0.0.1", "-p", "0", "-d", script("lab_http/site"), "--trace"],
    ask: async (port: number, n: number) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      // A server that stopped answering fails this in 3 s, as the other labs' clients do.
      const timer = setTimeout(() => conn.close(), 3000);
      try {
        const head = `GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-N: ${traced(n)}\r\n` +
          "Connection: close\r\n\r\n";
        await conn.write(new TextEncoder().encode(head));
        assert.match(new TextDecoder().decode(await readAll(conn)), /^HTTP\/1\.1 200 OK\r\n/);
      } finally {
        clearTimeout(timer);
        try {
          conn.close();
        } catch {
          // Closed by the timer.
        }
      }
    },
  },
  {
    lab: "lab_udp",
    flags: ["--unstable-net", "--allow-net"],
    file: "lab_udp/server.ts",
    args: ["-a", "127.0.0.1", "-p", "0", "--trace"],
    ask: async (port: number, n: number) =>
      assert.equal(
        (await udpEcho({ hostname: "127.0.0.1", port, sentence: traced(n), timeoutMs: 3000 }))
          .reply,
        traced(n).toUpperCase(),
      ),
  },
];

/** Runs `test` on a server started with its stdout piped, killed if the test failed or took a minute. */
async function withServer(
  flags: string[],
  file: string,
  args: string[],
  test: (server: Awaited<ReturnType<typeof startWithPipedStdout>>) => Promise<void>,
): Promise<void> {
  const server = await startWithPipedStdout(flags, file, args);
  let exited = false;
  const status = server.child.status.finally(() => (exited = true));
  // A server that is stuck for good fails the test instead of hanging it (each takes a second).
  const watchdog = setTimeout(() => server.child.kill("SIGKILL"), 60_000);
  try {
    await test(server);
  } finally {
    clearTimeout(watchdog);
    if (!exited) server.child.kill("SIGKILL");
    await status;
  }
}

for (const { lab, flags, file, args, ask } of traceServers) {
  Deno.test(`${lab}: --trace with a stderr nobody reads: the server answers on, the trace is held, then written`, async () => {
    await withServer(flags, file, args, async ({ child, stdout, port }) => {
      // Its log is read: only stderr is stuck.
      const drained = (async () => {
        while (!(await stdout.read()).done);
      })();
      // About 200 bytes of trace each: 2,000 fill a 64 KiB pipe six times over. A blocking
      // trace write used to freeze the server after about 300.
      const requests = 2000;
      for (let n = 0; n < requests; n += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, i) => ask(port, n + i)));
      }
      // Reading stderr now: the held lines come out, up to the last request's.
      const stderr = child.stderr.getReader();
      const last = new RegExp(`#${requests - 1}#`);
      assert.match(await readUntil(stderr, last), last);
      child.kill("SIGTERM");
      const [status] = await Promise.all([child.status, stderr.cancel(), drained]);
      assert.equal(status.code, 0);
    });
  });

  Deno.test(`${lab}: --trace with a closed stderr: the trace stops, the server answers on`, async () => {
    await withServer(flags, file, args, async ({ child, stdout, port }) => {
      await child.stderr.cancel();
      // The first trace write meets the closed pipe; the UDP server used to exit there.
      for (let n = 0; n < 3; n++) await ask(port, n);
      await new Promise((resolve) => setTimeout(resolve, 100)); // The trace's write has failed.
      for (let n = 3; n < 6; n++) await ask(port, n);
      child.kill("SIGINT");
      const [status] = await Promise.all([child.status, stdout.cancel()]);
      assert.equal(status.code, 0);
    });
  });
}

// Every server, started on a port something else holds (TCP, or UDP for the UDP server).
const portTakers = [
  { file: "lab1_echo/server.ts", flags: ["--allow-net"], udp: false },
  { file: "lab2_sum/server.ts", flags: ["--allow-net"], udp: false },
  { file: "lab3_file/server.ts", flags: ["--allow-net", "--allow-read"], udp: false },
  { file: "lab_http/server.ts", flags: ["--allow-net", "--allow-read"], udp: false },
  { file: "lab_udp/server.ts", flags: ["--unstable-net", "--allow-net"], udp: true },
];

for (const { file, flags, udp } of portTakers) {
  Deno.test(`${file}: a port already in use: the server names it and says how to pick another, exit 1`, async () => {
    const taken = udp
      ? Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 })
      : Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    const r = await runScript(flags, script(file), ["-a", "127.0.0.1", `${port}`])
      .finally(() => taken.close());
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `error: port ${port} is already in use (another server, or an earlier run holding it): ` +
        "stop it, or pick another with -p PORT (-p 0 takes any free one)\n",
    );
  });
}

// Every TCP server, started in-process with a listener whose accept lets close() run first: what
// Deno does when Ctrl+C (or lab2's shutdown) and a new connection arrive in the same turn, the
// signal's listener being fewer promise hops from its op than the accept loop is from its.
const closeRaces = [
  {
    lab: "lab1_echo",
    start: (root: string, log: (l: string) => void) => serveEcho({ ...inRace(root), log }),
  },
  {
    lab: "lab2_sum",
    start: (root: string, log: (l: string) => void) => serveSum({ ...inRace(root), log }),
  },
  {
    lab: "lab3_file",
    start: (root: string, log: (l: string) => void) => serveFiles({ ...inRace(root), log }),
  },
  {
    lab: "lab_http",
    start: (root: string, log: (l: string) => void) => serveHttp({ ...inRace(root), log }),
  },
];

function inRace(root: string) {
  return { hostname: "127.0.0.1", port: 0, root, idleTimeoutMs: 60_000, timeoutMs: 60_000 };
}

for (const { lab, start } of closeRaces) {
  Deno.test(`${lab}: a connection accepted as close() runs is closed with the others, and the server finishes`, async () => {
    const root = await Deno.makeTempDir({ prefix: "close_race_" });
    const realListen = Deno.listen;
    let server: { close(): void; finished: Promise<void>; addr: Deno.NetAddr } | undefined;
    // deno-lint-ignore no-explicit-any -- the test replaces Deno.listen for this one server
    (Deno as any).listen = (options: Deno.TcpListenOptions) => {
      const listener = realListen(options);
      const accept = listener.accept.bind(listener);
      listener.accept = () =>
        accept().then((conn) => (queueMicrotask(() => server!.close()), conn));
      return listener;
    };
    try {
      server = start(root, () => {});
    } finally {
      Deno.listen = realListen;
    }
    using silent = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    // Bounded: a server that never closes the connection fails here, it does not hang.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise((resolve) => (timer = setTimeout(resolve, 5000, "still open")));
    const ended = silent.read(new Uint8Array(1024)).then(() => "closed", () => "closed");
    assert.equal(await Promise.race([ended, hung]), "closed");
    assert.equal(await Promise.race([server.finished.then(() => "finished"), hung]), "finished");
    clearTimeout(timer);
    await Deno.remove(root, { recursive: true });
  });
}
