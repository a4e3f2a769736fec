/**
 * Keyboard input that also works when stdin is a pipe or a file, where `prompt()` returns `null`.
 * @module
 */

import { Wire, writeAll } from "./io.ts";

// Stdin belongs to the process: our view of it never closes it, never writes.
let stdin: Wire | undefined;

/**
 * Prints `question`, reads one line from stdin and returns it without its ending (`null` at the
 * end of input); bytes after that line wait for the next question.
 * @example
 * ```ts
 * const sentence = await ask("Input lowercase sentence: ");
 * ```
 */
export async function ask(question: string): Promise<string | null> {
  await writeAll(Deno.stdout, new TextEncoder().encode(question));
  stdin ??= new Wire({
    read: (p) => Deno.stdin.read(p),
    write: () => Promise.resolve(0),
    close() {},
  });
  const line = await stdin.readLineBytes(1024 * 1024, true);
  return line === null ? null : new TextDecoder().decode(line);
}
