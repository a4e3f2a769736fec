/**
 * Asks four questions through `common/stdin.ts` and prints the answers as JSON: what a lab client
 * does with piped input.
 * @module
 */

import { ask } from "../../common/stdin.ts";

const answers = [];
for (let i = 0; i < 4; i++) answers.push(await ask("Q? "));
console.log(JSON.stringify(answers));
