// Node.js peer for the echo labs: node node_echo.mjs tcp|udp PORT
import net from "node:net";
import dgram from "node:dgram";
const [mode, port] = [process.argv[2], Number(process.argv[3])];
if (mode === "udp") {
  const s = dgram.createSocket("udp4");
  s.on(
    "message",
    (m, r) => s.send(Buffer.from(m.toString("latin1").toUpperCase(), "latin1"), r.port, r.address),
  );
  s.bind(port, "127.0.0.1");
} else {
  net.createServer({ allowHalfOpen: true }, (c) => {
    c.on("data", (d) => c.write(d.toString("utf8").toUpperCase()));
    c.on("end", () => c.end());
    c.on("error", () => {});
  }).listen(port, "127.0.0.1", 4096);
}
