/**
 * lab_udp checks: their server with raw datagrams, their client against our
 * server, and whether their client gives up when no server answers.
 *
 * @module
 */

import { serveUdp } from "../lab_udp/server.ts";
import { type Context, quote, runClient, startServerOnFreePort } from "./context.ts";
import { freePort } from "../harness/free_port.ts";
import { Checks } from "./report.ts";

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
    const started = await startServerOnFreePort(ctx, checks, "udp");
    if (!started) return;
    const { port } = started;
    await using _server = started.server;
    for (
      const [name, text] of [["reply", "hello udp"], [
        "1,400-byte datagram",
        "abcdefghij".repeat(140),
      ]]
    ) {
      await checks.run(name, async () => {
        const reply = await ask(port, text);
        if (reply === undefined) return ["FAIL", "no reply in 3 tries"];
        if (reply !== text.toUpperCase()) {
          return ["FAIL", `got ${enc.encode(reply).length} bytes: ${quote(reply, 30)}`];
        }
        return ["PASS", `${text.length} bytes came back upper-cased`];
      });
    }
  }
  if (ctx.client) {
    const ours = serveUdp({ hostname: "127.0.0.1", port: 0, log: () => {} });
    try {
      await checks.run("client: reply printed", async () => {
        const r = await runClient(
          ctx,
          { host: "127.0.0.1", port: `${ours.addr.port}` },
          "hello from the kit\n",
        );
        if (r.timedOut) return ["FAIL", `still running after ${ctx.timeoutMs / 1000} s`];
        return r.text.includes("HELLO FROM THE KIT")
          ? ["PASS", "printed HELLO FROM THE KIT"]
          : ["FAIL", `no upper-cased reply in its output: ${quote(r.text + r.stderr)}`];
      });
    } finally {
      ours.close();
      await ours.finished;
    }
    await checks.run("client: gives up when no server answers", async () => {
      const limit = Math.min(ctx.timeoutMs, 10_000);
      const r = await runClient(
        ctx,
        { host: "127.0.0.1", port: `${freePort()}` },
        "anyone there?\n",
        limit,
      );
      if (r.timedOut) return ["WARN", `still waiting after ${limit / 1000} s: no timeout`];
      return ["PASS", `ended by itself (exit ${r.code})`];
    });
  }
}
