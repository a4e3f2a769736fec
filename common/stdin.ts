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
  for (let more = !typedAhead.includes("\n"); more;) {
    const n = await Deno.stdin.read(chunk);
    if (n === null) break;
    const text = decoder.decode(chunk.subarray(0, n), { stream: true });
    typedAhead += text;
    more = !text.includes("\n");
  }
  if (typedAhead === "") return null;
  const end = typedAhead.includes("\n") ? typedAhead.indexOf("\n") : typedAhead.length;
  const line = typedAhead.slice(0, end).replace(/\r$/, "");
  typedAhead = typedAhead.slice(end + 1);
  return line;
}
