/**
 * The kit's relay between a client and a server under test. It records
 * each connection (what went which way, and when), and it can deliver the
 * bytes as TCP is allowed to: re-segmented into 1-byte writes, or held back
 * and delivered together (coalesced). A pair that only works because each
 * `recv()` happens to get exactly one `send()` fails through it.
 *
 * @module
 */

import { acceptAll, closeQuietly } from "./accept.ts";
import type { GroupWatch } from "./net.ts";
import { concat, type Recording } from "./wire.ts";

/** `pass`: as read; `split`: 1-byte writes; `coalesce`: held until the sender pauses, then one write. */
export type RelayMode = "pass" | "split" | "coalesce";

/** Options for {@linkcode startRelay}. */
export interface RelayOptions {
  /** Coalesce: deliver once the sender has sent nothing for this long (default 1.5 s). */
  holdMs?: number;
  /** Split: how many bytes each way go as 1-byte writes; the rest pass as read (default 4096). */
  splitBytes?: number;
  /**
   * Split: the processes reading each way (`up`: the server's, `down`: the
   * client's, once it runs). The first bytes of a burst go each once the
   * reader woke up for the one before and went back to waiting, so its
   * `recv()` returns them one by one on any machine. Without them, a few
   * milliseconds apart.
   */
  readers?: { up?: () => GroupWatch | undefined; down?: () => GroupWatch | undefined };
  /** Give up on connecting to the server after this long (default 5 s). */
  connectMs?: number;
}

/** A running relay. */
export interface Relay extends AsyncDisposable {
  /** Where the client should connect. */
  port: number;
  /** One recording per connection, in the order they came. */
  recordings: Recording[];
  /**
   * How long no byte has moved while a connection is open and nothing is
   * held back (0 otherwise): a pair waiting on each other forever.
   */
  stalledMs(): number;
  close(): Promise<void>;
}

/** Split: how many bytes of each burst are written apart (where a message starts, framing breaks). */
const PACED_BYTES = 64;
const SLOW_BYTES = 8;
/** Split: at most this long spent, per connection and way, waiting for a reader to take a byte. */
const PACE_BUDGET_MS = 3000;
/** Coalesce: the most held back before it is delivered anyway. */
const MAX_HOLD = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a relay on a free loopback port to `targetPort`.
 *
 * @example
 * ```ts
 * await using relay = startRelay(12000, "split");
 * // run the client against relay.port
 * ```
 */
export function startRelay(
  targetPort: number,
  mode: RelayMode,
  options: RelayOptions = {},
): Relay {
  const holdMs = options.holdMs ?? 1500;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const recordings: Recording[] = [];
  let open = 0;
  let holding = 0;
  let lastMove = performance.now();
  const moved = () => (lastMove = performance.now());

  const writeAll = async (to: Deno.Conn, bytes: Uint8Array) => {
    for (let off = 0; off < bytes.length;) off += await to.write(bytes.subarray(off));
    moved();
  };

  const handle = async (client: Deno.TcpConn) => {
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect({
        hostname: "127.0.0.1",
        port: targetPort,
        signal: AbortSignal.timeout(options.connectMs ?? 5000),
      });
    } catch {
      closeQuietly(client);
      return;
    }
    // Closed with the relay, as the client side is.
    acceptor.conns.add(server);
    client.setNoDelay(true);
    server.setNoDelay(true);
    const rec: Recording = { events: [] };
    recordings.push(rec);
    const start = performance.now();
    let aborted = false;
    const abort = () => {
      aborted = true;
      closeQuietly(client);
      closeQuietly(server);
    };

    const pump = async (from: Deno.TcpConn, to: Deno.TcpConn, dir: "up" | "down") => {
      let splitLeft = mode === "split" ? options.splitBytes ?? 4096 : 0;
      let budget = PACE_BUDGET_MS;
      /** Writes one byte while the reader waits, then waits until it took it. */
      const paced = async (byte: Uint8Array, slow: boolean) => {
        const reader = options.readers?.[dir]?.();
        const begin = performance.now();
        if (reader && budget > 0) await reader.quiet(budget);
        const before = reader?.state();
        await writeAll(to, byte);
        if (before && budget > 0) {
          await reader!.reacted(
            before,
            Math.max(0, budget - (performance.now() - begin)),
            () => aborted,
          );
        } else if (!before) await sleep(slow ? 5 : 1);
        budget -= performance.now() - begin;
        if (Deno.env.get("KIT_DEBUG_TIMES") && performance.now() - begin > 50) {
          console.error(`paced ${dir} ${byte[0]} ${Math.round(performance.now() - begin)} ms`);
        }
      };
      let held: Uint8Array[] = [];
      let heldBytes = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      // Writes one way happen in order, also when a held batch is delivered by its timer.
      let queue = Promise.resolve();
      const send = (bytes: Uint8Array) => {
        queue = queue.then(async () => {
          // The first bytes of each burst go one per read of the reader's (where a message
          // starts is where naive framing breaks); the rest still go 1 byte per write, unpaced.
          for (let i = 0; splitLeft > 0 && bytes.length > 0; i++) {
            if (i < PACED_BYTES) await paced(bytes.subarray(0, 1), i < SLOW_BYTES);
            else await writeAll(to, bytes.subarray(0, 1));
            bytes = bytes.subarray(1);
            splitLeft--;
          }
          if (bytes.length > 0) await writeAll(to, bytes);
        }).catch(abort);
      };
      const deliver = () => {
        clearTimeout(timer);
        if (heldBytes === 0) return;
        const batch = concat(held);
        held = [];
        holding -= heldBytes;
        heldBytes = 0;
        send(batch);
      };
      const buf = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await from.read(buf);
          if (n === null) break;
          const bytes = buf.slice(0, n);
          rec.events.push({ dir, bytes, atMs: performance.now() - start });
          moved();
          if (mode !== "coalesce") {
            send(bytes);
            continue;
          }
          held.push(bytes);
          heldBytes += n;
          holding += n;
          clearTimeout(timer);
          if (heldBytes >= MAX_HOLD) deliver();
          else timer = setTimeout(deliver, holdMs);
        }
        rec.events.push({ dir, fin: true, atMs: performance.now() - start });
        deliver();
        await queue;
        await to.closeWrite().catch(() => {});
      } catch {
        // Reset or closed under us: end both sides.
        deliver();
        await queue;
        abort();
      }
    };

    open++;
    try {
      await Promise.all([pump(client, server, "up"), pump(server, client, "down")]);
    } finally {
      open--;
      moved();
      abort();
      acceptor.conns.delete(server);
    }
  };

  const acceptor = acceptAll(listener, (conn) => handle(conn as Deno.TcpConn));
  const close = () => acceptor.close();

  return {
    port: listener.addr.port,
    recordings,
    stalledMs: () => (open > 0 && holding === 0 ? performance.now() - lastMove : 0),
    close,
    [Symbol.asyncDispose]: close,
  };
}
