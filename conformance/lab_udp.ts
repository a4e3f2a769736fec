/**
 * lab_udp checks: their server with raw datagrams, their client against our
 * server, and whether their client gives up when no server answers.
 *
 * @module
 */

import { serveUdp } from "../lab_udp/server.ts";
import { placeholders } from "./command.ts";
import { type Context, kitPort, runClient, ServerUnderTest } from "./context.ts";
import { quietPort } from "./ports.ts";
import type { Checks } from "./report.ts";
import { replyPrinted, SENTENCE } from "./lab1_echo.ts";
import { quote, seconds } from "./why.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Sends `text` up to 3 times, 1 s apart, and returns the first reply from the server's port. */
async function ask(port: number, text: string): Promise<string | undefined> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const pending = socket.receive().catch(() => null);
  try {
    for (let i = 0; i < 3; i++) {
      await socket.send(enc.encode(text), { transport: "udp", hostname: "127.0.0.1", port });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([
        pending,
        new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 1000))),
      ]);
      clearTimeout(timer);
      if (got) return dec.decode(got[0]);
    }
    return undefined;
  } finally {
    socket.close();
    await pending;
  }
}

/** Runs the UDP checks. */
export async function checkUdp(ctx: Context, checks: Checks): Promise<void> {
  if (ctx.server) {
    await using sut = await ServerUnderTest.start(ctx, checks, "udp", "udp.starts");
    if (!sut) return;
    for (
      const [id, text] of [["udp.reply", "hello udp"], ["udp.1400", "abcdefghij".repeat(140)]]
    ) {
      await sut.check(checks, id, async (port) => {
        const reply = await ask(port, text);
        if (reply === undefined) {
          return [
            "MISS",
            `sent a ${text.length}-byte datagram; expected it back upper-cased; no reply in 3 tries, 1 s apart`,
          ];
        }
        if (reply !== text.toUpperCase()) {
          return [
            "MISS",
            `expected ${text.length} bytes back upper-cased; got ${
              enc.encode(reply).length
            } bytes: ${quote(reply, 30)}`,
          ];
        }
        return ["PASS", `${text.length} bytes came back upper-cased`];
      });
    }
  }
  if (ctx.client) {
    const byArgument = placeholders(ctx.client).has("sentence");
    const ours = serveUdp({ hostname: "127.0.0.1", port: kitPort(ctx), log: () => {} });
    try {
      await checks.run("udp.client.reply", async () => {
        const vars = { host: "127.0.0.1", port: `${ours.addr.port}`, sentence: SENTENCE };
        return replyPrinted(
          await runClient(ctx, vars, `${SENTENCE}\n`),
          byArgument,
          "lab_udp/server.ts",
        );
      });
    } finally {
      ours.close();
      await ours.finished;
    }
    await checks.run("udp.client.gives_up", async () => {
      const limit = Math.min(ctx.timeoutMs, 10_000);
      const port = ctx.port ?? quietPort();
      const r = await runClient(
        ctx,
        { host: "127.0.0.1", port: `${port}`, sentence: "anyone there?" },
        "anyone there?\n",
        { timeoutMs: limit },
      );
      if (r.timedOut) {
        return [
          "MISS",
          `expected it to give up; still waiting after ${seconds(limit)}: no timeout`,
        ];
      }
      return ["PASS", `ended by itself (exit ${r.code})`];
    });
  }
}
