/**
 * Lab 2 wire protocol: UTF-8 lines ending in `\n` (`\r\n` accepted).
 *
 * client -> server: `<name>\n<number>\n`
 * server -> client: `<name>\n<number>\n`, or `ERROR <reason>\n` and close.
 *
 * @module
 */

import { ProtocolError } from "../common/lines.ts";
import { escapeControl, quote } from "../common/trace.ts";

/** Longest line either side accepts, in bytes. */
export const MAX_LINE = 1024;
/** Longest name, in characters. */
export const MAX_NAME = 100;
/** The range a number must be in; any other integer stops the server. */
export const RANGE = { min: 1, max: 100 };

/** The server's refusal: `ERROR` as the first word of its reply; so no name may start so. */
export const REFUSAL = /^ERROR( |$)/;

/** Why a name is not acceptable, or `undefined` when it is. */
export function nameProblem(name: string): string | undefined {
  const length = [...name].length;
  if (length === 0) return "the name is empty";
  if (length > MAX_NAME) return `the name is longer than ${MAX_NAME} characters`;
  // Tab and newline too, which escapeControl lets through; it catches the bidirectional controls.
  if (/\p{Cc}/u.test(name) || escapeControl(name) !== name) {
    return "the name contains control characters";
  }
  // A name the client would read as the server's refusal.
  if (REFUSAL.test(name)) return "the name cannot start with the word ERROR";
  return undefined;
}

/** Parses a decimal integer line (`42`, `-7`, `+3`); `undefined` if it is not one. */
export function parseInteger(text: string): number | undefined {
  return /^[+-]?\d{1,15}$/.test(text.trim()) ? Number(text) : undefined;
}

/** Whether a number is one the server adds rather than a request to shut down. */
export const inRange = (n: number): boolean => n >= RANGE.min && n <= RANGE.max;

/**
 * A request or a reply from its two lines (`null`: the stream ended first), checked: a
 * {@linkcode ProtocolError} says what is wrong (the server sends it back as its `ERROR` line).
 */
export function parseMessage(name: string | null, numberLine: string | null) {
  if (name === null || numberLine === null) throw new ProtocolError("the connection closed early");
  const problem = nameProblem(name);
  if (problem) throw new ProtocolError(problem);
  const number = parseInteger(numberLine);
  if (number === undefined) {
    throw new ProtocolError(`not an integer: ${quote(numberLine.slice(0, 40))}`);
  }
  return { name, number };
}
