/**
 * `deno task bench [SECONDS]`: every lab's benchmark, printed as tables.
 *
 * @module
 */

import { benchEcho } from "./echo.ts";
import { benchLab3 } from "./lab3_file.ts";
import { benchHttp } from "./lab_http.ts";

const seconds = Number(Deno.args[0] ?? 5);
console.log(
  `# Deno Socket Labs benchmark (${Deno.build.os}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno})`,
);
const only = Deno.args[1];
if (!only || only === "lab1" || only === "udp") {
  await benchEcho(seconds, only as "lab1" | "udp" | undefined);
}
if (!only || only === "lab3") await benchLab3();
if (!only || only === "http") await benchHttp(seconds);
