/**
 * `deno task bench [SECONDS] [lab1|udp|lab3|http] [ROUNDS]`: every lab's benchmark, or one, printed
 * as tables; lab1 and UDP take ROUNDS interleaved rounds (default 3). `deno task bench kit [JOBS]
 * [SIZE]`: the conformance kit grading a class (minutes, so only when asked for by name).
 *
 * @module
 */

import { benchEcho } from "./echo.ts";
import { benchLab3 } from "./lab3_file.ts";
import { benchHttp } from "./lab_http.ts";
import { benchKit } from "./kit.ts";

const LABS = ["lab1", "udp", "lab3", "http"];
const USAGE = `usage: deno task bench [SECONDS] [${LABS.join("|")}] [ROUNDS]\n` +
  "       deno task bench kit [JOBS] [SIZE]";
if (Deno.args[0] === "kit") {
  const [jobs, size] = Deno.args.slice(1).map(Number);
  if (
    Deno.args.length > 3 ||
    [jobs, size].some((n) => n !== undefined && !(Number.isInteger(n) && n >= 1))
  ) {
    console.error(`error: bad arguments: ${Deno.args.join(" ")}\n${USAGE}`);
    Deno.exit(2);
  }
  console.log(
    `# Deno Socket Labs benchmark (${Deno.build.os}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno})`,
  );
  await benchKit(jobs, size);
  Deno.exit(0);
}
const [secondsArg = "5", only, roundsArg = "3"] = Deno.args;
const seconds = Number(secondsArg);
const rounds = Number(roundsArg);
if (
  !(seconds > 0) || !Number.isInteger(rounds) || rounds < 1 ||
  (only !== undefined && !LABS.includes(only))
) {
  console.error(`error: bad arguments: ${Deno.args.join(" ")}\n${USAGE}`);
  Deno.exit(2);
}
console.log(
  `# Deno Socket Labs benchmark (${Deno.build.os}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno})`,
);
if (only === undefined || only === "lab1" || only === "udp") await benchEcho(seconds, only, rounds);
if (only === undefined || only === "lab3") await benchLab3();
if (only === undefined || only === "http") await benchHttp(seconds);
