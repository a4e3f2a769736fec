/**
 * The wire trace behind `--trace`: one stderr line per socket read or write, so a student sees one
 * send arrive as several reads. And {@linkcode quote} and {@linkcode escapeControl}, for peer text
 * that is printed.
 * @module
 */

import { traceLine } from "./log.ts";

/** Prints one transfer: `->` sent, `<-` received; `undefined` means tracing is off. */
export type Tracer = (direction: "->" | "<-", bytes: Uint8Array) => void;

const SHOWN_CHARS = 60;
const SHOWN_BYTES = 16;

/**
 * A client's tracer: each line written to stderr at once, so it keeps its place among the client's
 * other messages there. A stderr nobody reads holds the client; a closed one throws.
 * @example
 * ```ts
 * stderrTracer("127.0.0.1:12000")("->", new Uint8Array([1, 2, 3]));
 * ```
 */
export function stderrTracer(label?: string): Tracer {
  const prefix = label ? `[${label}] ` : "";
  const encoder = new TextEncoder();
  return (direction, bytes) => {
    const line = encoder.encode(`${prefix}${formatTrace(direction, bytes)}\n`);
    for (let off = 0; off < line.length;) off += Deno.stderr.writeSync(line.subarray(off));
  };
}

/**
 * A server's tracer, each line prefixed with `label` (a server traces many peers). The lines go
 * to stderr through `traceLine` (log.ts), as the log goes to stdout: a stderr nobody reads or a
 * closed one can neither hold the server nor end it.
 * @example
 * ```ts
 * serverTracer("127.0.0.1:5000")("<-", new Uint8Array([1, 2, 3]));
 * ```
 */
export function serverTracer(label: string): Tracer {
  const prefix = `[${label}] `;
  return (direction, bytes) => traceLine(prefix + formatTrace(direction, bytes));
}

/**
 * The socket's `read` and `write`, each transfer shown by `tracer` as it happens: what a script
 * reads and writes through when `--trace` is on.
 * @example
 * ```ts
 * using conn = await Deno.connect({ port: 12000 });
 * const socket = traced(conn, stderrTracer());
 * await socket.write(new TextEncoder().encode("hi"));
 * ```
 */
export function traced(conn: Pick<Deno.Conn, "read" | "write">, tracer: Tracer): Pick<
  Deno.Conn,
  "read" | "write"
> {
  return {
    async read(p) {
      const n = await conn.read(p);
      if (n !== null) tracer("<-", p.subarray(0, n));
      return n;
    },
    async write(p) {
      const n = await conn.write(p);
      tracer("->", p.subarray(0, n));
      return n;
    },
  };
}

// One transfer as a trace line: printable UTF-8 quoted, anything else as hex.
function formatTrace(direction: "->" | "<-", bytes: Uint8Array): string {
  const head = `${direction} ${bytes.length} byte${bytes.length === 1 ? "" : "s"}`;
  let text: string | undefined;
  try {
    // Streaming, so a character cut at the end of the shown part is no error.
    const shown = bytes.subarray(0, SHOWN_CHARS * 4);
    text = new TextDecoder("utf-8", { fatal: true }).decode(shown, { stream: true });
  } catch { /* not UTF-8: shown as hex */ }
  // deno-lint-ignore no-control-regex
  if (text !== undefined && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(text)) {
    const more = text.length > SHOWN_CHARS || bytes.length > SHOWN_CHARS * 4;
    return `${head}  ${quote(text.slice(0, SHOWN_CHARS))}${more ? " ..." : ""}`;
  }
  const hex = Array.from(bytes.subarray(0, SHOWN_BYTES), (b) => b.toString(16).padStart(2, "0"));
  return `${head}  (binary) ${hex.join(" ")}${bytes.length > SHOWN_BYTES ? " ..." : ""}`;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
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
  // Most text has none: a test for plain ASCII, then a search, are cheaper
  // than a replace with a callback.
  if (PRINTABLE_ASCII.test(text) || text.search(CONTROL) < 0) return text;
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
