/**
 * `deno task bench [SECONDS]`: every lab's benchmark, printed as tables.
 *
 * @module
 */

import { benchLab1 } from "./lab1_echo.ts";

const seconds = Number(Deno.args[0] ?? 5);
console.log(
  `# Deno Socket Labs benchmark (${Deno.build.os}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno})`,
);
await benchLab1(seconds);
