/**
 * SHA-256 of files already sent, keyed by what identifies a file's content
 * on disk (path, size, modification time, inode): a file sent again, or the
 * rest of a resumed download, is not hashed again.
 *
 * @module
 */

const MAX_ENTRIES = 1024;

/** The identity of a file version; `undefined` when the OS gives no mtime. */
export function fileKey(path: string, info: Deno.FileInfo): string | undefined {
  if (!info.mtime) return undefined;
  return `${path}\0${info.size}\0${info.mtime.getTime()}\0${info.ino ?? ""}\0${info.dev ?? ""}`;
}

/** A bounded map from file identity to SHA-256 hex, oldest entries dropped first. */
export class HashCache {
  readonly #entries = new Map<string, string>();

  /** The cached hash, if this exact file version was hashed before. */
  get(key: string | undefined): string | undefined {
    if (key === undefined) return undefined;
    const hex = this.#entries.get(key);
    if (hex !== undefined) {
      // Refresh: most recently used last.
      this.#entries.delete(key);
      this.#entries.set(key, hex);
    }
    return hex;
  }

  /** Remembers a hash for a file version. */
  set(key: string | undefined, hex: string): void {
    if (key === undefined) return;
    this.#entries.delete(key);
    this.#entries.set(key, hex);
    if (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
