/**
 * `deno task bench [SECONDS] [lab1|udp|lab3|http] [ROUNDS]`: every lab's benchmark, or one, printed
 * as tables; lab1 and UDP take ROUNDS interleaved rounds (default 3).
 *
 * @module
 */

import { benchEcho } from "./echo.ts";
import { benchLab3 } from "./lab3_file.ts";
import { benchHttp } from "./lab_http.ts";

const LABS = ["lab1", "udp", "lab3", "http"];
const USAGE = `usage: deno task bench [SECONDS] [${LABS.join("|")}] [ROUNDS]`;
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
