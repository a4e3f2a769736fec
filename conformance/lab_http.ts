/**
 * lab_http checks: their client against our server (a page, a 1 MB binary,
 * a chunked response), and their server against our client (a file, a 404).
 * A client template may use `{url}` (or `{host}`, `{port}`, `{remote}` for
 * the path, `{local}` for an output file); the URL is also typed on stdin,
 * followed by an empty line, for the handout's interactive client.
 *
 * @module
 */

import { join } from "node:path";
import { fetchUrl, parseUrl } from "../lab_http/client.ts";
import { serveHttp } from "../lab_http/server.ts";
import {
  containsBytes,
  type Context,
  quote,
  randomBytes,
  runClient,
  sameBytes,
  startServerOnFreePort,
} from "./context.ts";
import { Checks } from "./report.ts";

const PAGE =
  "<!DOCTYPE html><html><head><title>Kit page</title></head><body><p>conformance page</p></body></html>\n";
const CHUNKS = ["chunked ", "body ", "works"];

/** A raw server that answers every request with a chunked body. */
function chunkedServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks = new Set<Promise<void>>();
  const loop = (async () => {
    for await (const conn of listener) {
      const t = (async () => {
        try {
          await conn.read(new Uint8Array(8192));
          const body = CHUNKS.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join("") +
            "0\r\n\r\n";
          const bytes = new TextEncoder().encode(
            `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`,
          );
          for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
        } catch {
          /* client gone */
        } finally {
          conn.close();
        }
      })();
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop.catch(() => {});
      await Promise.allSettled([...tasks]);
    },
  };
}

/** Runs the HTTP checks. */
export async function checkHttp(ctx: Context, checks: Checks): Promise<void> {
  const big = randomBytes(1024 * 1024);
  if (ctx.client) {
    const root = join(ctx.serverDir, "ours");
    await Deno.mkdir(root, { recursive: true });
    await Deno.writeTextFile(join(root, "page.html"), PAGE);
    await Deno.writeFile(join(root, "big.bin"), big);
    const ours = serveHttp({ hostname: "127.0.0.1", port: 0, root, log: () => {} });
    await using chunked = chunkedServer();
    try {
      const get = async (port: number, path: string, local: string) => {
        const url = `http://127.0.0.1:${port}${path}`;
        const r = await runClient(ctx, {
          host: "127.0.0.1",
          port: `${port}`,
          remote: path,
          url,
          local,
        }, `${url}\n\n`);
        const file = await Deno.readFile(join(ctx.clientDir, local)).catch(() => undefined);
        return { r, out: file ?? r.stdout };
      };
      await checks.run("client: small page", async () => {
        const { r, out } = await get(ours.addr.port, "/page.html", "page.html");
        if (r.timedOut) return ["FAIL", `still running after ${ctx.timeoutMs / 1000} s`];
        return containsBytes(out, new TextEncoder().encode(PAGE))
          ? ["PASS", "the whole page"]
          : ["FAIL", `page not found in ${quote(r.text)}`];
      });
      await checks.run("client: 1 MB binary, byte-exact", async () => {
        const { r, out } = await get(ours.addr.port, "/big.bin", "big.bin");
        if (r.timedOut) return ["FAIL", `still running after ${ctx.timeoutMs / 1000} s`];
        if (sameBytes(out, big) || containsBytes(out, big)) {
          return ["PASS", "all 1,048,576 bytes, in order"];
        }
        return ["FAIL", `got ${out.length} bytes of output, not the 1,048,576-byte body`];
      });
      await checks.run("client: chunked response", async () => {
        const { r, out } = await get(chunked.port, "/chunked", "chunked.txt");
        if (r.timedOut) return ["FAIL", `still running after ${ctx.timeoutMs / 1000} s`];
        return containsBytes(out, new TextEncoder().encode(CHUNKS.join("")))
          ? ["PASS", "the chunks joined, sizes removed"]
          : ["FAIL", `no "${CHUNKS.join("")}" in ${quote(new TextDecoder().decode(out))}`];
      });
    } finally {
      ours.close();
      await ours.finished;
    }
  }
  if (ctx.server) {
    await Deno.writeTextFile(join(ctx.serverDir, "page.html"), PAGE);
    const started = await startServerOnFreePort(ctx, checks, "tcp");
    if (!started) return;
    const { port } = started;
    await using _server = started.server;
    const get = async (path: string) => {
      let body = "";
      const { head } = await fetchUrl(parseUrl(`http://127.0.0.1:${port}${path}`), {
        timeoutMs: ctx.timeoutMs,
        sink: (d) => Promise.resolve(void (body += new TextDecoder().decode(d))),
      });
      return { status: head.status, body };
    };
    await checks.run("server: a file", async () => {
      const r = await get("/page.html");
      if (r.status !== 200) return ["FAIL", `status ${r.status}`];
      return r.body === PAGE
        ? ["PASS", "200 and the exact page"]
        : ["FAIL", `200 but the body differs: ${quote(r.body)}`];
    });
    await checks.run("server: a 404", async () => {
      const r = await get("/no-such-page.html");
      return r.status === 404 ? ["PASS", "404"] : ["FAIL", `status ${r.status} for a missing file`];
    });
  }
}
