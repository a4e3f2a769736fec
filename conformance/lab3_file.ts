/**
 * lab3_file checks: their server and client as a pair, `client
 * {host}:{port}:{remote} {local}` as the handout writes it. The server runs
 * in a folder holding the test files; the client's output is looked for in
 * its own folder.
 *
 * @module
 */

import { join } from "node:path";
import {
  type Context,
  quote,
  randomBytes,
  runClient,
  sameBytes,
  startServerOnFreePort,
} from "./context.ts";
import { Checks } from "./report.ts";

/** Runs the lab3 checks. */
export async function checkLab3(ctx: Context, checks: Checks): Promise<void> {
  const files: Record<string, Uint8Array> = {
    "notes.txt": new TextEncoder().encode("Lab notes\nline two, with ünïcödé\n".repeat(20)),
    "image.bin": randomBytes(200_000),
    "empty.txt": new Uint8Array(0),
    "big.bin": randomBytes(20 * 1024 * 1024),
  };
  for (const [name, data] of Object.entries(files)) {
    await Deno.writeFile(join(ctx.serverDir, name), data);
  }
  const started = await startServerOnFreePort(ctx, checks, "tcp");
  if (!started) return;
  const { server, port } = started;
  try {
    const fetch = (remote: string, local: string) =>
      runClient(ctx, { host: "127.0.0.1", port: `${port}`, remote, local }, "");
    const fetchAndCompare =
      (remote: string, local: string) => async (): Promise<["PASS" | "FAIL", string]> => {
        const r = await fetch(remote, local);
        if (r.timedOut) return ["FAIL", `client still running after ${ctx.timeoutMs / 1000} s`];
        let got: Uint8Array;
        try {
          got = await Deno.readFile(join(ctx.clientDir, local));
        } catch {
          return [
            "FAIL",
            `no file ${local} in the client's folder (exit ${r.code}) ${quote(r.stderr || r.text)}`,
          ];
        }
        if (!sameBytes(got, files[remote])) {
          return [
            "FAIL",
            `${local}: ${got.length} bytes, differs from the ${files[remote].length} sent`,
          ];
        }
        return ["PASS", `${files[remote].length} bytes, identical`];
      };
    await checks.run("text file (first client)", fetchAndCompare("notes.txt", "got_notes.txt"));
    await checks.run("binary file (second client)", fetchAndCompare("image.bin", "got_image.bin"));
    await checks.run("empty file (third client)", fetchAndCompare("empty.txt", "got_empty.txt"));
    await checks.run("20 MB file", fetchAndCompare("big.bin", "got_big.bin"));
    await checks.run("missing remote file", async () => {
      const r = await fetch("no_such_file.txt", "got_missing.txt");
      const left = await Deno.stat(join(ctx.clientDir, "got_missing.txt")).then(
        () => true,
        () => false,
      );
      if (left) return ["FAIL", "left a file got_missing.txt behind"];
      if (r.code !== 0) return ["PASS", `exit ${r.code}, no file left`];
      if (/not found|no such|does not exist|error|missing/i.test(r.text + r.stderr)) {
        return ["PASS", "said so, no file left"];
      }
      return ["FAIL", "exit 0 and no message about the missing file"];
    });
    await checks.run("2 clients at once", async () => {
      const [a, b] = await Promise.all([
        fetchAndCompare("big.bin", "twin_a.bin")(),
        fetchAndCompare("big.bin", "twin_b.bin")(),
      ]);
      if (a[0] === "PASS" && b[0] === "PASS") return ["PASS", "both identical"];
      return ["FAIL", `first: ${a[1]}; second: ${b[1]}`];
    });
  } finally {
    await server.stop();
  }
}
