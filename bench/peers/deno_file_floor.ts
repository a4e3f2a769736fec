// The floor for lab3's 1 MiB downloads in Deno: a child process sends a file over loopback in
// 1 MiB blocks, this one receives it into a file; with `--hash`, both ends SHA-256 what passes, as
// lab3 must on a first download. Prints the rate and the CPU both processes spent per GB (startup
// not counted): the rate two cores allow is at most 2 / that.
// deno run -A deno_file_floor.ts FILE OUT [--hash]
import { createHash } from "node:crypto";
import process from "node:process";

const [file, out, flag, role, portText] = Deno.args;
const hash = flag === "--hash";
const buf = new Uint8Array(1 << 20);
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1e6;
};

if (role === "serve") {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: Number(portText) });
  console.log("ready");
  using conn = await listener.accept();
  const cpu = process.cpuUsage();
  using f = await Deno.open(file);
  const h = createHash("sha256");
  for (let n; (n = await f.read(buf)) !== null;) {
    if (hash) h.update(buf.subarray(0, n));
    for (let off = 0; off < n;) off += await conn.write(buf.subarray(off, n));
  }
  await conn.closeWrite();
  if (hash) h.digest();
  console.log(cpuSeconds(cpu));
} else {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, file, out, flag ?? "-", "serve", `${port}`],
    stdout: "piped",
  }).spawn();
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).values();
  await lines.next(); // "ready"
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  let total = 0;
  {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    using f = await Deno.open(out, { write: true, create: true, truncate: true });
    const h = createHash("sha256");
    for (let n; (n = await conn.read(buf)) !== null;) {
      if (hash) h.update(buf.subarray(0, n));
      for (let off = 0; off < n;) off += await f.write(buf.subarray(off, n));
      total += n;
    }
    if (hash) h.digest();
  }
  const seconds = (performance.now() - t0) / 1000;
  let serverCpu = "";
  for await (const chunk of { [Symbol.asyncIterator]: () => lines }) serverCpu += chunk;
  await server.status;
  const cpuPerGB = (cpuSeconds(cpu) + Number(serverCpu)) / (total / 1e9);
  console.log(`MB/s=${(total / 1e6 / seconds).toFixed(0)} cpu_s_per_GB=${cpuPerGB.toFixed(2)}`);
}
