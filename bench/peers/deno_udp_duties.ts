// The Deno floor for lab_udp plus the duty every lab server has and the floor lacks: the handout's
// two log lines per datagram, written to stdout at most every 25 ms, as lab servers do. The lines
// of each sender are built once, as ours are (fresh strings per datagram cost about 3%). A plain
// version of that duty: about how close to the floor a lab server can get.
// deno run --unstable-net --allow-net deno_udp_duties.ts PORT
import { log } from "./batched_log.ts";

// By port: the sender's host, and the two lines about it.
const senders = new Map<number, [string, string, string]>();
const s = Deno.listenDatagram({
  transport: "udp",
  hostname: "127.0.0.1",
  port: Number(Deno.args[0]),
});
const buf = new Uint8Array(65536);
while (true) {
  const [d, a] = await s.receive(buf);
  const { hostname, port } = a as Deno.NetAddr;
  let lines = senders.get(port);
  if (lines?.[0] !== hostname) {
    const peer = `('${hostname}', ${port})`;
    senders.set(port, lines = [hostname, `Received request from ${peer}`, `Sent reply to ${peer}`]);
  }
  log(lines[1]);
  for (let i = 0; i < d.length; i++) {
    const c = d[i];
    if (c >= 97 && c <= 122) d[i] = c - 32;
  }
  s.send(d.slice(), a);
  log(lines[2]);
}
