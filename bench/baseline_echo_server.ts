// The handout's TCPServer.py shape, for comparison only: one client at a
// time, one read assumed to hold the whole sentence, no timeouts.
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`port ${listener.addr.port}`);
const buf = new Uint8Array(1024);
for await (const conn of listener) {
  try {
    const n = await conn.read(buf);
    if (n) {
      await conn.write(
        new TextEncoder().encode(new TextDecoder().decode(buf.subarray(0, n)).toUpperCase()),
      );
    }
  } catch {
    // The handout ignores errors too; keep going.
  } finally {
    conn.close();
  }
}
