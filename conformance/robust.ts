/**
 * Robustness checks for any TCP server, protocol-agnostic: a recorded
 * exchange (written by the kit for lab1 and HTTP, recorded from the
 * student's own client for lab2 and lab3) is played back in 1-byte
 * segments, with another client silent meanwhile, by many clients at once,
 * and after clients that reset mid-exchange. All are labelled `beyond`: the
 * handouts' servers read once and serve one client at a time.
 *
 * Each is built to give the same verdict every run, on a busy machine too:
 * the 1-byte segments go one per read of the server's (the kernel shows
 * what it has not read yet); the many clients never overflow the server's
 * `accept()` queue, whose size the kernel shows, so a small `listen()`
 * backlog is named instead of showing up as random resets; the resetting
 * clients wait in that queue behind a silent client, so their reset has
 * arrived before the server reads from them.
 *
 * @module
 */

import { Socket } from "node:net";
import { backlogCause, ONE_AT_A_TIME, segmentsCause } from "./causes.ts";
import type { ServerUnderTest } from "./context.ts";
import { listenBacklog, listeners, until } from "./net.ts";
import type { Checks, Verdict } from "./report.ts";
import {
  bytesOf,
  connectTo,
  countKinds,
  describeTalk,
  hangUpClient,
  missKind,
  type Recording,
  replay,
  silentClient,
  type TalkResult,
} from "./wire.ts";
import { seconds } from "./why.ts";

/** Options for {@linkcode robustnessChecks}. */
export interface RobustOptions {
  /** The lab's id prefix: `lab1` makes `lab1.segments`, `lab1.silent`, ... (see `specs.ts`). */
  lab: string;
  /** The exchange played back. */
  rec: Recording;
  /** Whether a reply is as good as the recorded one. */
  same: (expected: Uint8Array, got: Uint8Array) => boolean;
  /**
   * An exchange with a long reply, to reset in the middle of (default
   * `rec`): longer than the socket buffers hold, so the server is still
   * sending when the reset comes.
   */
  longRec?: Recording;
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

/**
 * How long a client waits for its reply while another one sits silent: a
 * server that serves clients at once answers in milliseconds; one that
 * serves one at a time never does while the silent one is there. At least
 * this long, and 20 times what a lone client took in the same run.
 */
const SILENT_WAIT_MS = 1000;
/** How long a played-back exchange may go without a byte when nothing else is in the way. */
const IDLE_MS = 5000;

/** Runs the four robustness checks against their server; the reset one last (it crashes many). */
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
  const sent = bytesOf(rec, "up").length;

  await sut.check(checks, segments, async (port) => {
    const r = await replay(port, rec, { split: true, idleMs: IDLE_MS, reader: sut.reader() });
    if (ok(r)) {
      return ["PASS", `${sent} bytes sent one per segment; the same reply as sent whole`];
    }
    return [
      "MISS",
      `sent the ${sent} bytes one per segment, each once the server had read the one before; expected the reply it gives when they come in one piece; came back: ${
        describeTalk(r)
      }; ${segmentsCause(r.received, sent)}`,
    ];
  });

  await sut.check(checks, silent, (port) => silentCheck(port, rec, ok));
  await sut.check(checks, concurrent, (port) => concurrentCheck(sut, port, rec, ok, clients));
  await sut.check(checks, reset, (port) => resetCheck(sut, port, rec, options.longRec ?? rec, ok));
}

async function silentCheck(
  port: number,
  rec: Recording,
  ok: (r: TalkResult) => boolean,
): Promise<Verdict> {
  const lone = await replay(port, rec, { idleMs: IDLE_MS });
  if (!ok(lone)) return ["MISS", `a lone client did not get its reply: ${describeTalk(lone)}`];
  const waitMs = Math.max(SILENT_WAIT_MS, 20 * (lone.endMs ?? lone.firstByteMs ?? 0));
  const quiet = await silentClient(port);
  if (!quiet) return ["MISS", "could not connect a first client"];
  let during: TalkResult;
  try {
    during = await replay(port, rec, { idleMs: waitMs, closeMs: waitMs });
  } finally {
    await hangUpClient(quiet, port);
  }
  const after = await replay(port, rec, { idleMs: IDLE_MS });
  if (!ok(during)) {
    const then = ok(after)
      ? "it answered once the silent one hung up"
      : `after the silent one hung up: ${describeTalk(after)}`;
    const why = (during.end === "idle" || during.end === "unaccepted") && during.received === 0
      ? `; ${ONE_AT_A_TIME}`
      : "";
    return [
      "MISS",
      `a first client connected and sent nothing; a second sent its request and waited ${
        seconds(waitMs)
      }; expected its reply; came back: ${describeTalk(during)}; ${then}${why}`,
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
}

/**
 * Runs `count` exchanges with at most `inFlight` at a time.
 */
async function inBatches(
  count: number,
  inFlight: number,
  run: () => Promise<TalkResult>,
): Promise<TalkResult[]> {
  const results: TalkResult[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next++;
      results.push(await run());
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
  return results;
}

async function concurrentCheck(
  sut: ServerUnderTest,
  port: number,
  rec: Recording,
  ok: (r: TalkResult) => boolean,
  clients: number,
): Promise<Verdict> {
  const backlog = await listenBacklog(port);
  const play = () => replay(port, rec, { idleMs: IDLE_MS });
  if (backlog !== undefined && backlog + 1 < clients) {
    // Let in only as many as its accept() queue holds: no drop, no reset depends on timing.
    const results = await inBatches(clients, backlog + 1, play);
    const bad = results.filter((r) => !ok(r));
    const served = bad.length === 0
      ? `let in ${backlog + 1} at a time, all ${clients} got the reply a lone client gets`
      : `even let in ${backlog + 1} at a time, ${bad.length} of ${clients} did not get it: ${
        countKinds(bad.map(missKind))
      } (e.g. ${describeTalk(bad[0])})`;
    return [
      "MISS",
      `expected ${clients} clients at once to be served; ${served}; ${
        backlogCause(backlog, clients)
      }`,
    ];
  }
  let results = await Promise.all(Array.from({ length: clients }, play));
  if (backlog === undefined) {
    // No view of its accept() queue: a reset before any reply may be the kernel's, from a full
    // queue. Those clients try again, one at a time.
    const retried: TalkResult[] = [];
    for (const r of results) {
      retried.push(r.end === "reset" && r.received === 0 ? await play() : r);
    }
    results = retried;
  }
  const bad = results.filter((r) => !ok(r));
  if (bad.length === 0) return ["PASS", `all ${clients} got the reply a lone client gets`];
  await sut.settle();
  return [
    "MISS",
    `expected all ${clients}, connecting at once, to get the reply a lone client gets; ${bad.length} did not: ${
      countKinds(bad.map(missKind))
    } (e.g. ${describeTalk(bad[0])})`,
  ];
}

/** Writes `bytes` (and a half-close when `fin`) without waiting for them to be taken. */
function send(socket: Socket, bytes: Uint8Array, fin: boolean): void {
  socket.write(bytes);
  if (fin) socket.end();
}

async function resetCheck(
  sut: ServerUnderTest,
  port: number,
  rec: Recording,
  longRec: Recording,
  ok: (r: TalkResult) => boolean,
): Promise<Verdict> {
  const up = bytesOf(rec, "up");
  const longUp = bytesOf(longRec, "up");
  const longFin = longRec.events.some((e) => e.dir === "up" && e.fin);
  // A first client holds the server (one that serves one at a time) while the resetting ones
  // queue up behind it: their reset is in before it reads from them, on any machine.
  const quiet = await silentClient(port);
  if (!quiet) return ["MISS", "could not connect a first client"];
  await until(
    () => (listeners(port, "tcp") ?? []).every((row) => row.rxQueue === 0),
    1000,
    2,
  );
  const opened: Socket[] = [];
  try {
    // One resets mid-request: half its request, then RST.
    const mid = await connectTo(port);
    if (!(mid instanceof Socket)) {
      return ["MISS", `could not connect a resetting client: ${mid.end}`];
    }
    opened.push(mid);
    await new Promise<void>((r) =>
      mid.write(up.subarray(0, Math.max(1, up.length >> 1)), () => r())
    );
    mid.resetAndDestroy();
    // One resets mid-reply: its whole (long) request, then RST at the first byte back.
    const long = await connectTo(port);
    if (!(long instanceof Socket)) {
      return ["MISS", `could not connect a resetting client: ${long.end}`];
    }
    opened.push(long);
    const cut = new Promise<void>((r) => {
      long.once("data", () => {
        long.resetAndDestroy();
        r();
      });
      long.once("close", () => r());
    });
    send(long, longUp, longFin);
    await hangUpClient(quiet, port);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([cut, new Promise((r) => (timer = setTimeout(r, IDLE_MS)))]);
    clearTimeout(timer);
  } finally {
    for (const s of opened) if (!s.destroyed) s.resetAndDestroy();
    await hangUpClient(quiet, port);
  }
  const r = await replay(port, rec, { idleMs: IDLE_MS });
  if (ok(r)) {
    return ["PASS", "went on answering after one client reset mid-request and one mid-reply"];
  }
  await sut.settle();
  // Its last words say which: an error of the reset itself, or one from using what it read.
  const died = sut.exitNote() ?? "";
  const cause =
    /Error\b/.test(died) && !/ConnectionResetError|BrokenPipeError|ECONNRESET|EPIPE/.test(died)
      ? "usual cause: it took what a reset connection left (half a request, or the b'' that recv() returns at its end) for a whole request, and the error from using it (its stderr, at the end) was not caught; check what recv() returned before using it, catch errors per connection, close it, and go on to the next"
      : "usual cause: a recv() or send() on a connection the client reset raises an error (ConnectionResetError, BrokenPipeError) that nothing catches; catch it, close that connection, and go on to the next";
  return [
    "MISS",
    `one client sent half its request and reset the connection (RST); one sent its whole request and reset at the first byte of the reply; expected the next client to be answered; it got: ${
      describeTalk(r)
    }; ${cause}`,
  ];
}
