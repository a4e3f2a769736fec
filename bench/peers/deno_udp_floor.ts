// The floor for lab_udp in Deno: receive, upper-case ASCII, send. deno run --unstable-net --allow-net deno_udp_floor.ts PORT
const port = Number(Deno.args[0]);
const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
const buf = new Uint8Array(65536);
while (true) {
  const [d, a] = await s.receive(buf);
  for (let i = 0; i < d.length; i++) {
    const c = d[i];
    if (c >= 97 && c <= 122) d[i] = c - 32;
  }
  s.send(d.slice(), a);
}
