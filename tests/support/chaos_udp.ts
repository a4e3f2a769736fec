/**
 * The chaos proxy's UDP half: a relay between a client and a UDP server that
 * can drop, duplicate, reorder and delay datagrams, or swallow them all.
 *
 * The client sends to the relay; the relay forwards to the server from one
 * socket per client address, so replies find their way back.
 *
 * @module
 */

/** Options for {@linkcode startUdpChaosRelay}. */
export interface UdpChaosOptions {
  target: { hostname: string; port: number };
  /** Fraction of datagrams dropped, each direction (0..1). */
  drop?: number;
  /** Fraction of datagrams sent twice. */
  duplicate?: number;
  /** Fraction of datagrams held back and sent after the next one. */
  reorder?: number;
  /** Added delay per datagram, ms. */
  delayMs?: number;
  /** Forward nothing at all. */
  blackhole?: boolean;
  /** Random source (default Math.random). */
  random?: () => number;
}

/** A running relay. */
export interface UdpChaosRelay extends AsyncDisposable {
  addr: Deno.NetAddr;
  /** Counts of what the relay did. */
  stats: { forwarded: number; dropped: number; duplicated: number; reordered: number };
  close(): Promise<void>;
}

/** Starts the relay on 127.0.0.1 (or the target's family) on a free port. */
export function startUdpChaosRelay(options: UdpChaosOptions): UdpChaosRelay {
  const random = options.random ?? Math.random;
  const v6 = options.target.hostname.includes(":");
  const front = Deno.listenDatagram({
    transport: "udp",
    hostname: v6 ? "::1" : "127.0.0.1",
    port: 0,
  });
  const target: Deno.NetAddr = {
    transport: "udp",
    hostname: options.target.hostname,
    port: options.target.port,
  };
  const backs = new Map<string, Deno.DatagramConn>();
  const loops: Promise<void>[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const stats = { forwarded: 0, dropped: 0, duplicated: 0, reordered: 0 };
  let closing = false;

  // One held-back datagram per direction and peer, for reordering.
  const held = new Map<string, () => void>();

  const deliver = (key: string, send: () => Promise<unknown>) => {
    if (closing || options.blackhole) return;
    if (random() < (options.drop ?? 0)) {
      stats.dropped++;
      return;
    }
    const copies = random() < (options.duplicate ?? 0) ? 2 : 1;
    if (copies === 2) stats.duplicated++;
    const go = () => {
      for (let i = 0; i < copies; i++) {
        stats.forwarded++;
        send().catch(() => {});
      }
    };
    const later = (fn: () => void) => {
      if (!options.delayMs) return fn();
      const t = setTimeout(() => {
        timers.delete(t);
        if (!closing) fn();
      }, options.delayMs);
      timers.add(t);
    };
    const previous = held.get(key);
    if (previous) {
      // This one overtakes the held one.
      held.delete(key);
      later(() => {
        go();
        previous();
      });
      return;
    }
    if (random() < (options.reorder ?? 0)) {
      stats.reordered++;
      held.set(key, go);
      // Never hold forever: release after 50 ms if nothing overtakes it.
      const t = setTimeout(() => {
        timers.delete(t);
        if (held.get(key) === go) {
          held.delete(key);
          if (!closing) go();
        }
      }, 50);
      timers.add(t);
      return;
    }
    later(go);
  };

  const backFor = (client: Deno.NetAddr): Deno.DatagramConn => {
    const key = `${client.hostname}:${client.port}`;
    let back = backs.get(key);
    if (back) return back;
    back = Deno.listenDatagram({ transport: "udp", hostname: v6 ? "::" : "0.0.0.0", port: 0 });
    backs.set(key, back);
    const socket = back;
    loops.push((async () => {
      try {
        while (true) {
          const [data] = await socket.receive();
          const copy = data.slice();
          deliver(`down ${key}`, () => front.send(copy, client));
        }
      } catch { /* closed */ }
    })());
    return back;
  };

  loops.push((async () => {
    try {
      while (true) {
        const [data, from] = await front.receive();
        const client = from as Deno.NetAddr;
        const back = backFor(client);
        const copy = data.slice();
        deliver(`up ${client.hostname}:${client.port}`, () => back.send(copy, target));
      }
    } catch { /* closed */ }
  })());

  const close = async () => {
    closing = true;
    for (const t of timers) clearTimeout(t);
    try {
      front.close();
    } catch { /* closed */ }
    for (const b of backs.values()) {
      try {
        b.close();
      } catch { /* closed */ }
    }
    await Promise.allSettled(loops);
  };
  return { addr: front.addr as Deno.NetAddr, stats, close, [Symbol.asyncDispose]: close };
}
