/**
 * Lab 3 wire protocol.
 *
 * Request: `<file name>\n<offset>\n` (UTF-8; name at most 4096 bytes).
 * Reply: `OK <size>\n`, the bytes from `offset` to the end, then the SHA-256
 * hex of the whole file and `\n`; or `ERROR <reason>\n` and close.
 * The client sends nothing after its request and closes the connection once
 * it has the hash line; a client that closes before it has left.
 *
 * @module
 */

/** Longest file name in a request, in bytes. */
export const MAX_NAME_BYTES = 4096;
/** Longest offset line (a safe integer has at most 16 digits). */
export const MAX_OFFSET_BYTES = 16;
/** The default block size, as the handout says. */
export const DEFAULT_BLOCK_SIZE = 1024;
/** The largest `--block-size`. */
export const MAX_BLOCK_SIZE = 1024 * 1024;
/** Length of the SHA-256 hex line. */
export const HASH_HEX_LENGTH = 64;

/** Parses an `OK <size>` line; `undefined` if it is not one. */
export function parseOkLine(line: string): number | undefined {
  const m = line.match(/^OK (\d{1,16})$/);
  return m ? Number(m[1]) : undefined;
}

/**
 * Splits the client's `SERVER:PORT:NAME_IN_SERVER` (`[v6]:PORT:NAME` for an
 * IPv6 address; the name may hold `:`). `undefined` when it is not one; the
 * port is not range-checked here.
 *
 * @example
 * ```ts
 * splitTarget("[::1]:12000:notes.txt"); // { hostname: "::1", port: 12000, remote: "notes.txt" }
 * ```
 */
export function splitTarget(
  text: string,
): { hostname: string; port: number; remote: string } | undefined {
  const m = text.match(/^(?:\[([0-9A-Fa-f:.%\w]+)\]|([^:[\]]+)):(\d{1,5}):(.+)$/s);
  return m ? { hostname: m[1] ?? m[2], port: Number(m[3]), remote: m[4] } : undefined;
}
