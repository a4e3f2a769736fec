import assert from "node:assert/strict";
import { udpEcho, udpPing } from "../lab_udp/client.ts";
import { serveUdp } from "../lab_udp/server.ts";
import { inProcess } from "./support/in_process.ts";
import { runScript, script, startScript } from "../harness/process.ts";
import { withTimeout } from "../common/io.ts";
import { canForge, sendForged } from "./support/forge_udp.ts";

const CLIENT = script("lab_udp/client.ts");
const SERVER = script("lab_udp/server.ts");
const FLAGS = ["--unstable-net", "--allow-net"];
const READY = /^Server waiting on \('[^']+', (\d+)\)$/;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A UDP socket on a free port that `using` closes (DatagramConn is not Disposable). */
function udp(hostname: string): Deno.DatagramConn & Disposable {
  const socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  return Object.assign(socket, { [Symbol.dispose]: () => socket.close() });
}

/** An in-process server whose log lines the test can read. */
function startServer(options: { hostname?: string; drop?: number } = {}) {
  return inProcess((log) => serveUdp({ hostname: "127.0.0.1", port: 0, log, ...options }));
}

/** A UDP socket that answers nothing but counts what it gets (a port where requests vanish). */
function blackHole() {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let count = 0;
  const loop = (async () => {
    try {
      while (true) {
        await socket.receive();
        count++;
      }
    } catch { /* closed */ }
  })();
  return {
    port: (socket.addr as Deno.NetAddr).port,
    count: () => count,
    [Symbol.asyncDispose]: async () => {
      socket.close();
      await loop;
    },
  };
}

/** A server that replies to each datagram through `reply(data, from, socket)`. */
function customServer(
  reply: (data: Uint8Array, from: Deno.NetAddr, socket: Deno.DatagramConn) => Promise<void>,
) {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const pending = new Set<Promise<void>>();
  const loop = (async () => {
    try {
      while (true) {
        const [data, from] = await socket.receive();
        const p = reply(data, from as Deno.NetAddr, socket).catch(() => {}).finally(() =>
          pending.delete(p)
        );
        pending.add(p);
      }
    } catch { /* closed */ }
  })();
  return {
    port: (socket.addr as Deno.NetAddr).port,
    [Symbol.asyncDispose]: async () => {
      await Promise.allSettled([...pending]);
      socket.close();
      await loop;
    },
  };
}

Deno.test("CLI round trip with the README's least-privilege flags; the server logs both ways", async () => {
  await using s = startServer();
  // The README's run line: any port of 127.0.0.1, so it works with whatever -p says.
  const r = await runScript(
    ["--unstable-net", "--allow-net=0.0.0.0:0,127.0.0.1"],
    CLIENT,
    ["-p", `${s.port}`, "hello", "straße"],
  );
  assert.equal(r.stdout, "HELLO STRASSE\n");
  assert.equal(r.code, 0);
  const [port] = s.log[0].match(/\d+(?=\)$)/) ?? [];
  assert.match(s.log[0], /^Received request from \('127\.0\.0\.1', \d+\)$/);
  assert.equal(s.log[1], `Sent reply to ('127.0.0.1', ${port})`);
  const typed = await runScript(FLAGS, CLIENT, ["-p", `${s.port}`], { stdin: "typed\n" });
  assert.equal(typed.stdout, "Input lowercase sentence: TYPED\n");
});

Deno.test("no server: 3 tries, then the exact message and exit 1", async () => {
  await using hole = blackHole();
  const r = await runScript(FLAGS, CLIENT, ["-p", `${hole.port}`, "--timeout", "0.2", "anyone?"]);
  assert.equal(
    r.stderr,
    `error: no reply from 127.0.0.1:${hole.port} after 3 tries (0.2 s timeout)\n`,
  );
  assert.equal(r.code, 1);
  assert.equal(hole.count(), 3);
  const two = await runScript(FLAGS, CLIENT, [
    "-p",
    `${hole.port}`,
    "--timeout",
    "0.1",
    "--retries",
    "2",
    "x",
  ]);
  assert.match(two.stderr, /after 2 tries \(0\.1 s timeout\)/);
});

Deno.test("only a datagram from the server's address is the reply", async () => {
  using stranger = udp("127.0.0.1");
  await using server = customServer(async (data, from, socket) => {
    await stranger.send(enc.encode("NOT THE SERVER"), from);
    await new Promise((r) => setTimeout(r, 20));
    await socket.send(enc.encode(dec.decode(data).toUpperCase()), from);
  });
  const { reply } = await udpEcho({ hostname: "127.0.0.1", port: server.port, sentence: "real" });
  assert.equal(reply, "REAL");
});

Deno.test("a reply to an earlier try is accepted for the same request", async () => {
  let first = true;
  await using server = customServer(async (data, from, socket) => {
    // Answer the first try only, and late: after the client has sent its second.
    if (!first) return;
    first = false;
    await new Promise((r) => setTimeout(r, 150));
    await socket.send(enc.encode(dec.decode(data).toUpperCase()), from);
  });
  const result = await udpEcho({
    hostname: "127.0.0.1",
    port: server.port,
    sentence: "slow",
    timeoutMs: 100,
    tries: 3,
  });
  assert.deepEqual(result, { reply: "SLOW", tries: 2 });
});

Deno.test("--drop 1 gives 100% loss in ping mode, exit 1", async () => {
  await using server = await startScript(FLAGS, SERVER, [
    "-a",
    "127.0.0.1",
    "-p",
    "0",
    "--drop",
    "1",
  ], READY);
  const r = await runScript(FLAGS, CLIENT, [
    "-p",
    server.match[1],
    "--ping",
    "3",
    "--interval",
    "0",
    "--timeout",
    "0.1",
  ]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout.match(/^Request timed out/gm)?.length, 3);
  assert.match(r.stdout, /^3 packets transmitted, 0 received, 100% packet loss$/m);
  assert.doesNotMatch(r.stdout, /rtt/);
});

Deno.test("--drop 0.5 with 40 pings: loss between 20% and 80%, counts agree", async () => {
  await using s = startServer({ drop: 0.5 });
  const lines: string[] = [];
  const stats = await udpPing({
    hostname: "127.0.0.1",
    port: s.port,
    count: 40,
    intervalMs: 0,
    timeoutMs: 100,
    print: (l) => lines.push(l),
  });
  const replies = lines.filter((l) => l.startsWith("Reply from")).length;
  const timeouts = lines.filter((l) => l.startsWith("Request timed out")).length;
  assert.equal(stats.transmitted, 40);
  assert.equal(replies, stats.received);
  assert.equal(replies + timeouts, 40);
  const loss = Math.round((100 * (40 - replies)) / 40);
  assert.ok(loss >= 20 && loss <= 80, `loss ${loss}%`);
  assert.ok(
    lines.includes(`40 packets transmitted, ${replies} received, ${loss}% packet loss`),
    lines.join("\n"),
  );
  assert.equal(s.log.filter((l) => l.includes("simulated loss")).length, 40 - replies);
});

Deno.test("late replies are discarded, not counted", async () => {
  await using server = customServer(async (data, from, socket) => {
    await new Promise((r) => setTimeout(r, 150));
    await socket.send(enc.encode(dec.decode(data).toUpperCase()), from);
  });
  const lines: string[] = [];
  const stats = await udpPing({
    hostname: "127.0.0.1",
    port: server.port,
    count: 3,
    intervalMs: 200,
    timeoutMs: 100,
    print: (l) => lines.push(l),
  });
  assert.equal(stats.received, 0);
  assert.ok(stats.late >= 2, `late ${stats.late}`);
  assert.ok(lines.includes("3 packets transmitted, 0 received, 100% packet loss"));
});

Deno.test("1,000 datagrams from 20 concurrent clients are all answered", async () => {
  await using s = startServer();
  const results = await Promise.all(
    Array.from({ length: 20 }, async (_, c) => {
      const replies: string[] = [];
      for (let i = 0; i < 50; i++) {
        replies.push(
          (await udpEcho({
            hostname: "127.0.0.1",
            port: s.port,
            sentence: `c${c} m${i}`,
            timeoutMs: 500,
            tries: 5,
          })).reply,
        );
      }
      return replies;
    }),
  );
  results.forEach((replies, c) => replies.forEach((r, i) => assert.equal(r, `C${c} M${i}`)));
});

Deno.test("IPv6 both sides, via the CLI", async () => {
  await using server = await startScript(FLAGS, SERVER, ["-a", "::1", "-p", "0"], READY);
  const r = await runScript(FLAGS, CLIENT, ["-a", "::1", "-p", server.match[1], "over ipv6"]);
  assert.equal(r.stdout, "OVER IPV6\n");
  const ping = await runScript(FLAGS, CLIENT, [
    "-a",
    "::1",
    "-p",
    server.match[1],
    "--ping",
    "2",
    "--interval",
    "0",
  ]);
  assert.match(ping.stdout, /^Reply from \[::1\]:\d+: seq=2 time=\d+\.\d\d ms$/m);
  assert.equal(ping.code, 0);
});

Deno.test("oversize: the client refuses before sending; the server drops, logs, and goes on", async () => {
  const big = await runScript(FLAGS, CLIENT, ["-p", "12000", "x".repeat(65508)]);
  assert.equal(big.code, 2);
  assert.match(
    big.stderr,
    /^error: the sentence is 65508 bytes; a UDP datagram carries at most 65507\n/,
  );
  // Over IPv6 a datagram may exceed 65507 bytes: the server must not answer it cut short.
  await using s = startServer({ hostname: "::1" });
  using sender = udp("::1");
  await sender.send(new Uint8Array(65508).fill(0x61), {
    transport: "udp",
    hostname: "::1",
    port: s.port,
  });
  const { reply } = await udpEcho({ hostname: "::1", port: s.port, sentence: "after" });
  assert.equal(reply, "AFTER");
  assert.ok(
    s.log.some((l) => /^Dropped oversize datagram from \('::1', \d+\)/.test(l)),
    s.log.join("\n"),
  );
  // The largest allowed datagram is answered whole.
  const max = "y".repeat(65507);
  assert.equal(
    (await udpEcho({ hostname: "::1", port: s.port, sentence: max })).reply,
    max.toUpperCase(),
  );
});

Deno.test("handout-style peers: plain sendto/recvfrom both ways", async () => {
  await using s = startServer();
  using sock = udp("127.0.0.1");
  await sock.send(enc.encode("plain"), { transport: "udp", hostname: "127.0.0.1", port: s.port });
  const [data] = await sock.receive();
  assert.equal(dec.decode(data), "PLAIN");
  await using plain = customServer(async (d, from, socket) =>
    void await socket.send(enc.encode(dec.decode(d).toUpperCase()), from)
  );
  const r = await runScript(FLAGS, CLIENT, ["-p", `${plain.port}`, "to python"]);
  assert.equal(r.stdout, "TO PYTHON\n");
});

Deno.test("server CLI: bad --drop exits 2, Ctrl+C stops it", async () => {
  const bad = await runScript(FLAGS, SERVER, ["--drop", "1.5"]);
  assert.equal(bad.code, 2);
  const server = await startScript(FLAGS, SERVER, ["-a", "127.0.0.1", "-p", "0"], READY);
  assert.equal((await server.stop("SIGINT")).code, 0);
});

Deno.test("server CLI: the port as the handout's PORT or as -p PORT, not two different ones", async () => {
  {
    await using server = await startScript(FLAGS, SERVER, ["0", "-a", "127.0.0.1"], READY);
    const { reply } = await udpEcho({
      hostname: "127.0.0.1",
      port: Number(server.match[1]),
      sentence: "positional",
    });
    assert.equal(reply, "POSITIONAL");
  }
  const help = await runScript(FLAGS, SERVER, ["--help"]);
  assert.match(help.stdout, /^usage: deno run \.\.\. lab_udp\/server\.ts \[options\] \[PORT\]\n/);
});

Deno.test("README: a server on -a :: answers IPv4 and IPv6 clients, with their least-privilege flags", async () => {
  await using server = await startScript(FLAGS, SERVER, ["-a", "::", "-p", "0"], READY);
  const port = server.match[1];
  const v4 = await runScript(
    ["--unstable-net", `--allow-net=0.0.0.0:0,127.0.0.1:${port}`],
    CLIENT,
    ["-p", port, "over ipv4"],
  );
  assert.equal(v4.stdout, "OVER IPV4\n", v4.stderr);
  const v6 = await runScript(
    ["--unstable-net", "--allow-net=[::]:0,[::1]"],
    CLIENT,
    ["-a", "::1", "-p", port, "--ping", "2", "--interval", "0"],
  );
  assert.match(v6.stdout, /^2 packets transmitted, 2 received, 0% packet loss$/m, v6.stderr);
  assert.equal(v6.code, 0);
  const spelled = await runScript(
    ["--unstable-net", `--allow-net=[::]:0,[0:0::1]:${port}`],
    CLIENT,
    ["-a", "0:0::1", "-p", port, "long form"],
  );
  assert.equal(spelled.stdout, "LONG FORM\n", spelled.stderr);
});

Deno.test("README: a server for local clients only needs --allow-net=ADDR:PORT,127.0.0.1", async () => {
  await using server = await startScript(
    ["--unstable-net", "--allow-net=0.0.0.0:0,127.0.0.1"],
    SERVER,
    ["-p", "0"],
    READY,
  );
  const r = await runScript(FLAGS, CLIENT, ["-p", server.match[1], "local"]);
  assert.equal(r.stdout, "LOCAL\n", r.stderr);
});

/** Sends `request` to the server on `port` and returns the reply (`undefined` if none in 2 s). */
async function exchange(port: number, request: Uint8Array): Promise<Uint8Array | undefined> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const pending = socket.receive().catch(() => undefined);
  try {
    await socket.send(request, { transport: "udp", hostname: "127.0.0.1", port });
    return (await withTimeout(2000, pending).catch(() => undefined))?.[0];
  } finally {
    socket.close();
    await pending;
  }
}

Deno.test("replies are never longer than the request (a spoofed sender gets no amplification)", async () => {
  await using s = startServer();
  const ask = (request: Uint8Array) => exchange(s.port, request);
  // Not UTF-8: ASCII letters upper-cased, every other byte as it was (not a 3-byte U+FFFD).
  const binary = new Uint8Array([0x61, 0xff, 0x62, 0xfe, 0x00, 0xc3]);
  assert.deepEqual(await ask(binary.slice()), new Uint8Array([0x41, 0xff, 0x42, 0xfe, 0x00, 0xc3]));
  // UTF-8: upper-cased as the handout does, but a character whose upper case is longer stays.
  const cases: [string, string][] = [
    ["straße é", "STRASSE É"],
    ["ŉ ɐ ΐ ǰ ok", "ŉ ɐ ΐ ǰ OK"],
    ["ﬁne", "FINE"],
    ["\ufeffbom", "\ufeffBOM"],
    // A character that grows keeps the rest of its datagram to ASCII upper case.
    ["é ŉ ok", "é ŉ OK"],
  ];
  for (const [text, expected] of cases) {
    const request = enc.encode(text);
    const reply = await ask(request.slice());
    assert.ok(reply, `no reply to ${text}`);
    assert.ok(reply.length <= request.length, `${text}: ${reply.length} > ${request.length}`);
    assert.equal(new TextDecoder("utf-8", { ignoreBOM: true }).decode(reply), expected);
  }
  // The largest datagrams, full of characters that grow: each gets a reply, no longer.
  const full = new Uint8Array(65507).fill(0xff);
  full[0] = 0x61;
  const fullReply = await ask(full.slice());
  assert.ok(fullReply, "no reply to a 65,507-byte binary datagram");
  assert.equal(fullReply.length, 65507);
  assert.equal(fullReply[0], 0x41);
  const growing = enc.encode("a" + "ŉ".repeat(32753));
  assert.equal(growing.length, 65507);
  const growingReply = await ask(growing.slice());
  assert.ok(growingReply, "no reply to a 65,507-byte datagram of growing characters");
  assert.equal(dec.decode(growingReply), "A" + "ŉ".repeat(32753));
  assert.ok(!s.log.some((l) => l.startsWith("Could not reply")), s.log.join("\n"));
});

/**
 * A server on 127.0.0.1 that, before each genuine reply, has two strangers
 * send the client a fake one: from another port of its address, and from its
 * port on another address (127.0.0.2).
 */
function spoofedServer() {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  const otherPort = udp("127.0.0.1");
  const otherAddress = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.2", port });
  const fake = enc.encode("FAKE");
  const loop = (async () => {
    try {
      while (true) {
        const [data, from] = await socket.receive();
        await otherPort.send(fake, from);
        await otherAddress.send(fake, from);
        await new Promise((r) => setTimeout(r, 20));
        await socket.send(enc.encode(dec.decode(data).toUpperCase()), from);
      }
    } catch { /* closed */ }
  })();
  return {
    port,
    [Symbol.asyncDispose]: async () => {
      socket.close();
      await loop;
      otherPort.close();
      otherAddress.close();
    },
  };
}

Deno.test("the reply must come from the server's address and port, however the address is written", async () => {
  await using server = spoofedServer();
  const port = `${server.port}`;
  // Each with the least privilege the README gives: a name needs itself allowed (the lookup).
  for (
    const [host, allow] of [
      ["127.0.0.1", `127.0.0.1:${port}`],
      ["127.1", `127.1:${port}`],
      ["127.000.000.001", `127.000.000.001:${port}`],
      ["localhost", "localhost"],
    ]
  ) {
    const r = await runScript(
      ["--unstable-net", `--allow-net=0.0.0.0:0,${allow}`],
      CLIENT,
      ["-a", host, "-p", port, "--timeout", "0.5", "genuine"],
    );
    assert.equal(r.stdout, "GENUINE\n", `-a ${host}: ${r.stderr}`);
    assert.equal(r.code, 0);
  }
  const ping = await runScript(FLAGS, CLIENT, [
    "-a",
    "127.1",
    "-p",
    port,
    "--ping",
    "2",
    "--interval",
    "0",
  ]);
  assert.match(ping.stdout, /^2 packets transmitted, 2 received, 0% packet loss$/m, ping.stderr);
  assert.doesNotMatch(ping.stdout, /late/);
  const { reply } = await udpEcho({
    hostname: "127.000.000.001",
    port: server.port,
    sentence: "x",
  });
  assert.equal(reply, "X");
});

Deno.test("a name needs --allow-net=NAME to be looked up; an unknown one is one clear line", async () => {
  const denied = await runScript(
    ["--unstable-net", "--allow-net=0.0.0.0:0,localhost:12000"],
    CLIENT,
    ["-a", "localhost", "hi"],
  );
  assert.equal(
    denied.stderr,
    "error: permission denied: looking up localhost needs --allow-net=localhost\n",
  );
  assert.equal(denied.code, 1);
  const unknown = await runScript(FLAGS, CLIENT, ["-a", "no-such-host.invalid", "hi"]);
  assert.equal(unknown.stderr, "error: unknown host no-such-host.invalid\n");
  assert.equal(unknown.code, 1);
});

Deno.test("a flood of strangers' datagrams cannot hold the client past its timeout", async () => {
  using stranger = udp("127.0.0.1");
  let clientDone = false;
  let flood: Promise<boolean> | undefined;
  // The "server" never answers; once it knows the client's address a stranger floods it, for at
  // most 5 s (25 times what the client should wait): long enough to show a client held by it.
  await using server = customServer((_data, from) => {
    flood ??= (async () => {
      const end = performance.now() + 5000;
      while (!clientDone) {
        if (performance.now() > end) return false;
        await stranger.send(enc.encode("NOISE"), from);
      }
      return true;
    })();
    return Promise.resolve();
  });
  await assert.rejects(
    udpEcho({ hostname: "127.0.0.1", port: server.port, sentence: "x", timeoutMs: 100, tries: 2 }),
    /no reply from 127\.0\.0\.1:\d+ after 2 tries/,
  );
  clientDone = true;
  assert.equal(await flood, true, "the client gave up only when the flood ended");
  flood = undefined;
  clientDone = false;
  const stats = await udpPing({
    hostname: "127.0.0.1",
    port: server.port,
    count: 2,
    intervalMs: 0,
    timeoutMs: 100,
    print: () => {},
  });
  clientDone = true;
  assert.equal(stats.received, 0);
  assert.equal(await flood, true, "ping gave up only when the flood ended");
});

const forge = await canForge();
const isRoot = Deno.uid() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The name of a test that needs a raw socket, saying so when it is skipped. */
function forgeTest(name: string, fn: () => Promise<void>) {
  Deno.test({
    name: forge ? name : `${name} (skipped: python3 and a raw socket, as root, are needed)`,
    ignore: !forge,
    fn,
  });
}

forgeTest(
  "a datagram forged from the server's own address and port is ignored, not answered for ever",
  async () => {
    await using s = startServer();
    const self = { hostname: "127.0.0.1", port: s.port };
    await sendForged(self, self, enc.encode("loop"));
    // Answered, it would come back as a request: each turn two more log lines, for ever.
    const { reply } = await udpEcho({ hostname: "127.0.0.1", port: s.port, sentence: "next" });
    assert.equal(reply, "NEXT");
    await sleep(300);
    const ignored = `Ignored datagram from ('127.0.0.1', ${s.port}): from the server's own port`;
    assert.equal(s.log.length, 3, s.log.slice(0, 10).join("\n"));
    assert.equal(s.log.filter((l) => l === ignored).length, 1, s.log.slice(0, 10).join("\n"));
    assert.equal(s.log.filter((l) => /^(Received request from|Sent reply to) /.test(l)).length, 2);
  },
);

forgeTest(
  "two servers on one port, or one on 0.0.0.0: a datagram forged from the port on another address is ignored",
  async () => {
    // Two students' servers on the same port of two addresses would ping-pong.
    await using a = startServer();
    await using b = inProcess((log) => serveUdp({ hostname: "127.0.0.2", port: a.port, log }));
    await sendForged({ hostname: "127.0.0.2", port: a.port }, {
      hostname: "127.0.0.1",
      port: a.port,
    }, enc.encode("ping-pong"));
    // One on 0.0.0.0 would answer itself: 127.0.0.2 is one of its addresses.
    await using any = inProcess((log) => serveUdp({ hostname: "0.0.0.0", port: 0, log }));
    await sendForged({ hostname: "127.0.0.2", port: any.port }, {
      hostname: "127.0.0.1",
      port: any.port,
    }, enc.encode("loop"));
    await sleep(300);
    assert.deepEqual(a.log, [
      `Ignored datagram from ('127.0.0.2', ${a.port}): from the server's own port`,
    ], a.log.slice(0, 10).join("\n"));
    assert.deepEqual(b.log, [], b.log.slice(0, 10).join("\n"));
    assert.deepEqual(any.log, [
      `Ignored datagram from ('127.0.0.2', ${any.port}): from the server's own port`,
    ], any.log.slice(0, 10).join("\n"));
    const { reply } = await udpEcho({
      hostname: "127.0.0.1",
      port: any.port,
      sentence: "still here",
    });
    assert.equal(reply, "STILL HERE");
  },
);

Deno.test({
  name: `a datagram from a port below 1024 gets no reply (an echo service would answer back)${
    isRoot ? "" : " (skipped: binding a port below 1024 needs root)"
  }`,
  ignore: !isRoot,
  async fn() {
    await using s = startServer();
    let socket: Deno.DatagramConn | undefined;
    for (let port = 999; !socket; port--) {
      try {
        socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse) || port < 990) throw error;
      }
    }
    const port = (socket.addr as Deno.NetAddr).port;
    const pending = socket.receive().catch(() => undefined);
    try {
      await socket.send(enc.encode("echo me"), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: s.port,
      });
      const reply = await withTimeout(500, pending).catch(() => undefined);
      assert.equal(reply, undefined, "the server answered port " + port);
    } finally {
      socket.close();
      await pending;
    }
    assert.deepEqual(s.log, [
      `Ignored datagram from ('127.0.0.1', ${port}): from a system port (below 1024)`,
    ]);
  },
});

Deno.test("run without --unstable-net: one line that says to add the flag, exit 1", async () => {
  // --no-config: without this repository's deno.json, which turns the flag on for its scripts.
  const server = await runScript(["--no-config", "--allow-net"], SERVER, ["-p", "0"]);
  assert.equal(
    server.stderr,
    "error: UDP sockets need Deno's --unstable-net flag: " +
      "deno run --unstable-net --allow-net lab_udp/server.ts\n",
  );
  assert.equal(server.code, 1);
  const client = await runScript(["--no-config", "--allow-net"], CLIENT, ["hello"]);
  assert.equal(
    client.stderr,
    "error: UDP sockets need Deno's --unstable-net flag: " +
      "deno run --unstable-net --allow-net=0.0.0.0:0,127.0.0.1 lab_udp/client.ts\n",
  );
  assert.equal(client.code, 1);
  // With the flag, the same scripts outside the config run.
  await using s = startServer();
  const flagged = await runScript(["--no-config", ...FLAGS], CLIENT, ["-p", `${s.port}`, "hi"]);
  assert.equal(flagged.stdout, "HI\n", flagged.stderr);
});
