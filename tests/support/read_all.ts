/**
 * Reading a reply to its end, as tests read what a server sends before it closes.
 * @module
 */

/**
 * Everything `conn` receives until its peer closes, as one array.
 * @example
 * ```ts
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: 12000 });
 * await conn.closeWrite();
 * const reply = await readAll(conn);
 * ```
 */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  const buf = new Uint8Array(65536);
  for (let n; (n = await conn.read(buf)) !== null;) chunks.push(buf.slice(0, n));
  return new Uint8Array(await new Blob(chunks).arrayBuffer());
}
