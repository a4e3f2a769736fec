/**
 * lab2_sum checks: each student designs the wire format, so their server
 * and client are run as a pair, through their command lines, as the handout
 * describes them. Keyboard answers go on stdin; a client template may also
 * take `{name}` and `{number}`. The handout's checks come first, the last of
 * them stopping the server with an out-of-range number; then, on the server
 * started again, the pair runs through the kit's relay (1-byte segments,
 * coalesced writes), and a recorded plain run is played back against the
 * server for the robustness checks.
 *
 * @module
 */

import { type Context, runClient, ServerUnderTest } from "./context.ts";
import { type PairRun, recordPair, relayable, relayChecks } from "./pair_checks.ts";
import type { Checks } from "./report.ts";
import { robustnessChecks } from "./robust.ts";
import { refusedClientCause } from "./causes.ts";
import { howItEnded, quote } from "./why.ts";

/** Finds "a + b = sum" in the output by its numbers: some n in 1..100 and `number + n` both printed. */
function findSum(text: string, number: number): string | undefined {
  const ints = new Set([...text.matchAll(/-?\d+/g)].map((m) => Number(m[0])));
  for (const n of ints) {
    if (n >= 1 && n <= 100 && ints.has(number + n)) return `${number} + ${n} = ${number + n}`;
  }
  return undefined;
}

/** A server may pick a new number for each client: replies are compared with digits masked. */
function sameShape(expected: Uint8Array, got: Uint8Array): boolean {
  const mask = (b: Uint8Array) => new TextDecoder().decode(b).replace(/\d+/g, "#");
  return got.length > 0 && mask(expected) === mask(got);
}

/** How long a server told to stop (a number out of range) may take to exit. */
const STOP_MS = 5000;

/** Runs the lab2 checks: the handout's first (the last of them stops the server), then the rest. */
export async function checkLab2(ctx: Context, checks: Checks): Promise<void> {
  await using sut = await ServerUnderTest.start(ctx, checks, "tcp", "lab2.starts");
  if (!sut) return;
  const ask = (
    port: number,
    name: string,
    number: number,
    signal?: AbortSignal,
    onSpawn?: (pid: number) => void,
  ) =>
    runClient(
      ctx,
      { host: "127.0.0.1", port: `${port}`, name, number: `${number}` },
      `${name}\n${number}\n`,
      { signal, onSpawn },
    );
  /** How the name and number reached it: typed, and as arguments where the template has them. */
  const given = (name: string, number: number) =>
    /\{(name|number)\}/.test(ctx.client ?? "")
      ? `gave it ${name} and ${number} as {name} and {number} (and typed them on its stdin)`
      : `typed ${name} and ${number} on its stdin`;
  /** One run of their client, judged by what it printed. */
  const pair = (name: string, number: number): PairRun => async (port, signal, onSpawn) => {
    const r = await ask(port, name, number, signal, onSpawn);
    const sum = findSum(r.text, number);
    if (r.text.includes(name) && sum && !r.killed) return ["PASS", `showed ${name} and ${sum}`];
    const missing = [
      ...(r.text.includes(name) ? [] : [`no name ${name}`]),
      ...(sum ? [] : [`no sum of ${number} and a number 1..100`]),
    ];
    const lacks = missing.length ? ` (${missing.join(", ")})` : "";
    const cause = refusedClientCause(r.stderr);
    return [
      "MISS",
      `${
        given(name, number)
      }; expected its output to show ${name} and ${number} + n = sum; it printed ${
        quote(r.text.trim())
      }${lacks}; ${howItEnded(r)}${cause ? `; ${cause}` : ""}`,
    ];
  };
  const direct = (run: PairRun) => (port: number) => run(port, new AbortController().signal);
  await sut.check(checks, "lab2.sum", direct(pair("Ann", 42)));
  await sut.check(checks, "lab2.second", direct(pair("Bob", 7)));
  await sut.check(checks, "lab2.stop", async (port) => {
    const r = await ask(port, "Eve", 0);
    // Stopped: it exits. Not stopping: it goes back to waiting in accept(), still listening.
    await sut.stopped(STOP_MS);
    if (!sut.exited()) {
      return [
        "MISS",
        `their client was given 0 and ended (${
          howItEnded(r)
        }); expected the server to exit; it went on listening on port ${port} (a client that refuses 0 at its prompt cannot stop the server: give {number} in --client if it takes the number as an argument)`,
      ];
    }
    if (await sut.stillListening()) {
      return [
        "MISS",
        `the server exited (code ${
          sut.exited()!.code
        }) but port ${port} still has a listener: a process it started holds the listening socket`,
      ];
    }
    return [
      "PASS",
      `the server exited (code ${sut.exited()!.code}) and nothing listens on port ${port} any more`,
    ];
  }, { exitExpected: true });
  if (relayable("lab2", ctx, checks)) {
    await relayChecks("lab2", sut, checks, pair("Dee", 15));
    const rec = await recordPair("lab2", sut, checks, pair("Cy", 30));
    if (rec) await robustnessChecks(sut, checks, { lab: "lab2", rec, same: sameShape });
  }
}
