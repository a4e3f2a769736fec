/**
 * lab1_echo checks. The handout fixes the protocol (send a sentence, get it
 * back upper-cased), so either role may be tested alone against ours.
 *
 * @module
 */

import { serveEcho } from "../lab1_echo/server.ts";
import { runScript, script } from "../harness/process.ts";
import { cutReplyCause, neverClosedCause, refusedClientCause } from "./causes.ts";
import { type CommandResult, placeholders } from "./command.ts";
import { type Context, runClient, sameBytes, ServerUnderTest, startKitServer } from "./context.ts";
import type { Checks, Verdict } from "./report.ts";
import { robustnessChecks } from "./robust.ts";
import { describeTalk, exchangeOf, replay } from "./wire.ts";
import { howItEnded, quote, seconds } from "./why.ts";

/** What the kit types (or passes as `{sentence}`) to a client under test. */
export const SENTENCE = "hello from the kit";

function sentence(size: number): string {
  const words = "the quick brown fox jumps over the lazy dog ";
  return words.repeat(Math.ceil(size / words.length)).slice(0, size);
}

/** Sending `text` and half-closing; the reply is `text` upper-cased, then the server's close. */
const echoOf = (text: string) =>
  exchangeOf(text, { halfClose: true, reply: text.toUpperCase(), serverCloses: true });

/** How long the kit waits for the server's close once the whole reply is in. */
const CLOSE_MS = 1000;

/**
 * Whether a client printed {@linkcode SENTENCE} upper-cased; if not, what it
 * printed, how it ended (a crash with its last stderr lines), the usual
 * cause, and a hint when it seems to take its text as an argument.
 */
export function replyPrinted(
  r: CommandResult,
  byArgument: boolean,
  server = "lab1_echo/server.ts",
): Verdict {
  const want = SENTENCE.toUpperCase();
  if (r.text.includes(want)) return ["PASS", `printed ${want}`];
  const typed = byArgument
    ? `was given ${quote(SENTENCE)} as {sentence}`
    : `typed ${quote(`${SENTENCE}\n`)} on its stdin`;
  const hint = !byArgument && /[A-Z]{2,}/.test(r.text)
    ? " (if it takes its sentence as an argument, put {sentence} in --client)"
    : "";
  const cause = refusedClientCause(r.stderr);
  return [
    "MISS",
    `the kit ${typed} and ran a server for it (the kit's copy of ${server}); expected ${want} in its output; it printed ${
      quote(r.text.trim())
    }, ${howItEnded(r)}${hint}${cause ? `; ${cause}` : ""}`,
  ];
}

/** Runs the lab1 checks: the client first, so a fixed `--port` is free again for the server. */
export async function checkLab1(ctx: Context, checks: Checks): Promise<void> {
  if (ctx.client) await checkClient(ctx, checks);
  if (ctx.server) await checkServer(ctx, checks);
}

/** An exchange judged on the bytes that came back (the close is a check of its own). */
function expectReply(text: string) {
  return async (port: number): Promise<Verdict> => {
    const want = new TextEncoder().encode(text.toUpperCase());
    const r = await replay(port, echoOf(text), { closeMs: CLOSE_MS });
    if (r.end !== "reset" && sameBytes(r.reply, want)) {
      return ["PASS", `${want.length} bytes came back upper-cased`];
    }
    const cause = cutReplyCause(r, want.length);
    return [
      "MISS",
      `sent a ${text.length}-byte sentence and half-closed; expected ${want.length} bytes back upper-cased; came back: ${
        describeTalk(r)
      }${cause ? `; ${cause}` : ""}`,
    ];
  };
}

async function checkServer(ctx: Context, checks: Checks): Promise<void> {
  await using sut = await ServerUnderTest.start(ctx, checks, "tcp", "lab1.starts");
  if (!sut) return;
  await sut.check(checks, "lab1.upper", expectReply("hello world"));
  await sut.check(checks, "lab1.closes", async (port) => {
    const r = await replay(port, echoOf("hello world"), { closeMs: CLOSE_MS });
    if (r.end === "closed") return ["PASS", "it closed the connection after the reply"];
    if (r.end === "open") {
      return [
        "MISS",
        `sent "hello world" and half-closed; came back: ${describeTalk(r)}: no close in ${
          seconds(CLOSE_MS)
        } after the reply; ${neverClosedCause("ours does")}`,
      ];
    }
    return [
      "MISS",
      `sent "hello world" and half-closed; expected the reply, then the server's close; came back: ${
        describeTalk(r)
      }`,
    ];
  });
  await sut.check(checks, "lab1.our_client", async (port) => {
    const r = await runScript(
      [`--allow-net=127.0.0.1:${port}`],
      script("lab1_echo/client.ts"),
      ["-a", "127.0.0.1", "-p", `${port}`, "from our client"],
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
  await sut.check(checks, "lab1.2k", expectReply(sentence(2000)));
  await sut.check(checks, "lab1.64k", expectReply(sentence(65536)));
  await robustnessChecks(sut, checks, {
    lab: "lab1",
    rec: echoOf("sent one byte at a time"),
    same: sameBytes,
    // Longer than the socket buffers hold: the server is still sending when the reset comes.
    longRec: echoOf(sentence(1024 * 1024)),
  });
}

async function checkClient(ctx: Context, checks: Checks): Promise<void> {
  // Ours reads until the client half-closes or closes, so it closes second: the port keeps no
  // TIME_WAIT and their server can bind a fixed --port right after. A client waiting for the
  // server's close without half-closing gets it after 2 s of silence.
  const ours = await startKitServer(ctx, checks, (port) =>
    serveEcho({
      hostname: "127.0.0.1",
      port,
      idleTimeoutMs: 2000,
      log: () => {},
    }));
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
      return [
        "WARN",
        `it printed nothing before reading the sentence the kit typed; the handout's client asks with input('Input lowercase sentence:')`,
      ];
    });
  } finally {
    ours.close();
    await ours.finished;
  }
}
