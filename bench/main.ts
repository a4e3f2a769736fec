/**
 * `deno task bench [SECONDS] [lab1|udp|lab3|http] [ROUNDS]`: every lab's benchmark, or one, printed
 * as tables; lab1 and UDP take ROUNDS interleaved rounds (default 3).
 *
 * @module
 */

import { benchEcho } from "./echo.ts";
import { benchLab3 } from "./lab3_file.ts";
import { benchHttp } from "./lab_http.ts";

const USAGE = "usage: deno task bench [SECONDS] [lab1|udp|lab3|http] [ROUNDS]";
const [secondsArg = "5", only, roundsArg = "3"] = Deno.args;
const seconds = Number(secondsArg);
const rounds = Number(roundsArg);
if (
  !(seconds > 0) || !Number.isInteger(rounds) || rounds < 1 ||
  (only !== undefined && !["lab1", "udp", "lab3", "http"].includes(only))
) {
  console.error(`error: bad arguments: ${Deno.args.join(" ")}\n${USAGE}`);
  Deno.exit(2);
}
console.log(
  `# Deno Socket Labs benchmark (${Deno.build.os}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno})`,
);
if (only === undefined || only === "lab1" || only === "udp") await benchEcho(seconds, only, rounds);
if (!only || only === "lab3") await benchLab3();
if (!only || only === "http") await benchHttp(seconds);
