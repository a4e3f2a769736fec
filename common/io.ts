/**
 * Writing all of a buffer over a TCP byte stream, where `write()` may take only part of it
 * ({@linkcode writeAll}, Stevens' `writen`), and a client's time limit on a wait
 * ({@linkcode withTimeout}). Reading lines and exact counts is `lines.ts`.
 * @module
 */

/** Nothing came for `ms` milliseconds: the idle timeout. */
export class IdleTimeoutError extends Deno.errors.TimedOut {
  override name = "IdleTimeoutError";
  constructor(readonly ms: number) {
    super(`timed out after ${ms / 1000} s`);
  }
}

/**
 * Writes every byte of `data`: `write()` may take only part of it.
 * @example
 * ```ts
 * using conn = await Deno.connect({ port: 12000 });
 * await writeAll(conn, new TextEncoder().encode("hello\n"));
 * ```
 */
export async function writeAll(conn: Pick<Deno.Conn, "write">, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

/**
 * `op`, unless `ms` pass first: then {@linkcode IdleTimeoutError}. The operation is not stopped:
 * closing its socket ends it, as the caller's `finally` does.
 * @example
 * ```ts
 * using conn = await Deno.connect({ port: 12000 });
 * const n = await withTimeout(5000, conn.read(new Uint8Array(1024)));
 * ```
 */
export function withTimeout<T>(ms: number, op: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new IdleTimeoutError(ms)), ms);
  });
  op.catch(() => {}); // It may fail once nobody waits for it: its socket was closed.
  return Promise.race([op, expired]).finally(() => clearTimeout(timer));
}
