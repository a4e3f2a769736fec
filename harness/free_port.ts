/**
 * Free ports for tests, benchmarks and the conformance kit.
 *
 * @module
 */

/** A port nothing listens on right now (TCP and UDP). */
export function freePort(): number {
  for (let i = 0; i < 20; i++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = l.addr.port;
    l.close();
    try {
      Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // Taken for UDP: try another.
    }
  }
  throw new Error("no free port");
}
