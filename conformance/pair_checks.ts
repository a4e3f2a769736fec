/**
 * Checks for the labs whose wire format each student designs (lab2, lab3):
 * their client and server run as a pair through the kit's relay, once with
 * every write re-segmented into 1-byte pieces and once with writes held
 * back and delivered together. Also the recorded plain run that the
 * robustness checks play back.
 *
 * @module
 */

import { placeholders } from "./command.ts";
import type { Context, ServerUnderTest } from "./context.ts";
import { checkSpecs } from "./specs.ts";
import { GroupWatch, hasProcNet } from "./net.ts";
import type { Checks, Verdict } from "./report.ts";
import { type RelayMode, startRelay } from "./relay.ts";
import { robustCheckIds } from "./robust.ts";
import type { Recording } from "./wire.ts";
import { seconds } from "./why.ts";

/**
 * Runs their client against `port`; `signal` stops it early; `onSpawn` is
 * told its pid once it runs. Returns the check's verdict.
 */
export type PairRun = (
  port: number,
  signal: AbortSignal,
  onSpawn?: (pid: number) => void,
) => Promise<Verdict>;

/** A pair through the relay that moves no byte for this long is stuck (each waits on the other). */
const STALL_MS = 3000;

/**
 * Runs the pair through a relay in `mode` and returns the verdict and the
 * relay's recordings. A pair that stalls is stopped, and the verdict says so.
 */
export async function throughRelay(
  serverPort: number,
  mode: RelayMode,
  run: PairRun,
  server?: GroupWatch,
): Promise<{ verdict: Verdict; recordings: Recording[] }> {
  let client: GroupWatch | undefined;
  await using relay = startRelay(serverPort, mode, {
    readers: { up: () => server, down: () => client },
  });
  const controller = new AbortController();
  const watchdog = setInterval(() => {
    if (relay.stalledMs() > STALL_MS) {
      controller.abort(
        `the pair stalled: no byte moved either way for ${
          seconds(STALL_MS)
        }, each side waiting for the other`,
      );
    }
  }, 250);
  try {
    const verdict = await run(relay.port, controller.signal, (pid) => {
      if (hasProcNet) client = new GroupWatch(pid);
    });
    return { verdict, recordings: relay.recordings };
  } finally {
    clearInterval(watchdog);
  }
}

const MODES: { mode: RelayMode; what: string; lesson: string }[] = [
  {
    mode: "split",
    what: "every write as 1-byte segments",
    lesson: "Segmentation: one send() may arrive in pieces, so one recv() may return part of a " +
      "message; frame messages (a length, or a newline) and read until one is whole",
  },
  {
    mode: "coalesce",
    what: "writes held back and delivered together",
    lesson: "Coalescing: two send()s may arrive together, so one recv() may return both, " +
      "sleep() or not; frame messages and read exactly one",
  },
];

/**
 * Whether the relay can sit between the pair: the client must take
 * `{port}`. When it does not (a fixed `--port`), every check that needs
 * the relay is NOT_RUN, saying the fixed port ruled it out, and a note
 * says so too.
 */
export function relayable(lab: string, ctx: Context, checks: Checks): boolean {
  if (placeholders(ctx.client!).has("port")) return true;
  const why =
    `they put the kit's relay between the pair on a port of its own, and the client always connects to port ${ctx.port} (no {port} in --client)`;
  for (const spec of checkSpecs(lab)) {
    if (spec.secondPort) checks.notRun(spec.id, `not run: ruled out by --port ${ctx.port}: ${why}`);
  }
  checks.note(`the relay and robustness checks were not run: ${why}`);
  return false;
}

/** The two relay checks (labelled beyond: the handout never says TCP may split or join writes). */
export async function relayChecks(
  lab: string,
  sut: ServerUnderTest,
  checks: Checks,
  run: PairRun,
): Promise<void> {
  for (const { mode, what, lesson } of MODES) {
    await sut.check(checks, `${lab}.relay.${mode}`, async (port) => {
      const { verdict: [status, reason] } = await throughRelay(port, mode, run, sut.reader());
      if (status === "PASS") return ["PASS", `through the kit's relay (${what}): ${reason}`];
      return ["MISS", `${lesson}. Through the kit's relay (${what}): ${reason}`];
    });
  }
}

/**
 * Records one plain run of the pair through a relay that changes nothing:
 * the first connection is what the robustness checks play back. Returns
 * `undefined` (with a note) when the run did not pass.
 */
export async function recordPair(
  lab: string,
  sut: ServerUnderTest,
  checks: Checks,
  run: PairRun,
): Promise<Recording | undefined> {
  if (!robustCheckIds(lab).some((id) => checks.wants(id))) return undefined;
  const cannot = await sut.ensureRunning(checks, "the recorded run");
  if (cannot) {
    for (const id of robustCheckIds(lab)) checks.notRun(id, cannot);
    return undefined;
  }
  const { verdict: [status, reason], recordings } = await throughRelay(sut.port, "pass", run);
  if (status !== "PASS" || recordings.length === 0) {
    const why =
      `not run: they play back a recorded plain run of the pair through the kit's relay, and that run failed: ${reason}`;
    for (const id of robustCheckIds(lab)) checks.notRun(id, why);
    return undefined;
  }
  if (recordings.length > 1) {
    checks.note(
      `the client opened ${recordings.length} connections; the robustness checks play back the first`,
    );
  }
  return recordings[0];
}
