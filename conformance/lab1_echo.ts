/**
 * lab1_echo checks. The handout fixes the protocol (send a sentence, get it
 * back upper-cased), so either role may be tested alone against ours.
 *
 * @module
 */

import { echoOnce } from "../lab1_echo/client.ts";
import { serveEcho } from "../lab1_echo/server.ts";
import { type Context, quote, runClient, startServerOnFreePort } from "./context.ts";
import { Checks } from "./report.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One raw exchange: send (maybe a byte at a time), half-close, read until close or 3 s of silence. */
async function exchange(
  port: number,
  text: string,
  options: { byteByByte?: boolean; delayBeforeMs?: number; idleMs?: number } = {},
) {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  if (options.delayBeforeMs) await sleep(options.delayBeforeMs);
  const data = enc.encode(text);
  try {
    if (options.byteByByte) {
      for (const b of data) {
        await conn.write(new Uint8Array([b]));
        await sleep(5);
      }
    } else {
      for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
    }
  } catch {
    // The server closed early (it read once and replied): see what it sent.
  }
  await conn.closeWrite().catch(() => {});
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  while (true) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<"idle">((
      r,
    ) => (timer = setTimeout(() => r("idle"), options.idleMs ?? 3000)));
    const n = await Promise.race([conn.read(buf).catch(() => null), idle]).finally(() =>
      clearTimeout(timer)
    );
    if (n === "idle" || n === null) break;
    chunks.push(buf.slice(0, n));
  }
  return dec.decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

function sentence(size: number): string {
  const words = "the quick brown fox jumps over the lazy dog ";
  return words.repeat(Math.ceil(size / words.length)).slice(0, size);
}

/** Runs the lab1 checks. */
export async function checkLab1(ctx: Context, checks: Checks): Promise<void> {
  if (ctx.server) {
    const started = await startServerOnFreePort(ctx, checks, "tcp");
    if (!started) return;
    const { port } = started;
    await using server = started.server;
    const expectReply =
      (text: string, opts = {}) => async (): Promise<["PASS" | "FAIL", string]> => {
        const reply = await exchange(port, text, opts);
        const want = text.toUpperCase();
        if (reply === want) return ["PASS", `${text.length} bytes came back upper-cased`];
        return [
          "FAIL",
          `got ${enc.encode(reply).length} of ${enc.encode(want).length} bytes: ${
            quote(reply, 30)
          }`,
        ];
      };
    await checks.run("our client against it", async () => {
      const reply = await echoOnce({
        hostname: "127.0.0.1",
        port,
        sentence: "from our client",
        timeoutMs: 5000,
      });
      return reply === "FROM OUR CLIENT"
        ? ["PASS", "lab1_echo/client.ts got FROM OUR CLIENT"]
        : ["FAIL", `got ${quote(reply)}`];
    });
    await checks.run("upper-case reply", expectReply("hello world"));
    await checks.run("2 KB sentence", expectReply(sentence(2000)));
    await checks.run("64 KB sentence", expectReply(sentence(65536)));
    await checks.run(
      "sentence in 1-byte segments",
      expectReply("sent one byte at a time", { byteByByte: true }),
    );
    await checks.run("20 concurrent clients", async () => {
      // A first client that is slow to send: a one-at-a-time server makes everyone wait for it.
      const slow = exchange(port, "slow client", { delayBeforeMs: 1500, idleMs: 10_000 });
      await sleep(100);
      const started = performance.now();
      const fast = await Promise.all(Array.from({ length: 19 }, async (_, i) => {
        const reply = await exchange(port, `client ${i}`, { idleMs: 10_000 }).catch((e) =>
          `error: ${e}`
        );
        return { ok: reply === `CLIENT ${i}`, ms: performance.now() - started, reply };
      }));
      const slowReply = await slow.catch((e) => `error: ${e}`);
      const failed = fast.filter((f) => !f.ok).length + (slowReply === "SLOW CLIENT" ? 0 : 1);
      if (failed > 0) {
        const sample = fast.find((f) => !f.ok)?.reply ?? slowReply;
        return ["FAIL", `${failed} of 20 clients got no correct reply (e.g. ${quote(sample, 40)})`];
      }
      const waited = fast.filter((f) => f.ms > 1200).length;
      if (waited > 0) {
        return ["WARN", `${waited} of 19 clients waited for a slow one: served one at a time`];
      }
      return ["PASS", "all 20 answered; none waited for the slow one"];
    });
    if (server.exited()) {
      checks.add("server still running", "FAIL", `exited with code ${server.exited()!.code}`);
    }
  }
  if (ctx.client) {
    const log: string[] = [];
    const ours = serveEcho({ hostname: "127.0.0.1", port: 0, log: (l) => log.push(l) });
    try {
      const vars = { host: "127.0.0.1", port: `${ours.addr.port}` };
      const r = await runClient(ctx, vars, "hello from the kit\n");
      await checks.run("client: reply printed", () => {
        if (r.timedOut) return ["FAIL", `still running after ${ctx.timeoutMs / 1000} s`];
        return r.text.includes("HELLO FROM THE KIT")
          ? ["PASS", "printed HELLO FROM THE KIT"]
          : ["FAIL", `no upper-cased reply in its output: ${quote(r.text + r.stderr)}`];
      });
      await checks.run("client: prompt", () => {
        const before = r.text.split("HELLO FROM THE KIT")[0].trim();
        return before
          ? ["PASS", `asked ${quote(before, 40)}`]
          : ["WARN", "printed no prompt before reading the sentence"];
      });
    } finally {
      ours.close();
      await ours.finished;
    }
  }
}
