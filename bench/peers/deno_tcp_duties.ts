// The Deno floor for lab1 plus the duties every lab server has and the floor lacks: an idle
// timeout per connection and the handout's two log lines per connection, written to stdout at most
// every 25 ms, as lab servers do. A plain version of those duties: about how close to the floor a
// lab server can get. The timeout is one clock for all connections, as lab servers have it: a timer
// made and cleared per connection cost 10-14% of the floor's rate at 1 client (paired runs,
// 2026-11-26).
// deno run --allow-net deno_tcp_duties.ts PORT
import { log } from "./batched_log.ts";

const IDLE_MS = 30_000;
// Each open connection and when it last made progress.
const open = new Map<Deno.TcpConn, number>();
Deno.unrefTimer(setInterval(() => {
  const now = performance.now();
  for (const [conn, last] of open) if (now - last > IDLE_MS) conn.close();
}, IDLE_MS / 4));

const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0]) });
async function serve(conn: Deno.TcpConn) {
  const { hostname, port } = conn.remoteAddr;
  log(`Connected by: ('${hostname}', ${port})`);
  const buf = new Uint8Array(16 * 1024);
  let seen = "";
  open.set(conn, performance.now());
  try {
    for (let n; (n = await conn.read(buf)) !== null;) {
      if (seen.length < 200) {
        const kept = buf.subarray(0, Math.min(n, 200));
        seen += String.fromCharCode.apply(null, kept as unknown as number[]);
      }
      for (let i = 0; i < n; i++) if (buf[i] >= 97 && buf[i] <= 122) buf[i] -= 32;
      await conn.write(buf.subarray(0, n));
      open.set(conn, performance.now());
    }
  } catch {
    /* reset, or closed by the idle timeout */
  } finally {
    open.delete(conn);
    log(`Data from connected user: ${seen}`);
    try {
      conn.close();
    } catch {
      /* closed by the idle timeout */
    }
  }
}
for await (const conn of listener) serve(conn);
