/**
 * Keyboard input that also works when stdin is a pipe or a file.
 *
 * `prompt()` returns `null` when stdin is not a terminal, so scripts read
 * their input lines here instead: the prompt goes to stdout, the answer is
 * read from stdin up to the end of the line, and bytes after that line are
 * kept for the next question.
 *
 * @module
 */

import { Wire } from "./io.ts";

const MAX_LINE = 1024 * 1024;
const encoder = new TextEncoder();
let stdinWire: Wire | undefined;

/**
 * Prints `question` (no newline) and reads one line from stdin, without its
 * line ending. Resolves `null` at end of input.
 *
 * @example
 * ```ts
 * const sentence = await ask("Input lowercase sentence: ");
 * ```
 */
export async function ask(question: string): Promise<string | null> {
  if (question) {
    const bytes = encoder.encode(question);
    for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
  }
  stdinWire ??= new Wire({
    read: (p) => Deno.stdin.read(p),
    write: () => Promise.reject(new Error("stdin is read-only")),
    // Stdin belongs to the process; closing our view of it must not close it.
    close: () => {},
  });
  const line = await stdinWire.readLineBytes(MAX_LINE, true);
  return line === null ? null : new TextDecoder().decode(line);
}
