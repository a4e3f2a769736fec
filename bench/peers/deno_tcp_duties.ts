// The Deno floor for lab1 plus the duties every lab server has and the floor lacks: an idle
// timeout per connection (one timer, re-armed only when it fires early) and the handout's two log
// lines per connection, written to stdout at most every 25 ms, as lab servers do. A plain version
// of those duties: about how close to the floor a lab server can get.
// deno run --allow-net deno_tcp_duties.ts PORT
import { log } from "./batched_log.ts";

const IDLE_MS = 30_000;
const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0]) });
async function serve(conn: Deno.TcpConn) {
  const { hostname, port } = conn.remoteAddr;
  log(`Connected by: ('${hostname}', ${port})`);
  const buf = new Uint8Array(16 * 1024);
  let seen = "";
  let last = performance.now();
  const expire = () => {
    const left = last + IDLE_MS - performance.now();
    if (left > 0) idle = setTimeout(expire, left);
    else conn.close();
  };
  let idle = setTimeout(expire, IDLE_MS);
  try {
    for (let n; (n = await conn.read(buf)) !== null;) {
      if (seen.length < 200) seen += String.fromCharCode(...buf.subarray(0, Math.min(n, 200)));
      for (let i = 0; i < n; i++) if (buf[i] >= 97 && buf[i] <= 122) buf[i] -= 32;
      await conn.write(buf.subarray(0, n));
      last = performance.now();
    }
  } catch {
    /* reset, or closed by the idle timeout */
  } finally {
    clearTimeout(idle);
    log(`Data from connected user: ${seen}`);
    try {
      conn.close();
    } catch {
      /* closed by the idle timeout */
    }
  }
}
for await (const conn of listener) serve(conn);
