/**
 * lab1_echo checks. The handout fixes the protocol (send a sentence, get it
 * back upper-cased), so either role may be tested alone against ours.
 *
 * @module
 */

import { serveEcho } from "../lab1_echo/server.ts";
import { runScript, script } from "../harness/process.ts";
import { type CommandResult, placeholders } from "./command.ts";
import { type Context, kitPort, runClient, sameBytes, ServerUnderTest } from "./context.ts";
import type { Checks, Status } from "./report.ts";
import { robustnessChecks } from "./robust.ts";
import { describeTalk, exchangeOf, replay } from "./wire.ts";
import { howItEnded, quote } from "./why.ts";

/** What the kit types (or passes as `{sentence}`) to a client under test. */
export const SENTENCE = "hello from the kit";

function sentence(size: number): string {
  const words = "the quick brown fox jumps over the lazy dog ";
  return words.repeat(Math.ceil(size / words.length)).slice(0, size);
}

/** Sending `text` and half-closing; the reply is `text` upper-cased, then the server's close. */
const echoOf = (text: string) =>
  exchangeOf(text, { halfClose: true, reply: text.toUpperCase(), serverCloses: true });

/**
 * Whether a client printed {@linkcode SENTENCE} upper-cased; if not, what it
 * printed, how it ended, and a hint when it seems to take its text as an
 * argument.
 */
export function replyPrinted(r: CommandResult, byArgument: boolean): [Status | "MISS", string] {
  const want = SENTENCE.toUpperCase();
  if (r.text.includes(want)) return ["PASS", `printed ${want}`];
  const hint = !byArgument && /[A-Z]{2,}/.test(r.text)
    ? " (if it takes its sentence as an argument, put {sentence} in --client)"
    : "";
  return [
    "MISS",
    `expected ${want} in its output; it printed ${quote(r.text.trim())}, ${howItEnded(r)}${hint}`,
  ];
}

/** Runs the lab1 checks. */
export async function checkLab1(ctx: Context, checks: Checks): Promise<void> {
  if (ctx.server) await checkServer(ctx, checks);
  if (ctx.client) await checkClient(ctx, checks);
}

async function checkServer(ctx: Context, checks: Checks): Promise<void> {
  await using sut = await ServerUnderTest.start(ctx, checks, "tcp", "lab1.starts");
  if (!sut) return;
  await checks.run("lab1.our_client", async () => {
    const port = `${sut.port}`;
    const r = await runScript(
      [`--allow-net=127.0.0.1:${port}`],
      script("lab1_echo/client.ts"),
      ["-a", "127.0.0.1", "-p", port, "from our client"],
      { timeoutMs: ctx.timeoutMs },
    );
    return r.stdout.includes("FROM OUR CLIENT")
      ? ["PASS", "lab1_echo/client.ts got FROM OUR CLIENT"]
      : [
        "MISS",
        `expected lab1_echo/client.ts to get FROM OUR CLIENT; it printed ${
          quote(r.stdout.trim())
        } (exit ${r.code}; ${r.stderr.trim() || "nothing on stderr"})`,
      ];
  });
  const expectReply = (text: string) => async (): Promise<["PASS" | "MISS", string]> => {
    const want = new TextEncoder().encode(text.toUpperCase());
    const r = await replay(sut.port, echoOf(text));
    if (r.end !== "reset" && sameBytes(r.reply, want)) {
      return ["PASS", `${want.length} bytes came back upper-cased`];
    }
    return ["MISS", `expected ${want.length} bytes back upper-cased; instead: ${describeTalk(r)}`];
  };
  await checks.run("lab1.upper", expectReply("hello world"));
  await checks.run("lab1.closes", async () => {
    const r = await replay(sut.port, echoOf("hello world"));
    if (r.end === "closed") return ["PASS", "it closed the connection after the reply"];
    return ["MISS", `expected the reply, then the server's close; instead: ${describeTalk(r)}`];
  });
  await checks.run("lab1.2k", expectReply(sentence(2000)));
  await checks.run("lab1.64k", expectReply(sentence(65536)));
  await robustnessChecks(sut, checks, {
    lab: "lab1",
    rec: echoOf("sent one byte at a time"),
    same: sameBytes,
    longRec: echoOf(sentence(65536)),
  });
}

async function checkClient(ctx: Context, checks: Checks): Promise<void> {
  const ours = serveEcho({ hostname: "127.0.0.1", port: kitPort(ctx), log: () => {} });
  try {
    const byArgument = placeholders(ctx.client!).has("sentence");
    const vars = { host: "127.0.0.1", port: `${ours.addr.port}`, sentence: SENTENCE };
    const r = await runClient(ctx, vars, `${SENTENCE}\n`);
    const want = SENTENCE.toUpperCase();
    await checks.run("lab1.client.reply", () => replyPrinted(r, byArgument));
    await checks.run("lab1.client.prompt", () => {
      const before = r.text.split(want)[0].trim();
      if (before) return ["PASS", `asked ${quote(before, 40)}`];
      if (byArgument) return ["PASS", "takes its sentence as an argument ({sentence}): no prompt"];
      return ["WARN", "printed no prompt before reading the sentence"];
    });
  } finally {
    ours.close();
    await ours.finished;
  }
}
