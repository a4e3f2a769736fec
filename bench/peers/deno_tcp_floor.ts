// The floor for lab1 in Deno: accept, read to EOF, upper-case ASCII, write, close. deno run --allow-net deno_tcp_floor.ts PORT
const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0]) });
async function serve(conn: Deno.TcpConn) {
  const buf = new Uint8Array(16 * 1024);
  try {
    for (let n; (n = await conn.read(buf)) !== null;) {
      for (let i = 0; i < n; i++) if (buf[i] >= 97 && buf[i] <= 122) buf[i] -= 32;
      await conn.write(buf.subarray(0, n));
    }
  } catch {
    /* reset */
  } finally {
    conn.close();
  }
}
for await (const conn of listener) serve(conn);
