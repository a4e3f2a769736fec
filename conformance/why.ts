/**
 * "Say why": how a program under test ended (its exit code, whether the kit
 * killed it, the last lines of its stderr), in words for a report line.
 *
 * @module
 */

import type { CommandResult } from "./command.ts";

/**
 * The last `count` non-empty lines of `text`, joined with " | ", at most
 * `max` characters (the end kept: a traceback's last line says most).
 *
 * @example
 * ```ts
 * lastLines("Traceback:\n  ...\nValueError: bad\n"); // "Traceback: | ... | ValueError: bad"
 * ```
 */
export function lastLines(text: string, count = 3, max = 240): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  const joined = lines.slice(-count).join(" | ");
  return joined.length > max ? "..." + joined.slice(joined.length - max + 3) : joined;
}

/**
 * A short quote of output for a reason line.
 *
 * @example
 * ```ts
 * quote("hello"); // "\"hello\""
 * ```
 */
export function quote(text: string, max = 60): string {
  return JSON.stringify(text.length > max ? text.slice(0, max) + "..." : text);
}

/** `stderr: <last lines>`, or nothing when it printed none. */
export function stderrPart(stderr: string): string {
  const tail = lastLines(stderr);
  return tail ? `; stderr: ${tail}` : "; nothing on stderr";
}

/**
 * How a client run ended: `exit 1 (by itself); stderr: ...` or
 * `killed by the kit after 20 s (its time limit); stderr: ...`.
 *
 * @example
 * ```ts
 * const r = { code: 1, killed: false, timedOut: false, stderr: "boom", limitMs: 20_000 };
 * howItEnded(r); // "exit 1 (by itself); stderr: boom"
 * ```
 */
export function howItEnded(
  r: Pick<CommandResult, "code" | "killed" | "timedOut" | "stderr" | "limitMs" | "stopReason">,
): string {
  let how: string;
  if (r.timedOut) how = `killed by the kit after ${seconds(r.limitMs)} (its time limit)`;
  else if (r.killed) how = `killed by the kit: ${r.stopReason ?? "stopped early"}`;
  else how = `exit ${r.code} (by itself)`;
  return how + stderrPart(r.stderr);
}

/** `20 s`, `1.5 s`. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
