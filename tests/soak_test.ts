/**
 * A bounded soak: 500 concurrent echo clients, 50 concurrent downloads and
 * 2,000 HTTP requests at once against the three servers running as
 * processes; then every answer must have been right, the servers must still
 * answer, and their open descriptors must return to where they started.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { echoOnce } from "../lab1_echo/client.ts";
import { download } from "../lab3_file/client.ts";
import { fetchUrl, parseUrl } from "../lab_http/client.ts";
import { script, startScript } from "../harness/process.ts";

const linux = Deno.build.os === "linux";

function openFds(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

async function settle(pid: number, target: number, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let n = openFds(pid);
  while (n > target && performance.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    n = openFds(pid);
  }
  return n;
}

Deno.test({
  name:
    "soak: 500 echo clients, 50 downloads, 2,000 HTTP requests at once; no wrong answer, no leaked descriptor",
  ignore: !linux,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "soak_" });
    const root = join(dir, "root");
    const out = join(dir, "out");
    await Deno.mkdir(root);
    await Deno.mkdir(out);
    await using _cleanup = { [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
    const file = new Uint8Array(1024 * 1024);
    crypto.getRandomValues(file.subarray(0, 65536));
    file.copyWithin(65536, 0, file.length - 65536);
    await Deno.writeFile(join(root, "one.bin"), file);
    await Deno.writeTextFile(join(root, "page.html"), "<p>soak</p>\n");
    const digest = createHash("sha256").update(file).digest("hex");

    await using echo = await startScript(
      ["--allow-net"],
      script("lab1_echo/server.ts"),
      ["-a", "127.0.0.1", "-p", "0"],
      /, (\d+)\)$/,
      {
        discardAfterReady: true,
      },
    );
    await using files = await startScript(
      ["--allow-net", `--allow-read=${root}`],
      script("lab3_file/server.ts"),
      ["0", "--root", root, "-a", "127.0.0.1"],
      /, (\d+)\)/,
      {
        discardAfterReady: true,
      },
    );
    await using http = await startScript(
      ["--allow-net", `--allow-read=${root}`],
      script("lab_http/server.ts"),
      ["0", "-a", "127.0.0.1", "-d", root],
      /:(\d+)\/$/,
      {
        discardAfterReady: true,
      },
    );
    const ports = {
      echo: Number(echo.match[1]),
      files: Number(files.match[1]),
      http: Number(http.match[1]),
    };
    const get = async (path: string) => {
      let body = "";
      const { head } = await fetchUrl(parseUrl(`http://127.0.0.1:${ports.http}${path}`), {
        sink: (d) => Promise.resolve(void (body += new TextDecoder().decode(d))),
      });
      return { status: head.status, body };
    };
    // One of each first: what a server opens once (caches, lazily loaded code) is not a leak.
    await echoOnce({ hostname: "127.0.0.1", port: ports.echo, sentence: "warm" });
    await download({
      hostname: "127.0.0.1",
      port: ports.files,
      remote: "one.bin",
      local: join(out, "warm.bin"),
    });
    await get("/page.html");
    const before = { echo: openFds(echo.pid), files: openFds(files.pid), http: openFds(http.pid) };

    let wrong = 0;
    const echoes = Array.from({ length: 500 }, async (_, i) => {
      const reply = await echoOnce({
        hostname: "127.0.0.1",
        port: ports.echo,
        sentence: `client ${i}`,
      });
      if (reply !== `CLIENT ${i}`) wrong++;
    });
    const downloads = Array.from({ length: 50 }, async (_, i) => {
      const r = await download({
        hostname: "127.0.0.1",
        port: ports.files,
        remote: "one.bin",
        local: join(out, `d${i}.bin`),
      });
      if (r.sha256 !== digest) wrong++;
    });
    // 2,000 requests from 20 workers, interleaved with the rest.
    const requests = Array.from({ length: 20 }, async () => {
      for (let i = 0; i < 100; i++) {
        const r = await get(i % 2 ? "/page.html" : "/");
        if (
          r.status !== 200 || (i % 2 ? r.body !== "<p>soak</p>\n" : !r.body.includes("one.bin"))
        ) wrong++;
      }
    });
    await Promise.all([...echoes, ...downloads, ...requests]);
    assert.equal(wrong, 0);

    // Still answering.
    assert.equal(
      await echoOnce({ hostname: "127.0.0.1", port: ports.echo, sentence: "after" }),
      "AFTER",
    );
    assert.equal((await get("/page.html")).body, "<p>soak</p>\n");
    // Descriptors back to their starting counts within a second.
    for (const [name, server] of [["echo", echo], ["files", files], ["http", http]] as const) {
      const now = await settle(server.pid, before[name], 1000);
      assert.ok(
        now <= before[name],
        `${name}: ${now} open descriptors, ${before[name]} before the load`,
      );
    }
  },
});
