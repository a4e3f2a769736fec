/**
 * Robustness checks for any TCP server, protocol-agnostic: a recorded
 * exchange (written by the kit for lab1 and HTTP, recorded from the
 * student's own client for lab2 and lab3) is played back with another
 * client silent meanwhile, in 1-byte segments, after clients that reset
 * mid-exchange, and by 20 clients at once. All are labelled `beyond`: the
 * handouts' servers read once and serve one client at a time.
 *
 * @module
 */

import type { ServerUnderTest } from "./context.ts";
import type { Checks } from "./report.ts";
import {
  bytesOf,
  countKinds,
  describeTalk,
  missKind,
  type Recording,
  replay,
  sendThenReset,
  silentClient,
  type TalkResult,
} from "./wire.ts";

/** Options for {@linkcode robustnessChecks}. */
export interface RobustOptions {
  /** The exchange played back. */
  rec: Recording;
  /** Whether a reply is as good as the recorded one. */
  same: (expected: Uint8Array, got: Uint8Array) => boolean;
  /** An exchange with a long reply, to reset in the middle of (default `rec`). */
  longRec?: Recording;
  /** The lab's id prefix: `lab1` makes `lab1.segments`, `lab1.silent`, ... (see `specs.ts`). */
  lab: string;
  /** How many clients at once (default 20). */
  clients?: number;
}

/**
 * The ids of the checks {@linkcode robustnessChecks} runs for a lab.
 *
 * @example
 * ```ts
 * robustCheckIds("lab1")[3]; // "lab1.reset"
 * ```
 */
export function robustCheckIds(lab: string): [string, string, string, string] {
  return [`${lab}.segments`, `${lab}.silent`, `${lab}.concurrent`, `${lab}.reset`];
}

/** How long a client that stays silent is kept while another one asks. */
const SILENT_WAIT_MS = 3000;

/** Runs the four robustness checks against their server. */
export async function robustnessChecks(
  sut: ServerUnderTest,
  checks: Checks,
  options: RobustOptions,
): Promise<void> {
  const { rec, same } = options;
  const expected = bytesOf(rec, "down");
  const ok = (r: TalkResult) => r.end !== "reset" && same(expected, r.reply);
  const clients = options.clients ?? 20;
  const [segments, silent, concurrent, reset] = robustCheckIds(options.lab);

  await sut.check(
    checks,
    segments,
    async (port) => {
      const r = await replay(port, rec, { split: true });
      const sent = bytesOf(rec, "up").length;
      if (ok(r)) {
        return ["PASS", `${sent} bytes sent one per segment; the same reply as sent whole`];
      }
      return [
        "MISS",
        `expected the reply it gives when the ${sent} bytes come in one piece; sent 1 byte per segment, instead: ${
          describeTalk(r)
        } (segmentation: one recv() may return any part of what was sent; read until the message is whole)`,
      ];
    },
  );

  await sut.check(checks, silent, async (port) => {
    const quiet = await silentClient(port);
    if (!quiet) return ["MISS", "could not connect a first client"];
    let during: TalkResult;
    try {
      during = await replay(port, rec, { idleMs: SILENT_WAIT_MS });
    } finally {
      quiet.close();
    }
    const after = await replay(port, rec, { idleMs: 5000 });
    if (!ok(during)) {
      const then = ok(after)
        ? "it answered once the silent one hung up"
        : `after the silent one hung up: ${describeTalk(after)}`;
      const why = during.end === "idle" && during.received === 0
        ? ": it serves one client at a time, and a silent or slow client blocks everyone"
        : "";
      return [
        "MISS",
        `expected a reply while another client was connected and silent; instead: ${
          describeTalk(during)
        }${why}; ${then}`,
      ];
    }
    if (!ok(after)) {
      return [
        "MISS",
        `answered while a client was silent, but after that client hung up without a word: ${
          describeTalk(after)
        }`,
      ];
    }
    return ["PASS", "answered while another client sat silent, and after it hung up"];
  });

  await sut.check(checks, reset, async (port) => {
    const up = bytesOf(rec, "up");
    await sendThenReset(port, up.subarray(0, Math.max(1, Math.floor(up.length / 2))));
    await sendThenReset(port, bytesOf(options.longRec ?? rec, "up"), { awaitReply: true });
    // A server that dies of a reset does so at once: let that show before the next client.
    await new Promise((r) => setTimeout(r, 200));
    const r = await replay(port, rec, { idleMs: 5000 });
    if (ok(r)) {
      return ["PASS", "went on answering after one client reset mid-request and one mid-reply"];
    }
    return [
      "MISS",
      `expected it to go on after one client reset (RST) mid-request and one mid-reply; the next client: ${
        describeTalk(r)
      }`,
    ];
  });

  await sut.check(checks, concurrent, async (port) => {
    const results = await Promise.all(
      Array.from({ length: clients }, () => replay(port, rec, { idleMs: 5000 })),
    );
    const bad = results.filter((r) => !ok(r));
    if (bad.length === 0) return ["PASS", `all ${clients} got the reply a lone client gets`];
    return [
      "MISS",
      `expected all ${clients} to get the reply a lone client gets; ${bad.length} did not: ${
        countKinds(bad.map(missKind))
      } (e.g. ${describeTalk(bad[0])})`,
    ];
  });
}
