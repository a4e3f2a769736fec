/**
 * A raw HTTP test server on `Deno.listen` that answers each request with
 * exact bytes, so the client's parser meets precisely the responses a test
 * wants, including broken ones.
 *
 * @module
 */

/** What the responder sees of one request. */
export interface RawRequest {
  /** The request head as sent (request line and headers, CRLFs included). */
  head: string;
  method: string;
  target: string;
}

/**
 * A reply: bytes to send, then close (or `keepOpen` to leave the socket open until the server
 * closes); or `serve`, which writes what it likes, as slowly as it likes, and returns (or fails
 * once the client or `close()` has closed the socket).
 */
export type RawReply = string | Uint8Array | {
  parts: (string | Uint8Array)[];
  keepOpen?: boolean;
  delayMs?: number;
} | { serve: (conn: Deno.Conn) => Promise<void> };

/** A running raw server. */
export interface RawHttpServer extends AsyncDisposable {
  port: number;
  hostname: string;
  /** Every request head received, in order. */
  requests: RawRequest[];
  close(): Promise<void>;
}

const enc = new TextEncoder();

/** Starts a raw server; `respond` picks the bytes for each request. */
export function rawHttpServer(
  respond: (request: RawRequest) => RawReply,
  options: { hostname?: string; tls?: { cert: string; key: string } } = {},
): RawHttpServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const listener: Deno.Listener = options.tls
    ? Deno.listenTls({ hostname, port: 0, cert: options.tls.cert, key: options.tls.key })
    : Deno.listen({ hostname, port: 0 });
  const requests: RawRequest[] = [];
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();

  const serve = async (conn: Deno.Conn) => {
    open.add(conn);
    try {
      let head = "";
      const buf = new Uint8Array(4096);
      const dec = new TextDecoder();
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        head += dec.decode(buf.subarray(0, n));
      }
      head = head.slice(0, head.indexOf("\r\n\r\n") + 4);
      const [method, target] = head.split(" ");
      const request = { head, method, target };
      requests.push(request);
      const reply = respond(request);
      if (typeof reply === "object" && "serve" in reply) return await reply.serve(conn);
      const spec = typeof reply === "string" || reply instanceof Uint8Array
        ? { parts: [reply] }
        : reply;
      for (const part of spec.parts) {
        let bytes = typeof part === "string" ? enc.encode(part) : part;
        while (bytes.length) bytes = bytes.subarray(await conn.write(bytes));
        if (spec.delayMs) await new Promise((r) => setTimeout(r, spec.delayMs));
      }
      if (spec.keepOpen) {
        // Wait for the client to give up (its read sees our silence).
        await conn.read(buf).catch(() => null);
      }
    } catch {
      // The client hung up: nothing to do.
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };

  const loop = (async () => {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        break;
      }
      const t = serve(conn).finally(() => tasks.delete(t));
      tasks.add(t);
    }
  })();

  const close = async () => {
    try {
      listener.close();
    } catch { /* closed */ }
    for (const c of open) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await loop;
    while (tasks.size) await Promise.allSettled([...tasks]);
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    hostname,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}
