/**
 * Each TCP server at `ulimit -n` exhaustion (prlimit, Linux): it logs, keeps
 * running, and serves again once descriptors are free. (The UDP server has
 * one socket and opens nothing per request, so it has nothing to exhaust.)
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { exchangeSum } from "../lab2_sum/client.ts";
import { echoOnce } from "../lab1_echo/client.ts";
import { download } from "../lab3_file/client.ts";
import { fetchUrl, parseUrl } from "../lab_http/client.ts";
import { script, startProcess } from "../harness/process.ts";

const prlimit = await Deno.stat("/usr/bin/prlimit").then(() => true, () => false);
const LIMIT = 48;
const FLOOD = 80;

/** Opens connections until twice the limit, tolerating refusals while the server is starved. */
async function flood(port: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < FLOOD; i++) {
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return conns;
}

Deno.test({
  name: "fd exhaustion: lab1, lab2, lab3 and HTTP servers log it, keep running, and serve again",
  ignore: !prlimit,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "fdlimit_" });
    await Deno.writeTextFile(join(root, "f.txt"), "file body\n");
    const out = await Deno.makeTempDir({ prefix: "fdlimit_out_" });
    const cases = [
      {
        name: "lab1",
        args: ["--allow-net", script("lab1_echo/server.ts"), "-a", "127.0.0.1", "-p", "0"],
        ready: /, (\d+)\)$/,
        check: async (port: number) =>
          assert.equal(await echoOnce({ hostname: "127.0.0.1", port, sentence: "alive" }), "ALIVE"),
      },
      {
        name: "lab2",
        args: [
          "--allow-net",
          script("lab2_sum/server.ts"),
          "-a",
          "127.0.0.1",
          "-p",
          "0",
          "--number",
          "3",
        ],
        ready: /, (\d+)\)$/,
        check: async (port: number) =>
          assert.deepEqual(
            await exchangeSum({ hostname: "127.0.0.1", port, name: "A", number: 1 }),
            {
              name: "Server of Deno Socket Labs",
              number: 3,
            },
          ),
      },
      {
        name: "lab3",
        args: [
          "--allow-net",
          `--allow-read=${root}`,
          script("lab3_file/server.ts"),
          "0",
          "--root",
          root,
          "-a",
          "127.0.0.1",
        ],
        ready: /, (\d+)\)/,
        check: async (port: number) => {
          const local = join(out, `f${port}.txt`);
          await download({ hostname: "127.0.0.1", port, remote: "f.txt", local, force: true });
          assert.equal(await Deno.readTextFile(local), "file body\n");
        },
      },
      {
        name: "http",
        args: [
          "--allow-net",
          `--allow-read=${root}`,
          script("lab_http/server.ts"),
          "0",
          "-a",
          "127.0.0.1",
          "-d",
          root,
        ],
        ready: /:(\d+)\/$/,
        check: async (port: number) => {
          let body = "";
          const { head } = await fetchUrl(parseUrl(`http://127.0.0.1:${port}/f.txt`), {
            sink: (d) => Promise.resolve(void (body += new TextDecoder().decode(d))),
          });
          assert.equal(head.status, 200);
          assert.equal(body, "file body\n");
        },
      },
    ];
    try {
      for (const c of cases) {
        await using server = await startProcess("prlimit", [
          `--nofile=${LIMIT}:${LIMIT}`,
          Deno.execPath(),
          "run",
          "--quiet",
          ...c.args,
        ], c.ready);
        const port = Number(server.match[1]);
        await c.check(port);
        const conns = await flood(port);
        await server.waitFor(/accept failed: |server error: /);
        for (const conn of conns) conn.close();
        // Descriptors free again: the server answers (it may take a retry period or two).
        let ok = false;
        let last: unknown;
        for (let i = 0; i < 50 && !ok; i++) {
          try {
            await c.check(port);
            ok = true;
          } catch (error) {
            last = error;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        assert.ok(
          ok,
          `${c.name} did not serve again: ${last}\n${server.lines.slice(-5).join("\n")}`,
        );
        const stopped = await server.stop("SIGINT");
        assert.equal(stopped.code, 0, `${c.name}: ${stopped.stderr}`);
      }
    } finally {
      await Deno.remove(root, { recursive: true });
      await Deno.remove(out, { recursive: true });
    }
  },
});
