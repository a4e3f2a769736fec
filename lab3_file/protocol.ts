/**
 * What lab 3's server and client share: the protocol, and the hash of a file's first bytes.
 *
 * Request: `<file name>\n<offset>\n` (UTF-8; the name at most 4096 bytes; the offset is the bytes
 * the client has already, 0 for a fresh download).
 * Reply: `OK <size>\n`, the bytes from `offset` to the end, then the SHA-256 hex of the whole
 * file and `\n`; or `ERROR <reason>\n` and close. The client sends nothing after its request and
 * closes once it has the hash line; a client that closes before then has left.
 *
 * @module
 */

import type { Hash } from "node:crypto";

/** Longest file name in a request, in bytes. */
export const MAX_NAME_BYTES = 4096;

/**
 * Feeds the next `length` bytes of `file` (from where it is, the start after an open) to `hash`:
 * the hash covers the whole file, so a resumed transfer hashes the part the client has.
 *
 * @example
 * ```ts
 * import { createHash } from "node:crypto";
 * const hash = createHash("sha256");
 * const file = await Deno.open("notes.txt");
 * await hashPrefix(file, (await file.stat()).size, hash);
 * file.close();
 * console.log(hash.digest("hex"));
 * ```
 */
export async function hashPrefix(file: Deno.FsFile, length: number, hash: Hash): Promise<void> {
  const buffer = new Uint8Array(Math.min(length, 1024 * 1024));
  for (let left = length; left > 0;) {
    const n = await file.read(buffer.subarray(0, Math.min(buffer.length, left)));
    if (n === null) throw new Error("the file shrank while it was hashed");
    hash.update(buffer.subarray(0, n));
    left -= n;
  }
}
