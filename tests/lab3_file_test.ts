import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { download, splitTarget } from "../lab3_file/client.ts";
import { FileHasher } from "../lab3_file/file_hasher.ts";
import type { Opened } from "../lab3_file/confine.ts";
import { COARSE_RACY_MS, MAX_DEPTH, RACY_MS } from "../common/steady_path.ts";
import { fileKey } from "../lab3_file/hash_cache.ts";
import { serveFiles } from "../lab3_file/server.ts";
import { randomBytes } from "../harness/bytes.ts";
import { startChaosProxy } from "./support/chaos_proxy.ts";
import { canExchange, exchangeArgs } from "./support/exchange.ts";
import { readAll } from "./support/read_all.ts";
import { runScript, script, startScript } from "../harness/process.ts";

const CLIENT = script("lab3_file/client.ts");
const SERVER = script("lab3_file/server.ts");
const READY = /^Server waiting on \('[^']+', (\d+)\)/;

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** A served folder with some files, a client folder, and an in-process server. */
async function setup(
  options: { blockSize?: number; idleTimeoutMs?: number; hostname?: string } = {},
) {
  const base = await Deno.makeTempDir({ prefix: "lab3_" });
  const root = join(base, "root");
  const out = join(base, "out");
  await Deno.mkdir(root);
  await Deno.mkdir(out);
  const files: Record<string, Uint8Array> = {
    "notes.txt": new TextEncoder().encode("notes for the lab\n"),
    "empty.bin": new Uint8Array(0),
    "blob.bin": randomBytes(3 * 1024 * 1024 + 17),
    "small.bin": randomBytes(3000),
    "a:b.txt": new TextEncoder().encode("colon in the name\n"),
  };
  for (const [name, data] of Object.entries(files)) await Deno.writeFile(join(root, name), data);
  await Deno.mkdir(join(root, "sub"));
  await Deno.writeFile(join(root, "sub", "inner.txt"), new TextEncoder().encode("inner\n"));
  const log: string[] = [];
  const server = serveFiles({
    hostname: "127.0.0.1",
    port: 0,
    root,
    log: (l) => log.push(l),
    ...options,
  });
  return {
    base,
    root,
    out,
    files,
    log,
    server,
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      server.close();
      await server.finished;
      await Deno.remove(base, { recursive: true });
    },
  };
}

/** Sends raw request bytes, returns the whole reply as text (binary-safe enough for ERROR lines). */
async function rawRequest(
  port: number,
  request: string | Uint8Array,
  hostname = "127.0.0.1",
): Promise<string> {
  using conn = await Deno.connect({ hostname, port });
  await conn.write(typeof request === "string" ? new TextEncoder().encode(request) : request).catch(
    () => {},
  );
  const chunks: number[] = [];
  const buf = new Uint8Array(65536);
  try {
    for (let n; (n = await conn.read(buf)) !== null;) chunks.push(...buf.subarray(0, n));
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
  }
  return new TextDecoder().decode(new Uint8Array(chunks));
}

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `count` lines of `log` match `pattern` (a transfer is logged when it ends), and returns them. */
async function waitForLog(log: string[], pattern: RegExp, count = 1): Promise<string[]> {
  for (const deadline = performance.now() + 10_000; performance.now() < deadline;) {
    const lines = log.filter((l) => pattern.test(l));
    if (lines.length >= count) return lines;
    await sleep(20);
  }
  throw new Error(`fewer than ${count} log lines match ${pattern}:\n${log.join("\n")}`);
}
const cliFlags = (
  port: number,
  dir: string,
) => [`--allow-net=127.0.0.1:${port}`, `--allow-read=${dir}`, `--allow-write=${dir}`];

Deno.test("CLI download: byte-identical, verified, renamed from .part, with the handout's arguments", async () => {
  await using s = await setup();
  const r = await runScript(cliFlags(s.port, s.out), CLIENT, [
    `127.0.0.1:${s.port}:blob.bin`,
    "copy.bin",
  ], { cwd: s.out });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "", "no progress output when stderr is not a terminal");
  assert.match(
    r.stdout,
    /^received copy\.bin from 127\.0\.0\.1:\d+: 3145745 bytes \(3\.0 MiB\) in [\d.]+ s \([\d.]+ MB\/s\)\n/,
  );
  assert.match(r.stdout, new RegExp(`^sha256 OK ${sha256(s.files["blob.bin"])}$`, "m"));
  assert.deepEqual(await Deno.readFile(join(s.out, "copy.bin")), s.files["blob.bin"]);
  assert.equal(await exists(join(s.out, "copy.bin.part")), false);
  assert.match(
    s.log.at(-1)!,
    /^\('127\.0\.0\.1', \d+\) "blob\.bin" 3145745 bytes in [\d.]+ s \([\d.]+ MB\/s\): ok$/,
  );
});

Deno.test("missing local name means the remote base name; a ':' in the remote name works; 0-byte file", async () => {
  await using s = await setup();
  for (
    const [remote, local] of [["sub/inner.txt", "inner.txt"], ["a:b.txt", "b.txt"], [
      "empty.bin",
      "empty.bin",
    ]]
  ) {
    const args = remote === "a:b.txt"
      ? [`127.0.0.1:${s.port}:${remote}`, local]
      : [`127.0.0.1:${s.port}:${remote}`];
    const r = await runScript(cliFlags(s.port, s.out), CLIENT, args, { cwd: s.out });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      await Deno.readFile(join(s.out, local)),
      s.files[remote] ?? new TextEncoder().encode("inner\n"),
    );
  }
  assert.match(
    (await runScript(cliFlags(s.port, s.out), CLIENT, [`127.0.0.1:${s.port}:empty.bin`, "e2"], {
      cwd: s.out,
    })).stdout,
    /sha256 OK e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/,
  );
});

Deno.test("IPv6 bracketed address, block size 1 MiB", async () => {
  await using s = await setup({ hostname: "::1", blockSize: 1024 * 1024 });
  const r = await runScript(
    ["--allow-net", `--allow-read=${s.out}`, `--allow-write=${s.out}`],
    CLIENT,
    [`[::1]:${s.port}:blob.bin`],
    { cwd: s.out },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await Deno.readFile(join(s.out, "blob.bin")), s.files["blob.bin"]);
});

Deno.test("refuses to overwrite without --force; --force replaces; a stale .part is replaced", async () => {
  await using s = await setup();
  const target = join(s.out, "notes.txt");
  await Deno.writeTextFile(target, "mine");
  const r = await runScript(cliFlags(s.port, s.out), CLIENT, [`127.0.0.1:${s.port}:notes.txt`], {
    cwd: s.out,
  });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "error: notes.txt already exists; use --force to overwrite it\n");
  assert.equal(await Deno.readTextFile(target), "mine");
  await Deno.writeTextFile(`${target}.part`, "stale junk that must not be kept");
  const forced = await runScript(cliFlags(s.port, s.out), CLIENT, [
    `127.0.0.1:${s.port}:notes.txt`,
    "--force",
  ], { cwd: s.out });
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(await Deno.readTextFile(target), "notes for the lab\n");
});

Deno.test("server errors: exit 1, one line, no local file", async () => {
  await using s = await setup();
  const r = await runScript(cliFlags(s.port, s.out), CLIENT, [`127.0.0.1:${s.port}:missing.txt`], {
    cwd: s.out,
  });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "error: server: no such file\n");
  assert.deepEqual([...Deno.readDirSync(s.out)], []);
});

Deno.test("the server refuses everything outside its root, and odd files, with ERROR", async () => {
  await using s = await setup({ idleTimeoutMs: 300 });
  // Outside the root: a secret next to it, reachable by .. or by a symlink.
  await Deno.writeTextFile(join(s.base, "secret.txt"), "secret");
  await Deno.symlink(join(s.base, "secret.txt"), join(s.root, "link-out"));
  await Deno.symlink(s.base, join(s.root, "dir-out"));
  await Deno.symlink("notes.txt", join(s.root, "link-in"));
  const fifo = join(s.root, "fifo");
  const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(mk.success, "mkfifo");
  const cases: [string | Uint8Array, RegExp][] = [
    ["/etc/passwd\n0\n", /^ERROR absolute paths are not served\n$/],
    [`${join(s.base, "secret.txt")}\n0\n`, /^ERROR absolute paths are not served\n$/],
    ["C:\\Windows\\win.ini\n0\n", /^ERROR absolute paths are not served\n$/],
    ["../secret.txt\n0\n", /^ERROR '\.\.' is not allowed/],
    ["sub/../../secret.txt\n0\n", /^ERROR '\.\.' is not allowed/],
    ["sub\\..\\..\\secret.txt\n0\n", /^ERROR '\.\.' is not allowed/],
    ["link-out\n0\n", /^ERROR no such file\n$/],
    ["dir-out/secret.txt\n0\n", /^ERROR no such file\n$/],
    ["sub\n0\n", /^ERROR is a folder\n$/],
    [".\n0\n", /^ERROR is a folder\n$/],
    ["fifo\n0\n", /^ERROR not a regular file\n$/],
    ["notes\u0000.txt\n0\n", /^ERROR control characters in file name\n$/],
    ["no\ttab\n0\n", /^ERROR control characters/],
    ["\n0\n", /^ERROR empty file name\n$/],
    ["x".repeat(5000) + "\n0\n", /^ERROR line longer than 4096 bytes\n$/],
    ["y".repeat(100_000), /^ERROR line longer than 4096 bytes\n$/],
    ["notes.txt\nabc\n", /^ERROR bad offset "abc"\n$/],
    ["notes.txt\n-1\n", /^ERROR bad offset "-1"\n$/],
    ["notes.txt\n99999999999999999999\n", /^ERROR line longer than 16 bytes\n$/],
    ["notes.txt\n19\n", /^ERROR offset 19 is beyond the end \(18 bytes\)\n$/],
    [new Uint8Array([0xff, 0xfe, 0x0a, 0x30, 0x0a]), /^ERROR line is not valid UTF-8\n$/],
    ["notes.txt\n", /^ERROR idle timeout\n$/],
    ["notes.tx", /^ERROR idle timeout\n$/],
  ];
  for (const [request, expected] of cases) {
    const reply = await rawRequest(s.port, request);
    assert.match(reply, expected, `request ${JSON.stringify(String(request).slice(0, 60))}`);
    assert.doesNotMatch(reply, /secret/);
  }
  // A symlink that stays inside the root is fine, and the server is still serving.
  assert.match(
    await rawRequest(s.port, "link-in\n0\n"),
    /^OK 18\nnotes for the lab\n[0-9a-f]{64}\n$/,
  );
});

Deno.test("a client that stops reading is cut off by the idle timeout, farewell or not", async () => {
  await using s = await setup({ idleTimeoutMs: 300 });
  await Deno.writeFile(join(s.root, "large.bin"), new Uint8Array(64 * 1024 * 1024));
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await conn.write(new TextEncoder().encode("large.bin\n0\n"));
  // Read nothing: the socket buffers fill and the server's writes stall.
  const started = performance.now();
  while (
    !s.log.some((l) => /"large\.bin" .*: cut: idle timeout/.test(l)) &&
    performance.now() - started < 5000
  ) {
    await new Promise((r) => setTimeout(r, 50));
  }
  // Logged as cut, with the bytes that went out before the socket stopped taking them.
  assert.ok(
    s.log.some((l) => /"large\.bin" [1-9]\d* of 67108864 bytes .*: cut: idle timeout$/.test(l)),
    s.log.join("\n"),
  );
  // And the connection is really gone: draining it ends well short of 64 MiB.
  let got = 0;
  const buf = new Uint8Array(1 << 20);
  try {
    for (let n; (n = await conn.read(buf)) !== null;) got += n;
  } catch { /* reset */ }
  assert.ok(got < 64 * 1024 * 1024, `${got} bytes`);
});

Deno.test("a slow reader that keeps making progress is not cut off by the idle timeout", async () => {
  const idleTimeoutMs = 250;
  await using s = await setup({ idleTimeoutMs });
  // Far more than loopback's socket buffers, so most of it moves at the reader's
  // pace. (Much slower and the kernel itself wakes a blocked writer less often
  // than the timeout: it waits until a third of a 4 MB send buffer is free.)
  const data = randomBytes(24 * 1024 * 1024);
  await Deno.writeFile(join(s.root, "large.bin"), data);
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await conn.write(new TextEncoder().encode("large.bin\n0\n"));
  const started = performance.now();
  const reply = new Uint8Array(64 + data.length + 65);
  let got = 0;
  const buf = new Uint8Array(128 * 1024);
  for (let n; (n = await conn.read(buf)) !== null;) {
    reply.set(buf.subarray(0, n), got);
    got += n;
    await new Promise((r) => setTimeout(r, 10));
  }
  const elapsed = performance.now() - started;
  // Only a transfer that outlasts the timeout several times proves anything.
  assert.ok(elapsed > 3 * idleTimeoutMs, `took only ${elapsed.toFixed(0)} ms`);
  const head = `OK ${data.length}\n`;
  const text = (from: number, to = got) => new TextDecoder().decode(reply.subarray(from, to));
  assert.equal(text(0, head.length), head);
  assert.equal(sha256(reply.subarray(head.length, head.length + data.length)), sha256(data));
  assert.equal(text(head.length + data.length), `${sha256(data)}\n`);
  assert.ok(s.log.some((l) => /"large\.bin" .*: ok$/.test(l)), s.log.join("\n"));
});

Deno.test("devices are not opened: a root of /dev refuses /dev/zero at once", async () => {
  const server = serveFiles({ hostname: "127.0.0.1", port: 0, root: "/dev", log: () => {} });
  try {
    assert.equal(await rawRequest(server.addr.port, "zero\n0\n"), "ERROR not a regular file\n");
    assert.equal(await rawRequest(server.addr.port, "null\n0\n"), "ERROR not a regular file\n");
  } finally {
    server.close();
    await server.finished;
  }
});

Deno.test("8 concurrent downloads are all byte-identical", async () => {
  await using s = await setup();
  const results = await Promise.all(
    Array.from(
      { length: 8 },
      (_, i) =>
        download({
          hostname: "127.0.0.1",
          port: s.port,
          remote: "blob.bin",
          local: join(s.out, `c${i}.bin`),
        }),
    ),
  );
  for (const [i, r] of results.entries()) {
    assert.equal(r.sha256, sha256(s.files["blob.bin"]));
    assert.deepEqual(await Deno.readFile(join(s.out, `c${i}.bin`)), s.files["blob.bin"]);
  }
});

Deno.test("hashes: large files on the worker, shared by concurrent requests; a changed file is hashed again", async () => {
  await using s = await setup();
  // 9 MiB is hashed on the server's worker thread, blob.bin (3 MiB) inline as it is sent.
  for (const [name, size] of [["big.bin", 9 * 1024 * 1024], ["blob.bin", 3 * 1024 * 1024 + 17]]) {
    for (let version = 1; version <= 2; version++) {
      const data = randomBytes(size as number);
      await Deno.writeFile(join(s.root, name as string), data);
      // Same size, new content: only the modification time tells the versions apart.
      await Deno.utime(join(s.root, name as string), new Date(), version * 1000);
      const copies = await Promise.all([0, 1, 2, 3].map((i) =>
        download({
          hostname: "127.0.0.1",
          port: s.port,
          remote: name as string,
          local: join(s.out, `${version}-${i}-${name}`),
        })
      ));
      for (const [i, r] of copies.entries()) {
        assert.equal(r.sha256, sha256(data));
        assert.deepEqual(await Deno.readFile(join(s.out, `${version}-${i}-${name}`)), data);
      }
      // Resuming from the middle: the server still sends the whole file's hash.
      const local = join(s.out, `resumed-${version}-${name}`);
      const half = Math.floor(data.length / 2);
      await Deno.writeFile(`${local}.part`, data.subarray(0, half));
      const r = await download({
        hostname: "127.0.0.1",
        port: s.port,
        remote: name as string,
        local,
        resume: true,
      });
      assert.equal(r.received, data.length - half);
      assert.deepEqual(await Deno.readFile(local), data);
    }
  }
  assert.equal(s.log.filter((l) => /: ok$/.test(l)).length, 20);
});

Deno.test("1-byte segmentation of the whole exchange through the chaos proxy", async () => {
  await using s = await setup({ blockSize: 100 });
  await using proxy = startChaosProxy({
    target: { hostname: "127.0.0.1", port: s.port },
    segmentSize: 1,
  });
  const local = join(s.out, "small.bin");
  const r = await download({
    hostname: "127.0.0.1",
    port: proxy.addr.port,
    remote: "small.bin",
    local,
  });
  assert.equal(r.size, 3000);
  assert.deepEqual(await Deno.readFile(local), s.files["small.bin"]);
});

Deno.test("a cut after N bytes: partial reported, nothing under the final name; --resume completes it", async () => {
  await using s = await setup();
  await using proxy = startChaosProxy({
    target: { hostname: "127.0.0.1", port: s.port },
    cutAfter: 1_000_000,
  });
  const flags = ["--allow-net=127.0.0.1", `--allow-read=${s.out}`, `--allow-write=${s.out}`];
  const cut = await runScript(flags, CLIENT, [`127.0.0.1:${proxy.addr.port}:blob.bin`], {
    cwd: s.out,
  });
  assert.equal(cut.code, 1);
  const got = Number(
    cut.stderr.match(
      /^error: partial transfer: got (\d+) of 3145745 bytes \(the connection closed early\); kept blob\.bin\.part, run again with --resume to continue\n$/,
    )?.[1],
  );
  // "OK 3145745\n" is 11 bytes of the first million.
  assert.equal(got, 1_000_000 - 11);
  assert.equal(await exists(join(s.out, "blob.bin")), false);
  assert.equal((await Deno.stat(join(s.out, "blob.bin.part"))).size, got);
  const resumed = await runScript(flags, CLIENT, [`127.0.0.1:${s.port}:blob.bin`, "--resume"], {
    cwd: s.out,
  });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`, ${3145745 - got} in this run in`));
  assert.match(resumed.stdout, new RegExp(`sha256 OK ${sha256(s.files["blob.bin"])}`));
  assert.deepEqual(await Deno.readFile(join(s.out, "blob.bin")), s.files["blob.bin"]);
  assert.equal(await exists(join(s.out, "blob.bin.part")), false);
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`${signal === "SIGINT" ? "Ctrl+C" : signal} mid-download: one line says where the partial file is and that --resume continues it; exit ${code}`, async () => {
    await using s = await setup();
    // A slow link, so the download is still running when the signal comes.
    await using proxy = startChaosProxy({
      target: { hostname: "127.0.0.1", port: s.port },
      segmentSize: 65536,
      delayMs: 20,
    });
    const flags = ["--allow-net=127.0.0.1", `--allow-read=${s.out}`, `--allow-write=${s.out}`];
    const client = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...flags, CLIENT, `127.0.0.1:${proxy.addr.port}:blob.bin`, "b.bin"],
      cwd: s.out,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    while (proxy.downstreamBytes() < 500_000) await sleep(10);
    client.kill(signal);
    const out = await client.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, code, stderr);
    const got = Number(
      stderr.match(
        /^error: partial transfer: got (\d+) of 3145745 bytes \(interrupted\); kept b\.bin\.part, run again with --resume to continue\n$/,
      )?.[1],
    );
    assert.ok(got > 0 && got < 3145745, stderr);
    // Every byte it counted is in the .part, and nothing has the final name.
    assert.equal((await Deno.stat(join(s.out, "b.bin.part"))).size, got);
    assert.equal(await exists(join(s.out, "b.bin")), false);
    const resumed = await runScript(flags, CLIENT, [
      `127.0.0.1:${s.port}:blob.bin`,
      "b.bin",
      "--resume",
    ], { cwd: s.out });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(await Deno.readFile(join(s.out, "b.bin")), s.files["blob.bin"]);
  });
}

Deno.test("wrong hash, wrong size and silence from a server: exit 1, nothing saved", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const replies = [
    `OK 5\nhello${"0".repeat(64)}\n`, // wrong hash
    "OK 10\nhello", // short, then close
    "OK 5\nhello", // no hash line
    "WHAT\n", // not the protocol
    "", // accept, say nothing (stall): the client's timeout ends it
  ];
  const serving = (async () => {
    for (const reply of replies) {
      using conn = await listener.accept();
      await conn.read(new Uint8Array(1000));
      if (reply) await conn.write(new TextEncoder().encode(reply));
      else await new Promise((r) => setTimeout(r, 700));
    }
  })().catch(() => {}); // the listener closes early when an assertion fails
  const dir = await Deno.makeTempDir();
  try {
    const expected = [
      /^error: sha256 mismatch: got 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, server says 0{64}; discarded the download\n$/,
      /^error: partial transfer: got 5 of 10 bytes \(the connection closed early\); kept x\.part, run again with --resume to continue\n$/,
      /^error: the server sent no SHA-256 after the data; kept x\.part unverified\n$/,
      /^error: unexpected reply from the server: "WHAT"\n$/,
      /^error: timed out after 0\.3 s\n$/,
    ];
    for (const pattern of expected) {
      await Deno.remove(join(dir, "x.part")).catch(() => {});
      const r = await runScript(
        ["--allow-net", `--allow-read=${dir}`, `--allow-write=${dir}`],
        CLIENT,
        [
          `127.0.0.1:${listener.addr.port}:f`,
          "x",
          "--timeout",
          "0.3",
        ],
        { cwd: dir },
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, pattern);
      assert.equal(await exists(join(dir, "x")), false);
    }
  } finally {
    listener.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a client killed mid-transfer does not disturb the server; a killed server leaves no file", async () => {
  const base = await Deno.makeTempDir();
  const root = join(base, "root");
  await Deno.mkdir(root);
  const big = randomBytes(64 * 1024 * 1024);
  await Deno.writeFile(join(root, "big.bin"), big);
  await Deno.writeTextFile(join(root, "small.txt"), "still here\n");
  try {
    // Slow the transfer down with a proxy so the kills land mid-transfer.
    const server = await startScript(["--allow-net", `--allow-read=${root}`], SERVER, [
      "0",
      "--root",
      root,
      "-a",
      "127.0.0.1",
    ], READY);
    await using proxy = startChaosProxy({
      target: { hostname: "127.0.0.1", port: Number(server.match[1]) },
      segmentSize: 65536,
      delayMs: 2,
    });
    const flags = ["--allow-net", `--allow-read=${base}`, `--allow-write=${base}`];
    const client = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        ...flags,
        CLIENT,
        `127.0.0.1:${proxy.addr.port}:big.bin`,
        "victim.bin",
      ],
      cwd: base,
      stdout: "null",
      stderr: "null",
    }).spawn();
    while (proxy.downstreamBytes() < 1_000_000) await new Promise((r) => setTimeout(r, 10));
    client.kill("SIGKILL");
    await client.status;
    const after = await runScript(flags, CLIENT, [`127.0.0.1:${server.match[1]}:small.txt`], {
      cwd: base,
    });
    assert.equal(after.code, 0, after.stderr);
    await server.waitFor(/"big\.bin" [1-9]\d* of 67108864 bytes .*: cut: /);

    // Now kill the server in the middle of a download.
    const downloading = runScript(flags, CLIENT, [
      `127.0.0.1:${proxy.addr.port}:big.bin`,
      "orphan.bin",
    ], { cwd: base });
    const before = proxy.downstreamBytes();
    while (proxy.downstreamBytes() < before + 1_000_000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await server.stop("SIGKILL");
    const r = await downloading;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: partial transfer: got \d+ of 67108864 bytes/);
    assert.equal(await exists(join(base, "orphan.bin")), false);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("files over 4 GiB: offsets and sizes past 32 bits, via a sparse file and --resume", async () => {
  await using s = await setup({ blockSize: 1024 * 1024 });
  const size = 4 * 1024 ** 3 + 1_000_003;
  const tail = randomBytes(1_000_003);
  {
    using f = await Deno.open(join(s.root, "huge.bin"), { write: true, create: true });
    await f.truncate(4 * 1024 ** 3);
    await f.seek(4 * 1024 ** 3, Deno.SeekMode.Start);
    for (let off = 0; off < tail.length;) off += await f.write(tail.subarray(off));
  }
  // The client already "has" the sparse zeros: only the tail crosses the wire.
  const local = join(s.out, "huge.bin");
  {
    using f = await Deno.open(`${local}.part`, { write: true, create: true });
    await f.truncate(4 * 1024 ** 3);
  }
  // Both ends hash the 4 GiB prefix; a server process does it on the other core meanwhile.
  await using server = await startScript(["--allow-net", `--allow-read=${s.root}`], SERVER, [
    "0",
    "--root",
    s.root,
    "-a",
    "127.0.0.1",
  ], READY);
  const port = Number(server.match[1]);
  const r = await download({
    hostname: "127.0.0.1",
    port,
    remote: "huge.bin",
    local,
    resume: true,
    timeoutMs: 300_000,
  });
  assert.equal(r.size, size);
  assert.equal(r.received, tail.length);
  assert.equal((await Deno.stat(local)).size, size);
  using f = await Deno.open(local);
  await f.seek(4 * 1024 ** 3, Deno.SeekMode.Start);
  const back = new Uint8Array(tail.length);
  for (let off = 0; off < back.length;) off += (await f.read(back.subarray(off)))!;
  assert.deepEqual(back, tail);
});

Deno.test({
  name:
    "progress is drawn on a terminal (a pty from script(1)), at most 10 times a second, never with --quiet",
  ignore: !(await Deno.stat("/usr/bin/script").then(() => true, () => false)),
  async fn() {
    await using s = await setup();
    // A slow link, so the download lasts long enough to draw progress several times.
    await using proxy = startChaosProxy({
      target: { hostname: "127.0.0.1", port: s.port },
      segmentSize: 65536,
      delayMs: 20,
    });
    const run = async (extra: string[]) => {
      const command = [
        Deno.execPath(),
        "run",
        "--quiet",
        "--allow-net",
        `--allow-read=${s.out}`,
        `--allow-write=${s.out}`,
        CLIENT,
        `127.0.0.1:${proxy.addr.port}:blob.bin`,
        "--force",
        ...extra,
      ]
        .map((a) => `'${a}'`).join(" ");
      const out = await new Deno.Command("script", {
        args: ["-qec", command, "/dev/null"],
        cwd: s.out,
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout);
    };
    const shown = await run([]);
    const updates = shown.split("\r").filter((l) =>
      /MiB \/ 3\.0 MiB {2}\d+% {2}[\d.]+ MB\/s {2}ETA \d+:\d\d/.test(l)
    );
    assert.ok(updates.length >= 2, shown.slice(0, 300));
    assert.match(shown, /sha256 OK/);
    const quiet = await run(["--quiet"]);
    assert.doesNotMatch(quiet, /ETA/);
    assert.match(quiet, /sha256 OK/);
  },
});

Deno.test("bad arguments exit 2", async () => {
  for (
    const args of [[], ["127.0.0.1:notaport:x"], ["127.0.0.1:12000"], ["::1:12000:x"], [
      "127.0.0.1:0:x",
    ], ["a", "b", "c"]]
  ) {
    const r = await runScript(["--allow-net"], CLIENT, args);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, /^error: /);
  }
  for (const args of [["80"], ["--block-size", "0"], ["--block-size", "2000000"], ["1", "2"]]) {
    const r = await runScript(["--allow-net", "--allow-read"], SERVER, args);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
  }
  const noRoot = await runScript(["--allow-net", "--allow-read"], SERVER, [
    "0",
    "--root",
    "/nonexistent/dir",
  ]);
  assert.equal(noRoot.code, 1);
  assert.equal(noRoot.stderr, "error: cannot serve /nonexistent/dir: no such file or directory\n");
});

Deno.test("server CLI with least-privilege flags serves, and stops on Ctrl+C", async () => {
  await using s = await setup();
  const server = await startScript(["--allow-net", `--allow-read=${s.root}`], SERVER, [
    "-p",
    "0",
    "--root",
    s.root,
  ], READY);
  const r = await runScript(cliFlags(Number(server.match[1]), s.out), CLIENT, [
    `127.0.0.1:${server.match[1]}:notes.txt`,
  ], { cwd: s.out });
  assert.equal(r.code, 0, r.stderr);
  // A file large enough to be hashed on the worker thread, which must need no more permissions.
  const big = randomBytes(9 * 1024 * 1024);
  await Deno.writeFile(join(s.root, "big.bin"), big);
  const b = await runScript(cliFlags(Number(server.match[1]), s.out), CLIENT, [
    `127.0.0.1:${server.match[1]}:big.bin`,
  ], { cwd: s.out });
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, new RegExp(`sha256 OK ${sha256(big)}`));
  // The worker must not keep the process alive after Ctrl+C either.
  assert.equal((await server.stop("SIGINT")).code, 0);
});

/**
 * Programs that swap names under a root (given as the first argument) back
 * and forth, for at most the seconds given as the second: `file` makes
 * `a.txt` a regular file (a hard link to `public.txt`), then a symlink to
 * `../secret.txt`; `folder` makes `d` a real folder (holding a public
 * `a.txt`), then a symlink to `../outside` (holding a secret `a.txt`), in
 * bursts of a second with pauses of three in between.
 */
const SWAPPERS = {
  file: `
    const [root, seconds] = Deno.args;
    const end = Date.now() + Number(seconds) * 1000;
    console.log("swapping");
    while (Date.now() < end) {
      Deno.linkSync(root + "/public.txt", root + "/.file");
      Deno.renameSync(root + "/.file", root + "/a.txt");
      Deno.symlinkSync("../secret.txt", root + "/.link");
      Deno.renameSync(root + "/.link", root + "/a.txt");
    }`,
  folder: `
    const [root, seconds] = Deno.args;
    const end = Date.now() + Number(seconds) * 1000;
    Deno.mkdirSync(root + "/.folder");
    Deno.writeTextFileSync(root + "/.folder/a.txt", Deno.readTextFileSync(root + "/public.txt"));
    Deno.symlinkSync("../outside", root + "/d");
    console.log("swapping");
    while (Date.now() < end) {
      for (const burst = Date.now() + 1000; Date.now() < burst;) {
        Deno.renameSync(root + "/d", root + "/.link");
        Deno.renameSync(root + "/.folder", root + "/d");
        Deno.renameSync(root + "/d", root + "/.folder");
        Deno.renameSync(root + "/.link", root + "/d");
      }
      // A pause with the real folder in place: the server serves nothing from a
      // folder whose entries are being changed, and the test wants to see it serve.
      Deno.renameSync(root + "/d", root + "/.link");
      Deno.renameSync(root + "/.folder", root + "/d");
      await new Promise((resolve) => setTimeout(resolve, 3000));
      Deno.renameSync(root + "/d", root + "/.folder");
      Deno.renameSync(root + "/.link", root + "/d");
    }`,
};

for (const [variant, name] of [["file", "a.txt"], ["folder", "d/a.txt"]] as const) {
  Deno.test(`symlink swap race (${variant}): a ${variant} swapped for a symlink to outside the root while it is downloaded leaks nothing`, async () => {
    // In-process, so the server may read everything: only its own checks stand between the
    // root and the secret, as with a CLI server whose --allow-read is wider than its --root.
    await using s = await setup();
    const secret = `SECRET ${crypto.randomUUID()}\n`;
    const shown = new TextEncoder().encode("public\n");
    await Deno.writeTextFile(join(s.base, "secret.txt"), secret);
    await Deno.mkdir(join(s.base, "outside"));
    await Deno.writeTextFile(join(s.base, "outside", "a.txt"), secret);
    await Deno.writeFile(join(s.root, "public.txt"), shown);
    const publicReply = `OK 7\npublic\n${sha256(shown)}\n`;
    const secretHash = sha256(new TextEncoder().encode(secret));
    const swapper = new Deno.Command(Deno.execPath(), {
      args: ["eval", SWAPPERS[variant], s.root, "15"],
      stdout: "piped",
    }).spawn();
    const stdout = swapper.stdout.getReader();
    try {
      assert.match(new TextDecoder().decode((await stdout.read()).value), /^swapping/);
      const counts = { served: 0, refused: 0, leaked: 0, other: [] as string[] };
      // Two bursts and two pauses of the folder swapper; the file swapper never rests.
      const until = performance.now() + (variant === "folder" ? 7000 : 3000);
      // Four clients: a request that finds the folder mid-burst waits for it up to seconds, so
      // two clients sometimes saw fewer than 20 refusals in a burst (on this code and before).
      await Promise.all([0, 1, 2, 3].map(async () => {
        while (performance.now() < until) {
          const reply = await rawRequest(s.port, `${name}\n0\n`);
          if (reply.includes("SECRET") || reply.includes(secretHash) || /^OK 4\d\n/.test(reply)) {
            counts.leaked++;
          } else if (reply === publicReply) counts.served++;
          else if (/^ERROR [^\n]+\n$/.test(reply)) counts.refused++;
          else counts.other.push(reply);
        }
      }));
      assert.equal(counts.leaked, 0, JSON.stringify(counts));
      assert.deepEqual(counts.other, [], "replies that are neither the file nor ERROR");
      // Only a test that also served the public file, and refused some swaps, proves anything.
      assert.ok(counts.served > 20 && counts.refused > 20, JSON.stringify(counts));
    } finally {
      swapper.kill();
      await Promise.all([swapper.status, stdout.cancel()]);
    }
  });
}

Deno.test("a folder swapped for a symlink to outside while the file is opened gets ERROR, not a silent close (--allow-read=ROOT)", async () => {
  const base = await Deno.makeTempDir({ prefix: "lab3_" });
  const root = join(base, "root");
  await Deno.mkdir(join(root, ".folder"), { recursive: true });
  await Deno.mkdir(join(base, "outside"));
  await Deno.writeTextFile(join(root, ".folder", "a.txt"), "public\n");
  await Deno.writeTextFile(join(base, "outside", "a.txt"), `SECRET ${crypto.randomUUID()}\n`);
  await Deno.symlink("../outside", join(root, "d"));
  // `d` is the folder, then the link, as fast as renames go. A server that may read its root
  // only gets a handle that Deno then refuses (NotCapable) when the open lands outside it.
  const swapper = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `
      const [root, seconds] = Deno.args;
      const end = Date.now() + Number(seconds) * 1000;
      console.log("swapping");
      while (Date.now() < end) {
        Deno.renameSync(root + "/d", root + "/.link");
        Deno.renameSync(root + "/.folder", root + "/d");
        Deno.renameSync(root + "/d", root + "/.folder");
        Deno.renameSync(root + "/.link", root + "/d");
      }`,
      root,
      "15",
    ],
    stdout: "piped",
  }).spawn();
  const stdout = swapper.stdout.getReader();
  try {
    await using server = await startScript(["--allow-net", `--allow-read=${root}`], SERVER, [
      "0",
      "--root",
      root,
      "-a",
      "127.0.0.1",
    ], READY);
    const port = Number(server.match[1]);
    assert.match(new TextDecoder().decode((await stdout.read()).value), /^swapping/);
    const counts = { served: 0, refused: 0, silent: 0, other: [] as string[] };
    // Enough answers for the code before the fix to close silently on a few dozen of them.
    const until = performance.now() + 8000;
    await Promise.all([0, 1].map(async () => {
      while (performance.now() < until && counts.refused + counts.silent < 400) {
        const reply = await rawRequest(port, "d/a.txt\n0\n");
        if (/^OK 7\npublic\n[0-9a-f]{64}\n$/.test(reply)) counts.served++;
        else if (/^ERROR [^\n]+\n$/.test(reply)) counts.refused++;
        else if (reply === "") counts.silent++;
        else counts.other.push(reply);
      }
    }));
    const { stdout: log } = await server.stop("SIGINT");
    assert.equal(counts.silent, 0, JSON.stringify(counts));
    assert.deepEqual(counts.other, [], "replies that are neither the file nor ERROR");
    assert.ok(counts.refused > 20, JSON.stringify(counts));
    assert.deepEqual(log.split("\n").filter((l) => /"d\/a\.txt" .*: (failed|cut): /.test(l)), []);
  } finally {
    swapper.kill();
    await Promise.all([swapper.status, stdout.cancel()]);
    await Deno.remove(base, { recursive: true });
  }
});

/** Reads from `conn` until a newline has come; returns what came before it. */
async function readLineFrom(conn: Deno.Conn): Promise<string> {
  const bytes: number[] = [];
  const buf = new Uint8Array(64);
  while (!bytes.includes(0x0a)) {
    const n = await conn.read(buf);
    if (n === null) break;
    bytes.push(...buf.subarray(0, n));
  }
  const text = new TextDecoder().decode(new Uint8Array(bytes));
  return text.slice(0, text.indexOf("\n"));
}

Deno.test("abandoned downloads of a huge file are cancelled: the hash worker is free for the next download", async () => {
  await using s = await setup();
  // 128 GiB, sparse: hashing it would keep the worker busy for a minute or more.
  const huge = join(s.root, "huge.bin");
  {
    using f = await Deno.open(huge, { write: true, create: true });
    await f.truncate(2 ** 37);
  }
  const big = randomBytes(9 * 1024 * 1024);
  await Deno.writeFile(join(s.root, "big.bin"), big);
  // Old enough for the requests to share one hash of it.
  await sleep(COARSE_RACY_MS + 100);
  // Three clients ask for it and leave right after `OK <size>`.
  for (let i = 0; i < 3; i++) {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await conn.write(new TextEncoder().encode("huge.bin\n0\n"));
    assert.equal(await readLineFrom(conn), `OK ${2 ** 37}`);
  }
  await waitForLog(s.log, /"huge\.bin" .*: (cut|failed): /, 3);
  // The next file the worker hashes comes with its hash, long before the client's timeout.
  const r = await download({
    hostname: "127.0.0.1",
    port: s.port,
    remote: "big.bin",
    local: join(s.out, "big.bin"),
    timeoutMs: 20_000,
  });
  assert.equal(r.sha256, sha256(big));
});

Deno.test("a transfer that leaves does not cancel the hash another transfer of the same file waits for", async () => {
  await using s = await setup();
  const size = 512 * 1024 * 1024;
  const zeros = join(s.root, "zeros.bin");
  {
    using f = await Deno.open(zeros, { write: true, create: true });
    await f.truncate(size);
  }
  const expected = createHash("sha256");
  const mib = new Uint8Array(1024 * 1024);
  for (let i = 0; i < size / mib.length; i++) expected.update(mib);
  // Old enough for the two requests to share one hash of it.
  await sleep(COARSE_RACY_MS + 100);
  // The first client resumes at the last KiB: the server sends it, then waits for the worker.
  using waiting = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await waiting.write(new TextEncoder().encode(`zeros.bin\n${size - 1024}\n`));
  // The second asks for the same file version, and leaves at once.
  {
    using leaving = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await leaving.write(new TextEncoder().encode("zeros.bin\n0\n"));
    assert.equal(await readLineFrom(leaving), `OK ${size}`);
  }
  await waitForLog(s.log, /"zeros\.bin" .*: cut: /);
  const reply = new Uint8Array(100 + 1024);
  let got = 0;
  for (let n; (n = await waiting.read(reply.subarray(got))) !== null;) got += n;
  const head = `OK ${size}\n`;
  assert.equal(new TextDecoder().decode(reply.subarray(0, head.length)), head);
  assert.equal(
    new TextDecoder().decode(reply.subarray(head.length + 1024, got)),
    `${expected.digest("hex")}\n`,
  );
});

Deno.test("a large file replaced after the server opened it: the hash sent is that of the bytes sent", async () => {
  await using s = await setup();
  {
    using f = await Deno.open(join(s.root, "huge.bin"), { write: true, create: true });
    await f.truncate(2 ** 37);
  }
  const big = randomBytes(9 * 1024 * 1024);
  await Deno.writeFile(join(s.root, "big.bin"), big);
  // A client resumes the huge file at its end: the worker hashes it for it, for minutes.
  const busy = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    await busy.write(new TextEncoder().encode(`huge.bin\n${2 ** 37}\n`));
    assert.equal(await readLineFrom(busy), `OK ${2 ** 37}`);
    // big.bin is opened and sent; the worker hashes it before the huge one (fewer bytes left).
    let allSent!: () => void;
    const sent = new Promise<void>((resolve) => (allSent = resolve));
    const local = join(s.out, "big.bin");
    const downloading = download({
      hostname: "127.0.0.1",
      port: s.port,
      remote: "big.bin",
      local,
      timeoutMs: 60_000,
      onProgress: (done, total) => done === total && allSent(),
    });
    await sent;
    // Replaced under its name, as an editor saves, then the huge file's client leaves: the
    // hash is still that of the file the worker opened and checked, the one the server sent.
    await Deno.writeFile(join(s.root, "big.bin.new"), randomBytes(big.length));
    await Deno.rename(join(s.root, "big.bin.new"), join(s.root, "big.bin"));
    busy.close();
    const r = await downloading;
    assert.equal(r.sha256, sha256(big));
    assert.deepEqual(await Deno.readFile(local), big);
  } finally {
    try {
      busy.close();
    } catch { /* closed above */ }
  }
});

/** Opens `path` as the server does before it asks the hasher: the file, its real path and stat. */
async function openForHash(path: string): Promise<Opened> {
  const file = await Deno.open(path);
  return { path: await Deno.realPath(path), file, info: await file.stat() };
}

Deno.test("FileHasher: requests for one file version share a job, cancelled when the last one leaves", async () => {
  const dir = await Deno.makeTempDir();
  const hasher = new FileHasher();
  const opened: Opened[] = [];
  try {
    const huge = join(dir, "huge.bin");
    {
      using f = await Deno.open(huge, { write: true, create: true });
      await f.truncate(2 ** 40);
    }
    const data = randomBytes(10_000);
    await Deno.writeFile(join(dir, "small.bin"), data);
    opened.push(await openForHash(huge), await openForHash(huge));
    const first = new AbortController();
    const second = new AbortController();
    const a = hasher.hash(opened[0], "huge@1", first.signal);
    const b = hasher.hash(opened[1], "huge@1", second.signal);
    assert.equal(hasher.jobs.size, 1);
    first.abort();
    // The other request still waits: the job runs on.
    await sleep(100);
    assert.deepEqual([hasher.jobs.size, hasher.cancelled], [1, 0]);
    second.abort();
    await assert.rejects(a);
    await assert.rejects(b);
    for (const deadline = performance.now() + 10_000; hasher.jobs.size > 0;) {
      assert.ok(performance.now() < deadline, "the worker did not stop the job");
      await sleep(10);
    }
    assert.deepEqual([hasher.jobs.size, hasher.cancelled], [0, 1]);
    // And the worker is free for the next file.
    const small = join(dir, "small.bin");
    opened.push(await openForHash(small));
    assert.equal(
      await hasher.hash(opened[2], undefined, new AbortController().signal),
      sha256(data),
    );
    // Another file under the name since it was opened: the worker does not hash it, the hash is
    // that of the file opened.
    opened.push(await openForHash(small));
    await Deno.rename(small, `${small}.old`);
    await Deno.writeFile(small, randomBytes(data.length));
    assert.equal(
      await hasher.hash(opened[3], undefined, new AbortController().signal),
      sha256(data),
    );
  } finally {
    hasher.close();
    for (const { file } of opened) file.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileHasher: a small file's hash does not wait for a huge one's: shortest remaining first", async () => {
  const dir = await Deno.makeTempDir();
  const hasher = new FileHasher();
  const opened: Opened[] = [];
  try {
    const huge = join(dir, "huge.bin");
    {
      using f = await Deno.open(huge, { write: true, create: true });
      await f.truncate(2 ** 40);
    }
    const data = randomBytes(3 * 1024 * 1024);
    const small = join(dir, "small.bin");
    await Deno.writeFile(small, data);
    opened.push(await openForHash(huge), await openForHash(small));
    // Given first: hours of hashing for a worker that runs each job to its end.
    const holder = new AbortController();
    const held = hasher.hash(opened[0], undefined, holder.signal);
    // Only so that such a worker makes this test fail instead of hang.
    const unblock = setTimeout(() => holder.abort(), 30_000);
    try {
      const hex = await hasher.hash(opened[1], undefined, new AbortController().signal);
      assert.equal(hex, sha256(data));
      // The huge file's hash is still being made: the small one did not wait for it.
      assert.deepEqual([hasher.jobs.size, hasher.cancelled], [1, 0]);
    } finally {
      clearTimeout(unblock);
      holder.abort();
    }
    await assert.rejects(held);
  } finally {
    hasher.close();
    for (const { file } of opened) file.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("clients that ask for a huge file's hash and then read nothing do not hold up another download's hash", async () => {
  // Ends the silent clients within the test; the download never idles anywhere near as long.
  await using s = await setup({ idleTimeoutMs: 6000 });
  // 128 GiB, sparse: its hash takes minutes.
  const size = 2 ** 37;
  {
    using f = await Deno.open(join(s.root, "big"), { write: true, create: true });
    await f.truncate(size);
  }
  const data = randomBytes(20 * 1000 * 1000);
  await Deno.writeFile(join(s.root, "20mb.bin"), data);
  // Four clients ask for its end (nothing to send but the hash), then send nothing more.
  const silent = await Promise.all(
    [0, 1, 2, 3].map(() => Deno.connect({ hostname: "127.0.0.1", port: s.port })),
  );
  try {
    const heads = await Promise.all(silent.map(async (conn) => {
      await conn.write(new TextEncoder().encode(`big\n${size}\n`));
      return await readLineFrom(conn);
    }));
    // The server hashes a file for a request before it answers `OK`.
    assert.deepEqual(heads, Array(4).fill(`OK ${size}`));
    const rests = silent.map(async (conn) => new TextDecoder().decode(await readAll(conn)));
    const local = join(s.out, "20mb.bin");
    const r = await download({ hostname: "127.0.0.1", port: s.port, remote: "20mb.bin", local });
    assert.equal(r.sha256, sha256(data));
    assert.deepEqual(await Deno.readFile(local), data);
    // Done while the huge file's hashes were still being made: none of those transfers had ended.
    assert.deepEqual(s.log.filter((l) => l.includes('"big"')), []);
    // In the end the idle timeout cuts them, with nothing sent after `OK`.
    assert.deepEqual(await Promise.all(rests), ["", "", "", ""]);
    await waitForLog(s.log, /"big" 0 of 0 bytes in .*: cut: idle timeout$/, 4);
  } finally {
    for (const conn of silent) conn.close();
  }
});

Deno.test({
  name: "a folder on the path exchanged with a symlink out (renameat2 RENAME_EXCHANGE), with " +
    "--allow-read=ROOT: every answer is the file or ERROR, never the outside file or a silent " +
    `close${canExchange ? "" : " (skipped: needs Linux's renameat2)"}`,
  ignore: !canExchange,
  async fn() {
    const base = await Deno.makeTempDir({ prefix: "lab3_exchange_" });
    const root = join(base, "root");
    try {
      await Deno.mkdir(join(root, "d"), { recursive: true });
      await Deno.mkdir(join(base, "outside"));
      await Deno.writeTextFile(join(root, "d", "a.txt"), "public\n");
      await Deno.writeTextFile(join(base, "outside", "a.txt"), "SECRET!\n");
      await Deno.symlink(join(base, "outside"), join(root, ".s"));
      await using server = await startScript(["--allow-net", `--allow-read=${root}`], SERVER, [
        "0",
        "--root",
        root,
        "-a",
        "127.0.0.1",
      ], READY);
      const port = Number(server.match[1]);
      // At every instant `d` is the folder or the link: no moment without either.
      const swapper = new Deno.Command(Deno.execPath(), {
        args: exchangeArgs(join(root, "d"), join(root, ".s"), 4000),
        stdout: "piped",
      }).output();
      let running = true;
      swapper.finally(() => (running = false));
      const counts = { served: 0, refused: 0, other: [] as string[] };
      await Promise.all([0, 1].map(async () => {
        while (running) {
          const reply = await rawRequest(port, "d/a.txt\n0\n");
          if (/^OK 7\npublic\n[0-9a-f]{64}\n$/.test(reply)) counts.served++;
          else if (/^ERROR [^\n]+\n$/.test(reply)) counts.refused++;
          else counts.other.push(JSON.stringify(reply)); // The secret, or a silent close ("").
        }
      }));
      assert.ok(Number(new TextDecoder().decode((await swapper).stdout)) > 1000, "hardly swapped");
      assert.deepEqual(counts.other, [], JSON.stringify(counts));
      assert.ok(counts.refused > 0, JSON.stringify(counts));
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

Deno.test("a name deeper than MAX_DEPTH folders is refused before anything is resolved; one within it is sent", async () => {
  await using s = await setup();
  const deep = (levels: number) => "d/".repeat(levels);
  Deno.mkdirSync(join(s.root, deep(MAX_DEPTH + 1)), { recursive: true });
  Deno.writeTextFileSync(join(s.root, deep(MAX_DEPTH), "f.txt"), "deep\n");
  Deno.writeTextFileSync(join(s.root, deep(MAX_DEPTH + 1), "f.txt"), "deeper\n");
  await sleep(COARSE_RACY_MS + 100); // The folders' change times must be older than their grain.
  assert.match(await rawRequest(s.port, `${deep(MAX_DEPTH)}f.txt\n0\n`), /^OK 5\ndeep\n/);
  for (const levels of [MAX_DEPTH + 1, 1900]) {
    assert.equal(
      await rawRequest(s.port, `${deep(levels)}f.txt\n0\n`),
      `ERROR more than ${MAX_DEPTH} folders in the name\n`,
    );
  }
});

Deno.test("the client never writes through a planted .part symlink", async () => {
  await using s = await setup();
  const outside = join(s.base, "outside.txt");
  await Deno.writeTextFile(outside, "not yours\n");
  // A fresh download removes the link and writes a new .part of its own.
  await Deno.symlink(outside, join(s.out, "notes.txt.part"));
  const fresh = await runScript(
    cliFlags(s.port, s.out),
    CLIENT,
    [`127.0.0.1:${s.port}:notes.txt`],
    {
      cwd: s.out,
    },
  );
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.equal(await Deno.readTextFile(outside), "not yours\n");
  assert.ok((await Deno.lstat(join(s.out, "notes.txt"))).isFile);
  assert.equal(await Deno.readTextFile(join(s.out, "notes.txt")), "notes for the lab\n");
  // --resume refuses a .part that is a symlink, in one line, and writes nothing.
  await Deno.symlink(outside, join(s.out, "small.bin.part"));
  const resumed = await runScript(cliFlags(s.port, s.out), CLIENT, [
    `127.0.0.1:${s.port}:small.bin`,
    "--resume",
  ], { cwd: s.out });
  assert.equal(resumed.code, 1);
  assert.equal(resumed.stderr, "error: small.bin.part is a symlink; delete it to start over\n");
  assert.equal(await Deno.readTextFile(outside), "not yours\n");
  assert.equal(await exists(join(s.out, "small.bin")), false);
});

Deno.test("the client prints a server's ERROR reason with control characters escaped", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    using conn = await listener.accept();
    await conn.read(new Uint8Array(1000));
    await conn.write(new TextEncoder().encode("ERROR \x1b[2J\x1b]0;owned\x07gone\rback\n"));
  })();
  const dir = await Deno.makeTempDir();
  try {
    const r = await runScript(
      [
        `--allow-net=127.0.0.1:${listener.addr.port}`,
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
      ],
      CLIENT,
      [`127.0.0.1:${listener.addr.port}:f`, "x"],
      { cwd: dir },
    );
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "error: server: \\x1b[2J\\x1b]0;owned\\x07gone\\x0dback\n");
  } finally {
    listener.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the client prints an unexpected reply with DEL, C1 and bidi controls escaped", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    using conn = await listener.accept();
    await conn.read(new Uint8Array(1000));
    await conn.write(new TextEncoder().encode("OK\u009b2J\u007f\u202e5\n"));
  })();
  const dir = await Deno.makeTempDir();
  try {
    const r = await runScript(
      [
        `--allow-net=127.0.0.1:${listener.addr.port}`,
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
      ],
      CLIENT,
      [`127.0.0.1:${listener.addr.port}:f`, "x"],
      { cwd: dir },
    );
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: unexpected reply from the server: "OK\\x9b2J\\x7f\\u202e5"\n');
  } finally {
    listener.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the server's log and refusals print a client's text with DEL, C1 and bidi controls escaped", async () => {
  await using s = await setup();
  // A name: refused for its DEL, and logged.
  const name = "a\u009b2J\u007f\u202eb.txt";
  assert.equal(await rawRequest(s.port, `${name}\n0\n`), "ERROR control characters in file name\n");
  const [named] = await waitForLog(s.log, /: refused: control characters in file name$/);
  assert.match(named, /^\('127\.0\.0\.1', \d+\) "a\\x9b2J\\x7f\\u202eb\.txt" 0 bytes in /);
  // An offset: quoted in the refusal, to the client and in the log.
  assert.equal(
    await rawRequest(s.port, "notes.txt\n\u009b\u007f\u202e\n"),
    'ERROR bad offset "\\x9b\\x7f\\u202e"\n',
  );
  const [offset] = await waitForLog(s.log, /: refused: bad offset /);
  assert.match(offset, /"notes\.txt" 0 bytes in .*: refused: bad offset "\\x9b\\x7f\\u202e"$/);
  for (const line of s.log) assert.doesNotMatch(line, /[\u007f-\u009f\u202e]/);
});

Deno.test("a transfer whose client went away is logged as cut, with the bytes that went out", async () => {
  await using s = await setup();
  // The client reads 100 kB of a file far larger than the socket buffers, and leaves:
  // the server's writes fail.
  await Deno.writeFile(join(s.root, "large.bin"), new Uint8Array(64 * 1024 * 1024));
  {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await conn.write(new TextEncoder().encode("large.bin\n0\n"));
    const buf = new Uint8Array(65536);
    for (let got = 0; got < 100_000;) got += (await conn.read(buf)) ?? Infinity;
  }
  const [large] = await waitForLog(s.log, /"large\.bin" /);
  const sent = Number(large.match(/"large\.bin" (\d+) of 67108864 bytes in .*: cut: /)?.[1]);
  assert.ok(sent >= 100_000 - 11 && sent < 64 * 1024 * 1024, large);

  // The client has all the data and leaves while the server's worker still hashes the
  // file (a 2 GiB one, resumed at its last 1000 bytes): every write succeeded, yet the
  // transfer did not complete.
  const big = join(s.root, "big.bin");
  {
    using f = await Deno.open(big, { write: true, create: true });
    await f.truncate(2 * 1024 ** 3);
  }
  {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await conn.write(new TextEncoder().encode(`big.bin\n${2 * 1024 ** 3 - 1000}\n`));
    const want = `OK ${2 * 1024 ** 3}\n`.length + 1000;
    const buf = new Uint8Array(want);
    for (let got = 0; got < want;) got += (await conn.read(buf.subarray(got))) ?? Infinity;
  }
  const [left] = await waitForLog(s.log, /"big\.bin" /, 1);
  assert.match(
    left,
    /"big\.bin" 1000 of 1000 bytes in .*: cut: the client closed before the hash$/,
  );
});

Deno.test("a file rewritten with the same size and modification time is hashed again", async () => {
  await using s = await setup();
  const path = join(s.root, "same.bin");
  const when = new Date(2020, 0, 1);
  for (const [i, data] of [randomBytes(5000), randomBytes(5000)].entries()) {
    await Deno.writeFile(path, data);
    // What `cp -p` or `touch -d` does: the same modification time again.
    await Deno.utime(path, when, when);
    // Long enough for the hash to be cached (the change time comes in whole seconds).
    await sleep(COARSE_RACY_MS + 100);
    const local = join(s.out, `same-${i}.bin`);
    const r = await download({ hostname: "127.0.0.1", port: s.port, remote: "same.bin", local });
    assert.equal(r.sha256, sha256(data));
    assert.deepEqual(await Deno.readFile(local), data);
  }
});

Deno.test("fileKey: none for a file changed within the last tick, or two seconds on a whole-second file system", () => {
  const info = (changed: number) =>
    ({
      size: 1,
      mtime: new Date(changed),
      ctime: new Date(changed),
      ino: 7,
      dev: 1,
    }) as Deno.FileInfo;
  const now = 1_700_000_000_500;
  assert.equal(fileKey("p", info(now - 10), now), undefined);
  assert.notEqual(fileKey("p", info(now - RACY_MS - 1), now), undefined);
  assert.equal(fileKey("p", info(now - 500), now), undefined); // a whole second: FAT's 2 s steps
  assert.notEqual(fileKey("p", info(now - 3000 + 500), now), undefined);
  // A modification time set back (`touch -d`): the change time, in whole seconds, still counts.
  assert.equal(fileKey("p", { ...info(now - 60_000), ctime: new Date(now - 500) }, now), undefined);
  // Every field counts, the change time too (no program can set it back).
  assert.notEqual(
    fileKey("p", { ...info(now - 5000), ctime: new Date(now - 4000) }, now),
    fileKey("p", info(now - 5000), now),
  );
});

Deno.test("SERVER:PORT:NAME_IN_SERVER: IPv6 in brackets, a name may hold ':'", () => {
  assert.deepEqual(splitTarget("[::1]:12000:a:b.txt"), {
    hostname: "::1",
    port: 12000,
    remote: "a:b.txt",
  });
  assert.deepEqual(splitTarget("10.0.0.1:99:x"), { hostname: "10.0.0.1", port: 99, remote: "x" });
  assert.deepEqual(splitTarget("localhost:1:dir/f"), {
    hostname: "localhost",
    port: 1,
    remote: "dir/f",
  });
  for (const bad of ["::1:12000:x", "host:12000", "host:12000:", "[::1]:x:y", "host"]) {
    assert.equal(splitTarget(bad), undefined, bad);
  }
});

Deno.test("--block-size 1024: the file goes out as 1024-byte writes, each one in the trace", async () => {
  await using s = await setup();
  const data = randomBytes(5000);
  await Deno.writeFile(join(s.root, "five.bin"), data);
  const server = await startScript(["--allow-net", `--allow-read=${s.root}`], SERVER, [
    "0",
    "--root",
    s.root,
    "--block-size",
    "1024",
    "--trace",
  ], READY);
  const r = await runScript(cliFlags(Number(server.match[1]), s.out), CLIENT, [
    `127.0.0.1:${server.match[1]}:five.bin`,
  ], { cwd: s.out });
  assert.equal(r.code, 0, r.stderr);
  const { stderr } = await server.stop("SIGINT");
  const writes = [...stderr.matchAll(/-> (\d+) bytes/g)].map((m) => Number(m[1]));
  // The header line, four whole blocks and the rest, then the hash line.
  assert.deepEqual(writes, ["OK 5000\n".length, 1024, 1024, 1024, 1024, 904, 65]);
});
