/**
 * Keyboard input that also works when stdin is a pipe or a file, where `prompt()` returns `null`.
 * @module
 */

import { writeAll } from "./io.ts";

// Text typed (or piped) ahead of the question that takes it: a pipe brings every line at once.
let typedAhead = "";
const decoder = new TextDecoder();

/**
 * Prints `question`, reads one line from stdin and returns it without its ending (`null` at the
 * end of input); what follows that line waits for the next question.
 * @example
 * ```ts
 * const sentence = await ask("Input lowercase sentence: ");
 * ```
 */
export async function ask(question: string): Promise<string | null> {
  await writeAll(Deno.stdout, new TextEncoder().encode(question));
  const chunk = new Uint8Array(64 * 1024);
  // Read until a line ends or the input does, searching only what is new: a search of all of
  // `typedAhead` each time would copy it each time (quadratic on a long line).
  for (let text = typedAhead; !text.includes("\n");) {
    const n = await Deno.stdin.read(chunk);
    if (n === null) break;
    text = decoder.decode(chunk.subarray(0, n), { stream: true });
    typedAhead += text;
  }
  if (typedAhead === "") return null;
  const [line] = typedAhead.split("\n", 1);
  typedAhead = typedAhead.slice(line.length + 1);
  return line.replace(/\r$/, "");
}
