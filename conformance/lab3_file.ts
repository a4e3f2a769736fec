/**
 * lab3_file checks: their server and client as a pair, `client
 * {host}:{port}:{remote} {local}` as the handout writes it. The server runs
 * in a folder holding the test files; the client's output is looked for in
 * its own folder. Then the pair runs through the kit's relay, and a
 * recorded plain download is played back against the server for the
 * robustness checks (a reset in the middle of a 20 MB download among them).
 *
 * @module
 */

import { join } from "node:path";
import type { CommandResult } from "./command.ts";
import { type Context, randomBytes, runClient, sameBytes, ServerUnderTest } from "./context.ts";
import { type PairRun, recordPair, relayable, relayChecks } from "./pair_checks.ts";
import type { Checks } from "./report.ts";
import { robustnessChecks } from "./robust.ts";
import type { Recording } from "./wire.ts";
import { howItEnded } from "./why.ts";

const encoder = new TextEncoder();

/**
 * The same request for another file: `notes.txt` and `large.bin` have names
 * of the same length, so a length-prefixed request stays valid.
 */
function askingFor(rec: Recording, from: string, to: string): Recording {
  const [a, b] = [encoder.encode(from), encoder.encode(to)];
  const events = rec.events.map((e) => {
    if (e.dir !== "up" || !e.bytes) return e;
    const bytes = e.bytes.slice();
    for (let i = 0; i + a.length <= bytes.length; i++) {
      if (a.every((x, j) => bytes[i + j] === x)) bytes.set(b, i);
    }
    return { ...e, bytes };
  });
  return { events };
}

const MISSING_LOCAL = "got_missing.txt";

/** A download of a file the server does not have: said so (handout), and left no file (beyond). */
async function missingFileChecks(ctx: Context, checks: Checks, r: CommandResult): Promise<void> {
  await checks.run("lab3.missing.reported", () => {
    if (r.killed) return ["MISS", `expected it to report the missing file; ${howItEnded(r)}`];
    if (r.code !== 0) return ["PASS", `exit ${r.code}`];
    if (/not found|no such|does not exist|doesn't exist|error|missing/i.test(r.text + r.stderr)) {
      return ["PASS", "said so"];
    }
    return [
      "MISS",
      "expected a message or a non-zero exit for a missing file; exit 0 and no message",
    ];
  });
  await checks.run("lab3.missing.no_file", async () => {
    const left = await Deno.stat(join(ctx.clientDir, MISSING_LOCAL)).then(() => true, () => false);
    return left
      ? ["MISS", `left a file ${MISSING_LOCAL} behind for a file the server does not have`]
      : ["PASS", "no file left"];
  });
}

/** Runs the lab3 checks. */
export async function checkLab3(ctx: Context, checks: Checks): Promise<void> {
  const files: Record<string, Uint8Array> = {
    "notes.txt": encoder.encode("Lab notes\nline two, with ünïcödé\n".repeat(20)),
    "image.bin": randomBytes(200_000),
    "empty.txt": new Uint8Array(0),
    "large.bin": randomBytes(20 * 1024 * 1024),
  };
  for (const [name, data] of Object.entries(files)) {
    await Deno.writeFile(join(ctx.serverDir, name), data);
  }
  await using sut = await ServerUnderTest.start(ctx, checks, "tcp", "lab3.starts");
  if (!sut) return;
  let runs = 0;
  const fetch = (port: number, remote: string, local: string, signal?: AbortSignal) =>
    runClient(ctx, { host: "127.0.0.1", port: `${port}`, remote, local }, "", { signal });
  /** One download, judged by the file it left; every run saves under a new name. */
  const download = (remote: string): PairRun => async (port, signal) => {
    const local = `got_${++runs}_${remote}`;
    const r = await fetch(port, remote, local, signal);
    let got: Uint8Array;
    try {
      got = await Deno.readFile(join(ctx.clientDir, local));
    } catch {
      return [
        "MISS",
        `expected ${remote} saved as ${local}; there is no such file; ${howItEnded(r)}`,
      ];
    }
    if (!sameBytes(got, files[remote])) {
      return [
        "MISS",
        `expected ${local} to hold the ${
          files[remote].length
        } bytes of ${remote}; it has ${got.length} bytes that differ; ${howItEnded(r)}`,
      ];
    }
    return ["PASS", `${files[remote].length} bytes, identical`];
  };
  const onServer = (run: PairRun) => () => run(sut.port, new AbortController().signal);
  await checks.run("lab3.text", onServer(download("notes.txt")));
  await checks.run("lab3.binary", onServer(download("image.bin")));
  await checks.run("lab3.empty", onServer(download("empty.txt")));
  await checks.run("lab3.20mb", onServer(download("large.bin")));
  if (checks.wants("lab3.missing.reported") || checks.wants("lab3.missing.no_file")) {
    await missingFileChecks(ctx, checks, await fetch(sut.port, "no_such_file.txt", MISSING_LOCAL));
  }
  await sut.check(checks, "lab3.two_clients", async (port) => {
    const signal = new AbortController().signal;
    const [a, b] = await Promise.all([
      download("image.bin")(port, signal),
      download("image.bin")(port, signal),
    ]);
    if (a[0] === "PASS" && b[0] === "PASS") return ["PASS", "both identical"];
    return ["MISS", `first: ${a[1]}; second: ${b[1]}`];
  });
  if (!relayable(ctx, checks)) return;
  await relayChecks("lab3", sut, checks, download("notes.txt"));
  const rec = await recordPair("lab3", sut, checks, download("notes.txt"));
  if (rec) {
    await robustnessChecks(sut, checks, {
      lab: "lab3",
      rec,
      same: sameBytes,
      longRec: askingFor(rec, "notes.txt", "large.bin"),
    });
  }
}
