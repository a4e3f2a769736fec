/**
 * The wire trace behind every script's `--trace` flag: one stderr line per
 * socket read or write, so a student sees how the bytes of one send arrive
 * in several reads.
 *
 * @module
 */

/** Direction of a traced transfer: `->` sent, `<-` received. */
export type TraceDirection = "->" | "<-";

/** Prints one traced transfer; `undefined` means tracing is off. */
export type Tracer = (direction: TraceDirection, bytes: Uint8Array) => void;

const SHOWN_BYTES = 16;
const SHOWN_CHARS = 60;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Formats one transfer as a trace line (without the trailing newline).
 *
 * @example
 * ```ts
 * formatTrace("->", new TextEncoder().encode("Ann\n42\n"));
 * // '-> 7 bytes  "Ann\n42\n"'
 * ```
 */
export function formatTrace(direction: TraceDirection, bytes: Uint8Array): string {
  const head = `${direction} ${bytes.length} byte${bytes.length === 1 ? "" : "s"}`;
  const text = printableText(bytes.subarray(0, SHOWN_CHARS * 4));
  if (text !== undefined) {
    const quoted = JSON.stringify(text.slice(0, SHOWN_CHARS));
    return `${head}  ${quoted}${
      text.length > SHOWN_CHARS || bytes.length > SHOWN_CHARS * 4 ? " ..." : ""
    }`;
  }
  const hex = Array.from(bytes.subarray(0, SHOWN_BYTES), (b) => b.toString(16).padStart(2, "0"));
  return `${head}  (binary) ${hex.join(" ")}${bytes.length > SHOWN_BYTES ? " ..." : ""}`;
}

/** Text that is valid UTF-8 with no control characters but tab, CR and LF. */
function printableText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    // The cut at SHOWN_CHARS * 4 may split a character: retry without the tail.
    for (let cut = 1; cut < 4 && cut < bytes.length; cut++) {
      try {
        text = strictUtf8.decode(bytes.subarray(0, bytes.length - cut));
        return hasControl(text) ? undefined : text;
      } catch { /* try a shorter cut */ }
    }
    return undefined;
  }
  return hasControl(text) ? undefined : text;
}

function hasControl(text: string): boolean {
  // deno-lint-ignore no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text);
}

// Every control character but tab and newline, which cannot hide or rewrite what is shown.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text from a peer made safe to print: control characters (ESC, CR, BS, ...)
 * but tab and newline become `\xHH`, so a peer cannot move the cursor,
 * recolour or rewrite the user's terminal.
 *
 * @example
 * ```ts
 * escapeControl("ok\x1b[2J"); // "ok\\x1b[2J"
 * ```
 */
export function escapeControl(text: string): string {
  // Most text has none: a search is cheaper than a replace with a callback.
  if (text.search(CONTROL) < 0) return text;
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

const stderrEncoder = new TextEncoder();

/**
 * A tracer that writes lines to stderr, optionally prefixed with a label such
 * as the peer's address (servers trace many connections at once).
 *
 * @example
 * ```ts
 * const trace = stderrTracer("127.0.0.1:5000");
 * trace("<-", new Uint8Array([1, 2, 3]));
 * ```
 */
export function stderrTracer(label?: string): Tracer {
  const prefix = label ? `[${label}] ` : "";
  return (direction, bytes) => {
    const line = stderrEncoder.encode(`${prefix}${formatTrace(direction, bytes)}\n`);
    for (let off = 0; off < line.length;) off += Deno.stderr.writeSync(line.subarray(off));
  };
}
