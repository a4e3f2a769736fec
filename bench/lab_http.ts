/**
 * HTTP server benchmark: requests/s for a 1 KiB file and bytes/s for a
 * 10 MiB file with 10 keep-alive connections (wrk), side by side with
 * `python3 -m http.server` and a single-worker nginx; and peak memory
 * serving a 1 GiB file to 10 clients.
 *
 * @module
 */

import { join } from "node:path";
import { hasPython, script, startScript } from "../harness/process.ts";
import { fixed, median, peakRss, printTable, range } from "./load.ts";
import { has, pinSelf, type Started, startNginx, startOnFreePort, wrk } from "./tools.ts";

/** wrk runs per server and file, interleaved; the tables show their median. */
const TRIALS = 3;
const FLOOR = "Deno.serve floor, fixed body";
const FLOOR_LSTAT = "Deno.serve floor + lstat";
const FLOOR_DUTIES = "Deno.serve floor + lstat + duties";
const FLOOR_HEADERS = "Deno.serve floor + lstat + duties + request headers";
const FLOOR_HEADERS_ALL = "the same, under -A (no allow list to check)";
const RAW_HEADERS = "Deno.listen (raw sockets) + lstat + duties + request headers";

/** Runs the HTTP benchmark and prints its tables. */
export async function benchHttp(seconds: number): Promise<void> {
  if (!(await has("wrk"))) {
    console.log("\n## lab_http server: skipped (wrk is not installed: apt-get install wrk)");
    return;
  }
  // Every server started from here on inherits core 0; wrk runs on core 1 (as bench/echo.ts).
  const pinned = await pinSelf("0");
  console.log(
    `\n## lab_http server: wrk -t1 -c10 -d${seconds}s (10 keep-alive connections)${
      pinned ? ", server on core 0, wrk on core 1" : ""
    }, median of ${TRIALS} interleaved runs\n`,
  );
  const dir = await Deno.makeTempDir({ prefix: "bench_http_" });
  const root = join(dir, "www");
  await Deno.mkdir(root);
  await Deno.writeFile(join(root, "1k.bin"), new Uint8Array(1024).fill(97));
  await Deno.writeFile(join(root, "10m.bin"), new Uint8Array(10 * 1024 * 1024).fill(98));
  const leastPrivilege = ["--allow-net", `--allow-read=${root}`];
  const servers: {
    name: string;
    start: () => Promise<Started>;
    /** A floor program that serves a fixed 1 KiB body only. */
    smallOnly?: boolean;
  }[] = [
    {
      name: "lab_http/server.ts",
      // Its log goes where the floors' goes (nowhere), not into a pipe that this process, pinned
      // to the server's core, would have to drain: that cost it about 4% (8 interleaved rounds).
      start: () =>
        startOnFreePort(Deno.execPath(), (port) => [
          "run",
          ...leastPrivilege,
          script("lab_http/server.ts"),
          `${port}`,
          "-a",
          "127.0.0.1",
          "-d",
          root,
        ]),
    },
  ];
  // What Deno.serve allows (peers/deno_http_floor.ts): no file at all; the one lstat per request
  // that keeps every edit visible on the next request; the duties every answer owes; and the
  // reads of the request's headers every static file server must make; that last one again under
  // -A, for what least privilege costs (Deno checks each lstat's path against the allow list).
  const lstatArgs = ["--lstat", join(root, "1k.bin")];
  // Then the same duties and reads on raw sockets (peers/deno_http_raw.ts), as our server does
  // them: the request head read and checked by the program, the answer written in one write.
  const serveFloor = "bench/peers/deno_http_floor.ts";
  const floors: [string, string[], string, string[]][] = [
    [FLOOR, leastPrivilege, serveFloor, []],
    [FLOOR_LSTAT, leastPrivilege, serveFloor, lstatArgs],
    [FLOOR_DUTIES, leastPrivilege, serveFloor, ["--duties", lstatArgs[1]]],
    [FLOOR_HEADERS, leastPrivilege, serveFloor, ["--headers", lstatArgs[1]]],
    [FLOOR_HEADERS_ALL, ["--allow-all"], serveFloor, ["--headers", lstatArgs[1]]],
    [RAW_HEADERS, leastPrivilege, "bench/peers/deno_http_raw.ts", [lstatArgs[1]]],
  ];
  for (const [name, permissions, program, extra] of floors) {
    servers.push({
      name,
      smallOnly: true,
      start: () =>
        startOnFreePort(Deno.execPath(), (port) => [
          "run",
          ...permissions,
          script(program),
          `${port}`,
          ...extra,
        ]),
    });
  }
  if (await hasPython()) {
    servers.push({
      name: "python3 -m http.server",
      start: () =>
        startOnFreePort("python3", (port) => [
          "-m",
          "http.server",
          `${port}`,
          "--bind",
          "127.0.0.1",
          "--directory",
          root,
        ]),
    });
  }
  if (await has("nginx")) {
    servers.push({
      name: "nginx (1 worker)",
      start: () =>
        startNginx(
          dir,
          `access_log ${dir}/access.log; sendfile on; tcp_nopush on; keepalive_requests 100000;
  server { listen 127.0.0.1:PORT; root ${root}; }`,
        ),
    });
  }
  const results: Record<string, { small: number; big: number }> = {};
  const rows: (string | number)[][] = [];
  const running: (Started & { name: string; smallOnly?: boolean })[] = [];
  try {
    // All servers up at once (an idle one costs nothing), then the runs
    // interleaved round by round: this machine's speed drifts by 10-20%
    // over a minute, and a drift must not land on one server only.
    for (const s of servers) {
      running.push({ name: s.name, smallOnly: s.smallOnly, ...(await s.start()) });
    }
    const runs = new Map(
      running.map((r) => [r.name, { small: [] as number[], big: [] as number[], errors: [0, 0] }]),
    );
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        for (const [file, key, index] of [["1k.bin", "small", 0], ["10m.bin", "big", 1]] as const) {
          for (const r of running) {
            if (key === "big" && r.smallOnly) continue;
            const w = await wrk(
              `http://127.0.0.1:${r.port}/${file}`,
              seconds,
              10,
              pinned ? 1 : undefined,
            );
            const run = runs.get(r.name)!;
            run[key].push(key === "small" ? w.rps : w.bps);
            run.errors[index] += w.errors;
          }
        }
      }
    } finally {
      for (const r of running) await r.stop();
      if (pinned) await pinSelf(`0-${navigator.hardwareConcurrency - 1}`);
    }
    for (const [name, run] of runs) {
      results[name] = { small: median(run.small), big: median(run.big) };
      const big = run.big.length > 0
        ? [fixed(results[name].big / 1e6, 0), range(run.big, 1e6), run.errors[1]]
        : ["-", "", ""];
      rows.push([name, fixed(results[name].small, 0), range(run.small), run.errors[0], ...big]);
    }
    printTable([
      "server",
      "1 KiB req/s",
      "(range)",
      "errors",
      "10 MiB MB/s",
      "(range)",
      "errors",
    ], rows);
    const ours = results["lab_http/server.ts"];
    const py = results["python3 -m http.server"];
    const ng = results["nginx (1 worker)"];
    if (py) {
      console.log(
        `target 1 KiB: >= 10x python -> ${fixed(ours.small / py.small)}x: ${
          ours.small >= 10 * py.small ? "MET" : "NOT MET"
        }`,
      );
    }
    if (ng) {
      console.log(
        `target 1 KiB: >= 0.9x nginx (1 worker) -> ${fixed(ours.small / ng.small, 3)}x: ${
          ours.small >= 0.9 * ng.small ? "MET" : "NOT MET"
        }`,
      );
      const floor = results[FLOOR], lstat = results[FLOOR_LSTAT], duties = results[FLOOR_DUTIES];
      const reads = results[FLOOR_HEADERS], readsAll = results[FLOOR_HEADERS_ALL];
      console.log(
        `what Deno.serve allows: a fixed 1 KiB body, no file, is ${
          fixed(floor.small / ng.small, 2)
        }x nginx; with one lstat per request ${
          fixed(lstat.small / ng.small, 2)
        }x; with the validators, headers and log line every answer owes ${
          fixed(duties.small / ng.small, 2)
        }x; reading Host and the conditional headers as well ${
          fixed(reads.small / ng.small, 2)
        }x (see the README)`,
      );
      const raw = results[RAW_HEADERS];
      console.log(
        `the same duties and reads on raw sockets (Deno.listen, the head parsed by the program, ` +
          `one write per answer), as ours: ${fixed(raw.small / ng.small, 2)}x nginx, ${
            fixed(raw.small / reads.small, 2)
          }x the Deno.serve row; ours is ${fixed(ours.small / raw.small, 2)}x that`,
      );
      console.log(
        `what least privilege costs: that last floor under -A is ${
          fixed(readsAll.small / reads.small, 2)
        }x as fast as under --allow-read=DIR`,
      );
      const race = new TextDecoder().decode(
        (await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", script("bench/peers/deno_http_watch_race.ts"), "1000"],
          stdout: "piped",
        }).output()).stdout,
      );
      console.log(
        `why not a watcher instead of the lstat (peers/deno_http_watch_race.ts): ${
          race.match(/stale=(\d+)/)?.[1] ?? "?"
        } of 1000 requests made right after an edit got the old file`,
      );
      console.log(
        `target 10 MiB: >= 70% of nginx's bytes/s -> ${fixed((100 * ours.big) / ng.big, 0)}%: ${
          ours.big >= 0.7 * ng.big ? "MET" : "NOT MET"
        }`,
      );
    }
    console.log(`\n## lab_http server: peak memory serving a 1 GiB file to 10 clients at once\n`);
    {
      using f = await Deno.open(join(root, "1g.bin"), { write: true, create: true });
      await f.truncate(1024 ** 3);
    }
    const server = await startScript(
      leastPrivilege,
      script("lab_http/server.ts"),
      ["0", "-a", "127.0.0.1", "-d", root],
      /:(\d+)\/$/,
      {
        discardAfterReady: true,
      },
    );
    let finished: () => void = () => {};
    const peaking = peakRss(server.pid, new Promise<void>((resolve) => (finished = resolve)));
    const downloads = await Promise.all(Array.from({ length: 10 }, async () => {
      const out = await new Deno.Command("curl", {
        args: [
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{size_download}",
          `http://127.0.0.1:${server.match[1]}/1g.bin`,
        ],
        stdout: "piped",
      }).output();
      return Number(new TextDecoder().decode(out.stdout));
    }));
    finished();
    const peak = await peaking;
    await server.stop();
    const complete = downloads.every((n) => n === 1024 ** 3);
    printTable(["server", "clients", "complete", "peak RSS MB"], [[
      "lab_http/server.ts",
      10,
      complete ? "yes" : "NO",
      fixed(peak, 1),
    ]]);
    console.log(`target: under 150 MB -> ${complete && peak < 150 ? "MET" : "NOT MET"}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
