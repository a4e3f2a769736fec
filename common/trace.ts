/**
 * The wire trace behind `--trace`: one stderr line per socket read or write, so a student sees one
 * send arrive as several reads. And {@linkcode quote} and {@linkcode escapeControl}, for peer text
 * that is printed.
 * @module
 */

import { traceLine } from "./log.ts";

/** Prints one transfer: `->` sent, `<-` received. */
export type Tracer = (direction: "->" | "<-", bytes: Uint8Array) => void;

/**
 * A tracer whose lines start with `[label]` when a label is given (a server traces many peers).
 * By default the lines go through `traceLine` (log.ts), which a stderr nobody reads or a closed
 * one can neither hold nor end; a client passes `console.error`, so each line keeps its place
 * among its other messages.
 * @example
 * ```ts
 * tracer("127.0.0.1:5000")("<-", new Uint8Array([1, 2, 3]));
 * tracer(undefined, console.error)("->", new TextEncoder().encode("hi"));
 * ```
 */
export function tracer(label?: string, write: (line: string) => void = traceLine): Tracer {
  const prefix = label ? `[${label}] ` : "";
  return (direction, bytes) => {
    // The text quoted, 60 characters at most: bytes that are not UTF-8 show as U+FFFD, control
    // characters escaped. Streaming, so a character cut at the end is not taken for an error.
    const text = new TextDecoder().decode(bytes.subarray(0, 240), { stream: true });
    const more = text.length > 60 || bytes.length > 240 ? " ..." : "";
    const size = `${bytes.length} byte${bytes.length === 1 ? "" : "s"}`;
    write(`${prefix}${direction} ${size}  ${quote(text.slice(0, 60))}${more}`);
  };
}

/**
 * The socket's `read` and `write`, each transfer shown by `trace` as it happens: what a script
 * reads and writes through when `--trace` is on.
 * @example
 * ```ts
 * using conn = await Deno.connect({ port: 12000 });
 * const socket = traced(conn, tracer());
 * await socket.write(new TextEncoder().encode("hi"));
 * ```
 */
export function traced(conn: Pick<Deno.Conn, "read" | "write">, trace: Tracer) {
  return {
    async read(p: Uint8Array): Promise<number | null> {
      const n = await conn.read(p);
      if (n !== null) trace("<-", p.subarray(0, n));
      return n;
    },
    async write(p: Uint8Array): Promise<number> {
      const n = await conn.write(p);
      trace("->", p.subarray(0, n));
      return n;
    },
  };
}

const CONTROL =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Peer text made safe to print: control characters but tab and newline become `\xHH`, and the
 * bidirectional controls (U+061C, U+200E-F, U+202A-E, U+2066-9) `\uHHHH`, so a peer cannot move
 * the cursor, recolour, rewrite or reorder what the user's terminal shows.
 * @example
 * ```ts
 * escapeControl("ok\x1b[2J"); // "ok\\x1b[2J"
 * ```
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    const hex = c.charCodeAt(0).toString(16);
    return hex.length > 2 ? `\\u${hex.padStart(4, "0")}` : `\\x${hex.padStart(2, "0")}`;
  });
}

/**
 * Peer text quoted for a log line or a message: JSON's quotes and escapes (which cover U+0000-U+001F,
 * `"` and `\\`), then {@linkcode escapeControl} for DEL, the C1 controls and the bidirectional
 * controls, which JSON leaves as they are. Every lab prints a peer's text through this.
 * @example
 * ```ts
 * quote("a\u009b2J\u202e"); // "\"a\\x9b2J\\u202e\""
 * ```
 */
export function quote(text: string): string {
  return escapeControl(JSON.stringify(text));
}
