/**
 * Two hosts on one machine: network namespaces joined by a veth pair, each
 * lab's server in one and its client in the other, over IPv4 and IPv6.
 * Needs root and `ip netns`; skipped (with the reason in the test name's
 * line) otherwise. Every address used lives only inside these namespaces.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { runProgram, script, startProcess } from "../../harness/process.ts";

const id = Deno.pid % 100000;
const NS_A = `dslA${id}`;
const NS_B = `dslB${id}`;
const A4 = "10.231.0.1";
const B4 = "10.231.0.2";
const A6 = "fd00:231::1";
const B6 = "fd00:231::2";

async function sh(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return {
      ok: r.success,
      out: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr),
    };
  } catch (error) {
    return { ok: false, out: String(error) };
  }
}

/** Whether this machine lets us make namespaces (root, iproute2). */
async function netnsAvailable(): Promise<boolean> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
  const probe = `dslP${id}`;
  const made = await sh("ip", ["netns", "add", probe]);
  if (made.ok) await sh("ip", ["netns", "del", probe]);
  return made.ok;
}

const available = await netnsAvailable();

async function ip(...args: string[]) {
  const r = await sh("ip", args);
  if (!r.ok) throw new Error(`ip ${args.join(" ")}: ${r.out}`);
}

async function createHosts() {
  await ip("netns", "add", NS_A);
  await ip("netns", "add", NS_B);
  await ip("link", "add", `va${id}`, "type", "veth", "peer", "name", `vb${id}`);
  await ip("link", "set", `va${id}`, "netns", NS_A);
  await ip("link", "set", `vb${id}`, "netns", NS_B);
  for (const [ns, dev, v4, v6] of [[NS_A, `va${id}`, A4, A6], [NS_B, `vb${id}`, B4, B6]]) {
    await ip("-n", ns, "link", "set", "lo", "up");
    await ip("-n", ns, "addr", "add", `${v4}/24`, "dev", dev);
    await ip("-n", ns, "addr", "add", `${v6}/64`, "dev", dev, "nodad");
    await ip("-n", ns, "link", "set", dev, "up");
  }
}

async function destroyHosts() {
  // Deleting a namespace removes its end of the veth pair, and with it the pair.
  await sh("ip", ["netns", "del", NS_A]);
  await sh("ip", ["netns", "del", NS_B]);
}

/** The `ip` arguments for `deno run FLAGS FILE ARGS` inside a namespace. */
function denoIn(ns: string, flags: string[], file: string, args: string[]): string[] {
  return [
    "netns",
    "exec",
    ns,
    Deno.execPath(),
    "run",
    "--quiet",
    "--no-prompt",
    ...flags,
    script(file),
    ...args,
  ];
}

/** `deno run` inside a namespace, to completion (killed after 60 s). */
function runIn(ns: string, flags: string[], file: string, args: string[], cwd?: string) {
  return runProgram("ip", denoIn(ns, flags, file, args), { cwd, timeoutMs: 60_000 });
}

/** A server inside a namespace, until the test stops it. */
function serveIn(ns: string, flags: string[], file: string, args: string[], ready: RegExp) {
  return startProcess("ip", denoIn(ns, flags, file, args), ready);
}

Deno.test({
  name: available
    ? "two hosts (netns + veth): every lab across a real link, IPv4 and IPv6"
    : "two hosts (netns): skipped, needs root and `ip netns`",
  ignore: !available,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "netns_" });
    try {
      await createHosts();
      // lab1 echo, both families.
      for (const [addr, host] of [["0.0.0.0", A4], ["::", A6]]) {
        await using server = await serveIn(NS_A, ["--allow-net"], "lab1_echo/server.ts", [
          "-a",
          addr,
          "-p",
          "0",
        ], /, (\d+)\)$/);
        const r = await runIn(NS_B, [`--allow-net`], "lab1_echo/client.ts", [
          "-a",
          host,
          "-p",
          server.match[1],
          "across",
          "the",
          "link",
        ]);
        assert.equal(r.stdout, "Message received: ACROSS THE LINK\n", r.stderr);
        await server.waitFor(new RegExp(`Connected by: \\('${host === A4 ? B4 : B6}', \\d+\\)`));
      }

      // lab2 sum over IPv4.
      {
        await using server = await serveIn(NS_A, ["--allow-net"], "lab2_sum/server.ts", [
          "-p",
          "0",
          "--number",
          "17",
        ], /, (\d+)\)$/);
        const r = await runIn(NS_B, ["--allow-net"], "lab2_sum/client.ts", [
          "-a",
          A4,
          "-p",
          server.match[1],
          "--name",
          "Bee",
          "--number",
          "25",
        ]);
        assert.equal(
          r.stdout,
          "Client's name: Bee\nServer's name: Server of Deno Socket Labs\n25 + 17 = 42\n",
          r.stderr,
        );
      }

      // lab3: a 64 MiB file, hash checked, over IPv4 then IPv6.
      const root = join(dir, "root");
      const out = join(dir, "out");
      await Deno.mkdir(root);
      await Deno.mkdir(out);
      const chunk = new Uint8Array(1024 * 1024);
      const hash = createHash("sha256");
      {
        using f = await Deno.open(join(root, "big.bin"), { write: true, create: true });
        for (let i = 0; i < 64; i++) {
          crypto.getRandomValues(chunk.subarray(0, 65536));
          chunk.copyWithin(65536, 0, chunk.length - 65536);
          hash.update(chunk);
          for (let off = 0; off < chunk.length;) off += await f.write(chunk.subarray(off));
        }
      }
      const digest = hash.digest("hex");
      {
        await using server = await serveIn(
          NS_A,
          ["--allow-net", `--allow-read=${root}`],
          "lab3_file/server.ts",
          ["0", "--root", root, "-a", "::"],
          /, (\d+)\)/,
        );
        for (const [host, name] of [[A4, "v4.bin"], [`[${A6}]`, "v6.bin"]]) {
          const r = await runIn(
            NS_B,
            ["--allow-net", `--allow-read=${out}`, `--allow-write=${out}`],
            "lab3_file/client.ts",
            [`${host}:${server.match[1]}:big.bin`, join(out, name)],
          );
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, new RegExp(`sha256 OK ${digest}`));
        }
      }

      // UDP ping over IPv6, and an echo over IPv4.
      {
        await using server = await serveIn(
          NS_A,
          ["--unstable-net", "--allow-net"],
          "lab_udp/server.ts",
          ["-a", "::", "-p", "0"],
          /, (\d+)\)$/,
        );
        const ping = await runIn(NS_B, ["--unstable-net", "--allow-net"], "lab_udp/client.ts", [
          "-a",
          A6,
          "-p",
          server.match[1],
          "--ping",
          "5",
          "--interval",
          "0.05",
        ]);
        assert.match(
          ping.stdout,
          /^5 packets transmitted, 5 received, 0% packet loss$/m,
          ping.stderr,
        );
        const echo = await runIn(NS_B, ["--unstable-net", "--allow-net"], "lab_udp/client.ts", [
          "-a",
          A4,
          "-p",
          server.match[1],
          "datagram",
        ]);
        assert.equal(echo.stdout, "DATAGRAM\n", echo.stderr);
      }

      // HTTP: a listing and a file, both families.
      {
        await using server = await serveIn(
          NS_A,
          ["--allow-net", `--allow-read=${root}`],
          "lab_http/server.ts",
          ["0", "-a", "::", "-d", root],
          /:(\d+)\/$/,
        );
        for (const host of [A4, `[${A6}]`]) {
          const listing = await runIn(NS_B, ["--allow-net"], "lab_http/client.ts", [
            `http://${host}:${server.match[1]}/`,
            "-f",
          ]);
          assert.match(listing.stdout, /<a href="big\.bin">big\.bin<\/a>/, listing.stderr);
          const file = await runIn(
            NS_B,
            ["--allow-net", `--allow-read=${out}`, `--allow-write=${out}`],
            "lab_http/client.ts",
            [`http://${host}:${server.match[1]}/big.bin`, "-o", join(out, "http.bin"), "-f"],
          );
          assert.equal(file.code, 0, file.stderr);
          assert.equal(
            createHash("sha256").update(await Deno.readFile(join(out, "http.bin"))).digest("hex"),
            digest,
          );
        }
      }
    } finally {
      await destroyHosts();
      await Deno.remove(dir, { recursive: true });
    }
    // Nothing is left behind.
    assert.doesNotMatch((await sh("ip", ["netns", "list"])).out, new RegExp(`dsl[AB]${id}`));
  },
});
