/**
 * Faults in the path: a userspace relay between client and server that
 * re-segments, delays, drops, duplicates, reorders, or swallows everything.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { download } from "../lab3_file/client.ts";
import { serveFiles } from "../lab3_file/server.ts";
import { serveSum } from "../lab2_sum/server.ts";
import { udpEcho, udpPing } from "../lab_udp/client.ts";
import { serveUdp } from "../lab_udp/server.ts";
import { serveHttp } from "../lab_http/server.ts";
import { randomBytes } from "../harness/bytes.ts";
import { startChaosProxy } from "./support/chaos_proxy.ts";
import { startUdpChaosRelay } from "./support/chaos_udp.ts";
import { runScript, script } from "../harness/process.ts";

function udpServer() {
  const server = serveUdp({ hostname: "127.0.0.1", port: 0, log: () => {} });
  return {
    target: { hostname: "127.0.0.1", port: server.addr.port },
    async [Symbol.asyncDispose]() {
      server.close();
      await server.finished;
    },
  };
}

/** A seeded random source, so a fault pattern is the same on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

Deno.test("file transfer stays byte-exact through odd segmentation and delays", async () => {
  const root = await Deno.makeTempDir();
  try {
    const data = randomBytes(512 * 1024 + 3);
    await Deno.writeFile(join(root, "f.bin"), data);
    const server = serveFiles({ hostname: "127.0.0.1", port: 0, root, log: () => {} });
    try {
      await using proxy = startChaosProxy({
        target: { hostname: "127.0.0.1", port: server.addr.port },
        segmentSize: 777,
        delayMs: 0.2,
      });
      const local = join(root, "copy.bin");
      const r = await download({
        hostname: "127.0.0.1",
        port: proxy.addr.port,
        remote: "f.bin",
        local,
      });
      assert.equal(r.sha256, createHash("sha256").update(data).digest("hex"));
      assert.deepEqual(await Deno.readFile(local), data);
    } finally {
      server.close();
      await server.finished;
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("UDP ping reports exactly the loss the relay caused", async () => {
  await using server = udpServer();
  await using relay = startUdpChaosRelay({ target: server.target, drop: 0.2, random: seeded(7) });
  const lines: string[] = [];
  const stats = await udpPing({
    hostname: "127.0.0.1",
    port: relay.addr.port,
    count: 60,
    intervalMs: 0,
    timeoutMs: 100,
    print: (l) => lines.push(l),
  });
  // Each dropped datagram (request or reply) costs exactly one ping.
  assert.equal(stats.transmitted - stats.received, relay.stats.dropped);
  const loss = Math.round((100 * (60 - stats.received)) / 60);
  // Two chances to drop at 20% each: about 36% expected.
  assert.ok(loss >= 16 && loss <= 56, `loss ${loss}%`);
  assert.ok(
    lines.includes(`60 packets transmitted, ${stats.received} received, ${loss}% packet loss`),
  );
});

Deno.test("duplicated, reordered and delayed datagrams: nothing counted twice, nothing lost", async () => {
  await using server = udpServer();
  await using relay = startUdpChaosRelay({
    target: server.target,
    duplicate: 0.5,
    reorder: 0.3,
    delayMs: 5,
    random: seeded(11),
  });
  const stats = await udpPing({
    hostname: "127.0.0.1",
    port: relay.addr.port,
    count: 30,
    intervalMs: 0,
    timeoutMs: 500,
    print: () => {},
  });
  assert.equal(stats.transmitted, 30);
  assert.equal(stats.received, 30);
  assert.ok(relay.stats.duplicated > 0 && relay.stats.reordered > 0);
  const { reply } = await udpEcho({
    hostname: "127.0.0.1",
    port: relay.addr.port,
    sentence: "twice?",
  });
  assert.equal(reply, "TWICE?");
});

Deno.test("a blackholed path: every client ends with a clear message, never hangs", async () => {
  // UDP: the relay swallows everything.
  await using udp = udpServer();
  await using hole = startUdpChaosRelay({ target: udp.target, blackhole: true });
  const udpFlags = ["--unstable-net", "--allow-net"];
  const echo = await runScript(udpFlags, script("lab_udp/client.ts"), [
    "-p",
    `${hole.addr.port}`,
    "--timeout",
    "0.2",
    "hello",
  ]);
  assert.equal(
    echo.stderr,
    `error: no reply from 127.0.0.1:${hole.addr.port} after 3 tries (0.2 s timeout)\n`,
  );
  const ping = await runScript(udpFlags, script("lab_udp/client.ts"), [
    "-p",
    `${hole.addr.port}`,
    "--ping",
    "3",
    "--interval",
    "0",
    "--timeout",
    "0.2",
  ]);
  assert.equal(ping.code, 1);
  assert.match(ping.stdout, /3 packets transmitted, 0 received, 100% packet loss/);

  // TCP: connections are accepted, then nothing comes back.
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(join(root, "f.txt"), "x");
  const sum = serveSum({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const files = serveFiles({ hostname: "127.0.0.1", port: 0, root, log: () => {} });
  const http = serveHttp({ hostname: "127.0.0.1", port: 0, root, log: () => {} });
  try {
    const stall = (port: number) =>
      startChaosProxy({ target: { hostname: "127.0.0.1", port }, stallAfter: 0 });
    await using p2 = stall(sum.addr.port);
    await using p3 = stall(files.addr.port);
    await using ph = stall(http.addr.port);
    const runs = await Promise.all([
      runScript(["--allow-net"], script("lab2_sum/client.ts"), [
        "-p",
        `${p2.addr.port}`,
        "--name",
        "A",
        "--number",
        "5",
        "--timeout",
        "0.3",
      ]),
      runScript(
        ["--allow-net", `--allow-read=${root}`, `--allow-write=${root}`],
        script("lab3_file/client.ts"),
        [`127.0.0.1:${p3.addr.port}:f.txt`, join(root, "g.txt"), "--timeout", "0.3"],
      ),
      runScript(["--allow-net"], script("lab_http/client.ts"), [
        `http://127.0.0.1:${ph.addr.port}/f.txt`,
        "--timeout",
        "0.3",
      ]),
    ]);
    for (const r of runs) {
      assert.equal(r.code, 1);
      assert.equal(r.stderr, "error: timed out after 0.3 s\n");
    }
  } finally {
    sum.close();
    files.close();
    http.close();
    await Promise.all([sum.finished, files.finished, http.finished]);
    await Deno.remove(root, { recursive: true });
  }
});
