/**
 * Lab 1 benchmark: connections per second and latency of the concurrent
 * echo server against a one-client-at-a-time server shaped like the handout's.
 *
 * @module
 */

import { hasPython, script, startProcess, startScript } from "../harness/process.ts";
import { fixed, printTable, quantile, runLoad } from "./load.ts";
import { has, startNginx, wrk } from "./tools.ts";

const THINK_MS = 10;
const SENTENCE = new TextEncoder().encode("benchmark sentence, lower case");

/** One connection: send, half-close, read the reply to the end, check it. */
async function exchange(port: number, thinkMs = 0): Promise<void> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // A client that takes a moment to send (a person typing, a slow link) is what
  // a one-at-a-time server cannot hide.
  if (thinkMs) await new Promise((r) => setTimeout(r, thinkMs));
  await conn.write(SENTENCE);
  await conn.closeWrite().catch(() => {});
  const buf = new Uint8Array(256);
  let got = 0;
  for (let n; (n = await conn.read(buf.subarray(got))) !== null;) got += n;
  if (got !== SENTENCE.length) throw new Error(`short reply: ${got} bytes`);
}

/**
 * The most connections per second this machine can churn through on
 * loopback: wrk and nginx, both in C, 50 clients, one connection per
 * request. No echo server can go faster here, whatever its design.
 */
async function connectionCeiling(seconds: number): Promise<number | undefined> {
  if (!(await has("wrk")) || !(await has("nginx"))) return undefined;
  const dir = await Deno.makeTempDir({ prefix: "bench_lab1_" });
  try {
    const nginx = await startNginx(
      dir,
      `access_log off; server { listen 127.0.0.1:PORT; location / { return 200 "X"; } }`,
    );
    try {
      const r = await wrk(`http://127.0.0.1:${nginx.port}/`, seconds, 50, [
        "-H",
        "Connection: close",
      ]);
      return r.errors === 0 ? r.rps : undefined;
    } finally {
      await nginx.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs the lab 1 benchmark and prints its table. */
export async function benchLab1(seconds: number): Promise<void> {
  console.log(
    `\n## lab1_echo: connections/s, ${seconds} s per row (one connection = connect, send, reply, close)\n`,
  );
  const rows: (string | number)[][] = [];
  const rate: Record<string, number> = {};
  const targets = [
    {
      name: "lab1_echo/server.ts",
      start: () =>
        startScript(
          ["--allow-net"],
          script("lab1_echo/server.ts"),
          ["-a", "127.0.0.1", "-p", "0"],
          /, (\d+)\)$/,
          { discardAfterReady: true },
        ),
    },
    {
      name: "serial (Deno)",
      start: () =>
        startScript(["--allow-net"], script("bench/baseline_echo_server.ts"), [], /^port (\d+)$/),
    },
  ];
  if (await hasPython()) {
    targets.push({
      name: "handout TCPServer.py",
      start: () => startProcess("python3", [script("bench/handout/tcp_server.py")], /^port (\d+)$/),
    });
  }
  for (const t of targets) {
    await using server = await t.start();
    const port = Number(server.match[1]);
    for (const [c, think] of [[1, 0], [50, 0], [200, 0], [50, THINK_MS]]) {
      const r = await runLoad(c, seconds * 1000, () => exchange(port, think));
      const key = `${t.name}@${c}${think ? "+think" : ""}`;
      rate[key] = r.ok / r.seconds;
      rows.push([
        t.name,
        think ? `${c} (${think} ms think)` : c,
        fixed(r.ok / r.seconds, 0),
        fixed(quantile(r.latencies, 0.5), 2),
        fixed(quantile(r.latencies, 0.99), 2),
        r.errors,
      ]);
    }
  }
  printTable(["server", "clients", "conn/s", "p50 ms", "p99 ms", "errors"], rows);
  const baseline = targets.at(-1)!.name;
  const ceiling = await connectionCeiling(seconds);
  if (ceiling !== undefined) {
    console.log(
      `machine ceiling (wrk + nginx, 50 clients, one connection per request): ${
        fixed(ceiling, 0)
      } conn/s = ${fixed(ceiling / rate[`${baseline}@50`])}x ${baseline} back-to-back`,
    );
  }
  const ours = (key: string) => rows.find((r) => `${r[0]}@${r[1]}` === key)?.[5];
  for (
    const [label, suffix, key] of [
      ["back-to-back clients on loopback", "", "lab1_echo/server.ts@50"],
      [
        `clients that take ${THINK_MS} ms to send`,
        "+think",
        `lab1_echo/server.ts@50 (${THINK_MS} ms think)`,
      ],
    ]
  ) {
    const needed = 20 * rate[`${baseline}@50${suffix}`];
    const ratio = rate[`lab1_echo/server.ts@50${suffix}`] / rate[`${baseline}@50${suffix}`];
    const errors = ours(key);
    const verdict = errors === 0 && ratio >= 20
      ? "MET"
      : !suffix && ceiling !== undefined && ceiling < needed
      ? `NOT MET (20x needs ${fixed(needed, 0)} conn/s, above this machine's ceiling)`
      : "NOT MET";
    console.log(
      `target at 50 ${label}: zero errors and >= 20x ${baseline} -> ${errors} errors, ${
        fixed(ratio)
      }x: ${verdict}`,
    );
  }
}
