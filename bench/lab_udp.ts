/**
 * UDP lab benchmark: request/reply round trips per second with 1 and 20
 * concurrent clients, against the handout's blocking recvfrom/sendto loop.
 *
 * @module
 */

import { hasPython, script, startProcess, startScript } from "../harness/process.ts";
import { fixed, printTable, quantile, runLoad } from "./load.ts";

const PAYLOAD = new TextEncoder().encode("benchmark datagram");

/** Runs the UDP benchmark and prints its table. */
export async function benchUdp(seconds: number): Promise<void> {
  console.log(
    `\n## lab_udp: round trips/s, ${seconds} s per row (each client: send, wait for the reply, repeat)\n`,
  );
  const targets = [{
    name: "lab_udp/server.ts",
    start: () =>
      startScript(
        ["--unstable-net", "--allow-net"],
        script("lab_udp/server.ts"),
        ["-a", "127.0.0.1", "-p", "0"],
        /, (\d+)\)$/,
        {
          discardAfterReady: true,
        },
      ),
  }];
  if (await hasPython()) {
    targets.push({
      name: "handout UDPServer.py",
      start: () => startProcess("python3", [script("bench/handout/udp_server.py")], /^port (\d+)$/),
    });
  }
  const rows: (string | number)[][] = [];
  const rate: Record<string, number> = {};
  for (const t of targets) {
    await using server = await t.start();
    const to: Deno.NetAddr = {
      transport: "udp",
      hostname: "127.0.0.1",
      port: Number(server.match[1]),
    };
    for (const clients of [1, 20]) {
      const sockets = Array.from(
        { length: clients },
        () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
      );
      let next = 0;
      const free = [...sockets];
      const r = await runLoad(clients, seconds * 1000, async () => {
        const socket = free.pop() ?? sockets[next++ % sockets.length];
        try {
          await socket.send(PAYLOAD, to);
          // A lost datagram would hang this worker: count it as an error after 1 s.
          let timer: ReturnType<typeof setTimeout> | undefined;
          const [data] = await Promise.race([
            socket.receive(),
            new Promise<never>((
              _,
              reject,
            ) => (timer = setTimeout(() => reject(new Error("lost")), 1000))),
          ]).finally(() => clearTimeout(timer));
          if (data.length !== PAYLOAD.length) throw new Error("bad reply");
        } finally {
          free.push(socket);
        }
      });
      for (const s of sockets) s.close();
      rate[`${t.name}@${clients}`] = r.ok / r.seconds;
      rows.push([
        t.name,
        clients,
        fixed(r.ok / r.seconds, 0),
        fixed(quantile(r.latencies, 0.5), 3),
        fixed(quantile(r.latencies, 0.99), 3),
        r.errors,
      ]);
    }
  }
  printTable(["server", "clients", "round trips/s", "p50 ms", "p99 ms", "errors"], rows);
  if (targets.length > 1) {
    for (const c of [1, 20]) {
      const ratio = rate[`lab_udp/server.ts@${c}`] / rate[`handout UDPServer.py@${c}`];
      console.log(
        `target with ${c} client(s): at least the handout loop's rate -> ${fixed(ratio, 2)}x: ${
          ratio >= 1 ? "MET" : "NOT MET"
        }`,
      );
    }
  }
}
