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
import { refusedClientCause } from "./causes.ts";
import type { Checks, Verdict } from "./report.ts";
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

/** Whether a download of a file the server does not have was said to fail (handout). */
function reportedVerdict(r: CommandResult): Verdict {
  const asked = `asked for no_such_file.txt, which the server does not have`;
  if (r.killed) return ["MISS", `${asked}; expected it to report that; ${howItEnded(r)}`];
  if (r.code !== 0) return ["PASS", `exit ${r.code}`];
  if (/not found|no such|does not exist|doesn't exist|error|missing/i.test(r.text + r.stderr)) {
    return ["PASS", "said so"];
  }
  return [
    "MISS",
    `${asked}; expected a message or a non-zero exit; exit 0 and no message`,
  ];
}

/** Whether that download left a file behind (beyond). */
async function noFileVerdict(ctx: Context): Promise<Verdict> {
  const left = await Deno.stat(join(ctx.clientDir, MISSING_LOCAL)).then(() => true, () => false);
  return left
    ? [
      "MISS",
      `asked for no_such_file.txt, which the server does not have; it left a file ${MISSING_LOCAL} behind: open the output file once the server said the file exists`,
    ]
    : ["PASS", "no file left"];
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
  const fetch = (
    port: number,
    remote: string,
    local: string,
    signal?: AbortSignal,
    onSpawn?: (pid: number) => void,
  ) =>
    runClient(ctx, { host: "127.0.0.1", port: `${port}`, remote, local }, "", { signal, onSpawn });
  /** One download, judged by the file it left; every run saves under a new name. */
  const download = (remote: string): PairRun => async (port, signal, onSpawn) => {
    const local = `got_${++runs}_${remote}`;
    const r = await fetch(port, remote, local, signal, onSpawn);
    let got: Uint8Array;
    try {
      got = await Deno.readFile(join(ctx.clientDir, local));
    } catch {
      const cause = refusedClientCause(r.stderr);
      return [
        "MISS",
        `asked for ${remote} to be saved as ${local}; there is no such file; ${howItEnded(r)}${
          cause ? `; ${cause}` : ""
        }`,
      ];
    }
    if (!sameBytes(got, files[remote])) {
      return [
        "MISS",
        `expected ${local} to hold the ${
          files[remote].length
        } bytes of ${remote}; it has ${got.length} bytes${
          got.length < files[remote].length ? " (cut short)" : ""
        } that differ; ${howItEnded(r)}`,
      ];
    }
    return ["PASS", `${files[remote].length} bytes, identical`];
  };
  const direct = (run: PairRun) => (port: number) => run(port, new AbortController().signal);
  await sut.check(checks, "lab3.text", direct(download("notes.txt")));
  await sut.check(checks, "lab3.binary", direct(download("image.bin")));
  await sut.check(checks, "lab3.empty", direct(download("empty.txt")));
  await sut.check(checks, "lab3.20mb", direct(download("large.bin")));
  let missing: CommandResult | undefined;
  const askMissing = async (port: number) =>
    missing ??= await fetch(port, "no_such_file.txt", MISSING_LOCAL);
  await sut.check(checks, "lab3.missing.reported", async (port) => {
    return reportedVerdict(await askMissing(port));
  });
  await sut.check(checks, "lab3.missing.no_file", async (port) => {
    await askMissing(port);
    return await noFileVerdict(ctx);
  });
  await sut.check(checks, "lab3.two_clients", async (port) => {
    const signal = new AbortController().signal;
    const [a, b] = await Promise.all([
      download("image.bin")(port, signal),
      download("image.bin")(port, signal),
    ]);
    if (a[0] === "PASS" && b[0] === "PASS") return ["PASS", "both identical"];
    return ["MISS", `first: ${a[1]}; second: ${b[1]}`];
  });
  if (!relayable("lab3", ctx, checks)) return;
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
