/**
 * lab2_sum checks: each student designs the wire format, so their server
 * and client are run as a pair, through their command lines, as the handout
 * describes them. Keyboard answers go on stdin; a client template may also
 * take `{name}` and `{number}`.
 *
 * @module
 */

import { type Context, quote, runClient, startServerOnFreePort } from "./context.ts";
import { Checks } from "./report.ts";

/** Finds "a + b = sum" in the output by its numbers: some n in 1..100 and `number + n` both printed. */
function findSum(text: string, number: number): string | undefined {
  const ints = new Set([...text.matchAll(/-?\d+/g)].map((m) => Number(m[0])));
  for (const n of ints) {
    if (n >= 1 && n <= 100 && ints.has(number + n)) return `${number} + ${n} = ${number + n}`;
  }
  return undefined;
}

/** Runs the lab2 checks. */
export async function checkLab2(ctx: Context, checks: Checks): Promise<void> {
  const started = await startServerOnFreePort(ctx, checks, "tcp");
  if (!started) return;
  const { server, port } = started;
  try {
    const ask = (name: string, number: number) =>
      runClient(
        ctx,
        { host: "127.0.0.1", port: `${port}`, name, number: `${number}` },
        `${name}\n${number}\n`,
      );
    for (
      const [label, name, number] of [["names and sum", "Ann", 42], [
        "a second client",
        "Bob",
        7,
      ]] as const
    ) {
      await checks.run(label, async () => {
        const r = await ask(name, number);
        if (r.timedOut) return ["FAIL", `client still running after ${ctx.timeoutMs / 1000} s`];
        const sum = findSum(r.text, number);
        if (!r.text.includes(name)) {
          return ["FAIL", `the output does not show the name ${name}: ${quote(r.text)}`];
        }
        if (!sum) {
          return [
            "FAIL",
            `no sum of ${number} and a number 1..100 in the output: ${quote(r.text)}`,
          ];
        }
        return ["PASS", `showed ${name} and ${sum}`];
      });
    }
    await checks.run("out-of-range number stops the server", async () => {
      await ask("Eve", 0);
      const end = performance.now() + 5000;
      while (!server.exited() && performance.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
      }
      if (!server.exited()) return ["FAIL", "the server still runs 5 s after the number 0"];
      try {
        Deno.listen({ hostname: "127.0.0.1", port }).close();
      } catch {
        return ["FAIL", `the server exited but port ${port} is still taken`];
      }
      return ["PASS", `the server exited (code ${server.exited()!.code}) and released the port`];
    });
  } finally {
    await server.stop();
  }
}
