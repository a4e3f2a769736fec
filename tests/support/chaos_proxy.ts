/**
 * A chaos TCP proxy between a client and a server: it can re-segment the
 * stream into tiny writes with delays, cut the connection after N bytes, or
 * stall. Every TCP lab's tests run their client/server pair through it.
 *
 * @module
 */

/** Options for {@linkcode startChaosProxy}. */
export interface ChaosOptions {
  /** The real server. */
  target: { hostname: string; port: number };
  /** Forward in writes of at most this many bytes (both directions). */
  segmentSize?: number;
  /** Wait this long between segments. */
  delayMs?: number;
  /** Close both sides once this many bytes went from server to client. */
  cutAfter?: number;
  /** Stop forwarding server-to-client bytes after this many (connections stay open). */
  stallAfter?: number;
  /** Where the proxy listens (default 127.0.0.1). */
  hostname?: string;
}

/** A running proxy. */
export interface ChaosProxy extends AsyncDisposable {
  addr: Deno.NetAddr;
  /** Bytes forwarded server-to-client, over all connections. */
  downstreamBytes(): number;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the proxy on a free port.
 *
 * @example
 * ```ts
 * await using proxy = startChaosProxy({
 *   target: { hostname: "127.0.0.1", port: 12000 },
 *   segmentSize: 1,
 * });
 * ```
 */
export function startChaosProxy(options: ChaosOptions): ChaosProxy {
  const listener = Deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let down = 0;
  let closing = false;

  const closeQuietly = (c: Deno.Conn) => {
    try {
      c.close();
    } catch { /* closed already */ }
  };

  const pump = async (
    from: Deno.Conn,
    to: Deno.TcpConn,
    downstream: boolean,
    cut: () => void,
  ) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        let chunk = buf.subarray(0, n);
        if (downstream && options.stallAfter !== undefined) {
          const room = Math.max(0, options.stallAfter - down);
          if (room < chunk.length) {
            chunk = chunk.subarray(0, room);
            await forward(to, chunk);
            down += chunk.length;
            // Stalled: hold the connection open, forward nothing more.
            while (!closing) await sleep(20);
            return;
          }
        }
        if (downstream && options.cutAfter !== undefined) {
          const room = options.cutAfter - down;
          if (room <= chunk.length) {
            await forward(to, chunk.subarray(0, room));
            down += room;
            cut();
            return;
          }
        }
        await forward(to, chunk);
        if (downstream) down += chunk.length;
      }
      await to.closeWrite().catch(() => {});
    } catch {
      cut();
    }
  };

  const forward = async (to: Deno.Conn, data: Uint8Array) => {
    const size = options.segmentSize ?? data.length;
    for (let off = 0; off < data.length; off += size) {
      let part = data.subarray(off, Math.min(off + size, data.length));
      while (part.length > 0) part = part.subarray(await to.write(part));
      if (options.delayMs) await sleep(options.delayMs);
    }
  };

  const handle = async (client: Deno.TcpConn) => {
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect(options.target);
    } catch {
      closeQuietly(client);
      return;
    }
    conns.add(client);
    conns.add(server);
    const cut = () => {
      closeQuietly(client);
      closeQuietly(server);
    };
    await Promise.all([pump(client, server, false, cut), pump(server, client, true, cut)]);
    cut();
    conns.delete(client);
    conns.delete(server);
  };

  const loop = (async () => {
    while (true) {
      let c: Deno.TcpConn;
      try {
        c = await listener.accept();
      } catch {
        break;
      }
      const t = handle(c).finally(() => tasks.delete(t));
      tasks.add(t);
    }
  })();

  const close = async () => {
    closing = true;
    try {
      listener.close();
    } catch { /* closed */ }
    for (const c of conns) closeQuietly(c);
    await loop;
    while (tasks.size) await Promise.allSettled([...tasks]);
  };

  return {
    addr: listener.addr as Deno.NetAddr,
    downstreamBytes: () => down,
    close,
    [Symbol.asyncDispose]: close,
  };
}
