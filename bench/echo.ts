/**
 * lab1_echo and lab_udp benchmarks, side by side with the servers they are
 * judged against, through one load generator written in C
 * (`peers/loadgen.c`: one thread, epoll), so the figures measure the
 * servers, not a load generator in the runtime under test. Each server is
 * pinned to the first core and the load generator to the second
 * (`taskset`, where there is one); rounds are interleaved and medians shown,
 * and each ratio is the median of the ratios within a round.
 *
 * The peers: our lab server; the runtime's floor, a minimal Deno loop on the
 * same socket calls (`peers/deno_*_floor.ts`), run twice in each round to
 * show how far a ratio moves for no reason of its own; that floor with the
 * log lines (and for lab1 the idle timeout) every lab server owes
 * (`peers/deno_*_duties.ts`); Node's `net`/`dgram` (`peers/node_echo.mjs`);
 * the handout's Python loop; and a C epoll server (`peers/cecho.c`), the
 * machine's floor.
 *
 * @module
 */

import { join } from "node:path";
import { hasPython, script } from "../harness/process.ts";
import { freePort } from "../harness/free_port.ts";
import { fiveNumbers, fixed, median, printTable, range } from "./load.ts";
import { has, pinned } from "./tools.ts";

type Mode = "tcp" | "udp";

/** A server to measure: its command line, `{P}` standing for the port. */
interface Peer {
  name: string;
  command: string[];
}

/** One load run: operations per second and failed ones. */
interface Run {
  ops: number;
  errors: number;
}

/** Compiles the load generator and the C server into `dir`; `undefined` without a C compiler. */
async function buildTools(dir: string): Promise<{ loadgen: string; cecho: string } | undefined> {
  const compiler = (await has("cc")) ? "cc" : (await has("gcc")) ? "gcc" : undefined;
  if (!compiler) return undefined;
  const tools = { loadgen: join(dir, "loadgen"), cecho: join(dir, "cecho") };
  for (const [name, out] of Object.entries(tools)) {
    const r = await new Deno.Command(compiler, {
      args: ["-O2", "-o", out, script(`bench/peers/${name}.c`)],
      stderr: "piped",
    }).output();
    if (!r.success) return undefined;
  }
  return tools;
}

/** Waits until something has bound `port` (it is probed by binding it, never by connecting). */
async function waitBound(mode: Mode, port: number, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => (exited = true));
  for (let i = 0; i < 200 && !exited; i++) {
    try {
      if (mode === "tcp") Deno.listen({ hostname: "127.0.0.1", port }).close();
      else Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        await new Promise((r) => setTimeout(r, 300)); // Bound: let it reach its accept/receive.
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the server did not bind port ${port}`);
}

/** Starts `peer`, runs the load generator against it, stops it. */
async function measure(
  loadgen: string,
  taskset: boolean,
  mode: Mode,
  peer: Peer,
  clients: number,
  seconds: number,
  thinkMs = 0,
): Promise<Run> {
  const port = freePort();
  const [cmd, args] = pinned(0, peer.command.map((a) => a.replaceAll("{P}", `${port}`)), taskset);
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).spawn();
  try {
    await waitBound(mode, port, child);
    const [lg, lgArgs] = pinned(1, [
      loadgen,
      mode,
      "127.0.0.1",
      `${port}`,
      `${clients}`,
      `${seconds}`,
      `${thinkMs}`,
    ], taskset);
    const out = new TextDecoder().decode(
      (await new Deno.Command(lg, { args: lgArgs }).output()).stdout,
    );
    return {
      ops: Number(out.match(/ops\/s=([\d.]+)/)?.[1] ?? NaN),
      errors: Number(out.match(/errors=(\d+)/)?.[1] ?? NaN),
    };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited by itself: the handout's server dies of a client's reset; the load's errors show it.
    }
    await child.status;
  }
}

/**
 * The Deno floor a second time in each round: its ratio to the floor is what a ratio moves on this
 * host for no reason of the server's own, the bench's resolution.
 */
const FLOOR_AGAIN = "Deno floor, again";

/** The Deno floor plus what every lab server must do (`peers/deno_*_duties.ts`). */
const DUTIES = "Deno floor + duties";

/**
 * `BENCH_BEFORE=DIR`: a checkout of an earlier version, whose lab server runs beside ours in every
 * round (as "ours, before"), with the paired ratio of ours to it.
 */
const BEFORE = Deno.env.get("BENCH_BEFORE");
const BEFORE_NAME = "ours, before";

/** Node's row for a lab: its `net` or `dgram` server (`peers/node_echo.mjs`). */
const nodeName = (mode: Mode) => `Node ${mode === "udp" ? "dgram" : "net"}`;

/** The peers of one lab, those whose runtime this machine has. */
async function peersFor(mode: Mode, cecho: string): Promise<Peer[]> {
  const deno = Deno.execPath();
  const net = mode === "udp" ? ["--unstable-net", "--allow-net"] : ["--allow-net"];
  const ours = mode === "udp" ? "lab_udp/server.ts" : "lab1_echo/server.ts";
  const floor = [deno, "run", ...net, script(`bench/peers/deno_${mode}_floor.ts`), "{P}"];
  const peers: Peer[] = [
    { name: ours, command: [deno, "run", ...net, script(ours), "-a", "127.0.0.1", "{P}"] },
    // Another checkout's server beside ours, in the same rounds: a change measured before and after.
    ...(BEFORE
      ? [{
        name: BEFORE_NAME,
        command: [deno, "run", ...net, join(BEFORE, ours), "-a", "127.0.0.1", "{P}"],
      }]
      : []),
    { name: "Deno floor", command: floor },
    { name: FLOOR_AGAIN, command: floor },
    {
      name: DUTIES,
      command: [deno, "run", ...net, script(`bench/peers/deno_${mode}_duties.ts`), "{P}"],
    },
  ];
  if (await hasNode()) {
    peers.push({
      name: nodeName(mode),
      command: ["node", script("bench/peers/node_echo.mjs"), mode, "{P}"],
    });
  } else {
    console.log("node is not installed: no Node rows (npm installs it with Deno)");
  }
  if (await hasPython()) {
    const file = mode === "udp" ? "udp_server.py" : "tcp_server.py";
    peers.push({
      name: "handout Python",
      command: ["python3", script(`bench/handout/${file}`), "{P}"],
    });
  }
  peers.push({ name: "C epoll", command: [cecho, mode, "{P}"] });
  return peers;
}

/**
 * Whether a real Node.js is on the PATH: where there is none, Deno runs a
 * spawned `node` itself, in its Node compatibility mode, which would fill the
 * Node rows with Deno's figures.
 */
async function hasNode(): Promise<boolean> {
  try {
    const { stdout } = await new Deno.Command("node", {
      args: ["-e", "process.stdout.write(typeof Deno)"],
      stderr: "null",
    }).output();
    return new TextDecoder().decode(stdout) === "undefined";
  } catch {
    return false;
  }
}

/** A target line: `label -> ratio: MET / NOT MET`. */
function target(label: string, ratio: number, goal: number, note = ""): void {
  const verdict = ratio >= goal ? "MET" : "NOT MET";
  console.log(`target ${label}: >= ${goal}x -> ${fixed(ratio, 2)}x: ${verdict}${note}`);
}

/** Runs the lab 1 and UDP benchmarks and prints their tables and targets. */
export async function benchEcho(
  seconds: number,
  only?: "lab1" | "udp",
  rounds = 3,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench_echo_" });
  try {
    const tools = await buildTools(dir);
    if (!tools) {
      console.log(
        "\n## lab1_echo and lab_udp: skipped (needs a C compiler, cc, for the load generator)",
      );
      return;
    }
    const taskset = Deno.build.os === "linux" && (await has("taskset"));
    const rows: [Mode, number, number][] = [];
    if (only !== "udp") rows.push(["tcp", 1, 0], ["tcp", 50, 0], ["tcp", 50, 10]);
    if (only !== "lab1") rows.push(["udp", 1, 0], ["udp", 20, 0]);
    for (const mode of ["tcp", "udp"] as const) {
      const modeRows = rows.filter(([m]) => m === mode);
      if (modeRows.length === 0) continue;
      const lab = mode === "tcp" ? "lab1_echo" : "lab_udp";
      const unit = mode === "tcp"
        ? "connections/s (connect, send, half-close, reply, close)"
        : "round trips/s";
      console.log(
        `\n## ${lab}: ${unit}; C load generator${
          taskset ? ", server on core 0, load on core 1" : ""
        }, median of ${rounds} interleaved ${seconds} s runs; a ratio is the median of the rounds' ratios\n`,
      );
      const peers = await peersFor(mode, tools.cecho);
      const results = new Map<string, Run[]>();
      const key = (peer: string, clients: number, think: number) => `${peer}@${clients}+${think}`;
      for (let round = 0; round < rounds; round++) {
        for (const [, clients, think] of modeRows) {
          // With think time only the handout is of interest: it serves one client at a time.
          const these = think
            ? peers.filter((p) => p.name === peers[0].name || p.name === "handout Python")
            : peers;
          // Each round starts with another peer, so a drift of the host within a round does not
          // fall on the same peer every time.
          const start = round % these.length;
          for (const peer of [...these.slice(start), ...these.slice(0, start)]) {
            const run = await measure(tools.loadgen, taskset, mode, peer, clients, seconds, think);
            const k = key(peer.name, clients, think);
            results.set(k, [...(results.get(k) ?? []), run]);
          }
        }
      }
      const ops = (peer: string, clients: number, think = 0) =>
        median((results.get(key(peer, clients, think)) ?? []).map((r) => r.ops));
      // The median of each round's ratio, not the ratio of the medians: this host's speed drifts by
      // a fifth from minute to minute, and peers measured in the same round drift together.
      const roundRatios = (peer: string, base: string, clients: number, think = 0) => {
        const a = results.get(key(peer, clients, think)) ?? [];
        const b = results.get(key(base, clients, think)) ?? [];
        return a.map((run, i) => run.ops / b[i]?.ops);
      };
      const ratio = (peer: string, base: string, clients: number, think = 0) =>
        median(roundRatios(peer, base, clients, think));
      const errors = (peer: string, clients: number, think = 0) =>
        (results.get(key(peer, clients, think)) ?? []).reduce((sum, r) => sum + r.errors, 0);
      const table: (string | number)[][] = [];
      for (const [, clients, think] of modeRows) {
        for (const peer of peers) {
          if (!results.has(key(peer.name, clients, think))) continue;
          const rates = results.get(key(peer.name, clients, think))!.map((r) => r.ops);
          table.push([
            peer.name,
            think ? `${clients} (${think} ms think)` : clients,
            fixed(ops(peer.name, clients, think), 0),
            range(rates),
            fixed(ratio(peer.name, "Deno floor", clients, think), 2),
            errors(peer.name, clients, think),
          ]);
        }
      }
      printTable(["server", "clients", "ops/s", "(range)", "x Deno floor", "errors"], table);
      const ours = peers[0].name;
      const has = (peer: string) => peers.some((p) => p.name === peer);
      const node = nodeName(mode);
      for (const [, clients, think] of modeRows) {
        if (think) continue;
        const [low, q1, mid, q3, high] = fiveNumbers(
          roundRatios(FLOOR_AGAIN, "Deno floor", clients),
        )
          .map((r) => `${fixed(r, 2)}x`);
        console.log(
          `at ${clients} client(s): the Deno floor against itself, run twice in each round: ${mid}; half the rounds ${q1}-${q3}, all ${low}-${high} (how far a ratio moves for no reason of the server's own)`,
        );
        console.log(
          `at ${clients} client(s): the floor with a lab server's duties (${
            mode === "tcp"
              ? "idle timeout, two log lines per connection"
              : "two log lines per datagram"
          }) ${fixed(ratio(DUTIES, "Deno floor", clients), 2)}x the floor; ours ${
            fixed(ratio(ours, DUTIES, clients), 2)
          }x that${has(node) ? `, ${fixed(ratio(ours, node, clients), 2)}x ${node}` : ""}${
            has(BEFORE_NAME) ? `, ${fixed(ratio(ours, BEFORE_NAME, clients), 2)}x ours before` : ""
          }`,
        );
      }
      if (mode === "tcp") {
        target(
          "lab1 at 1 client: within 5% of the Deno floor",
          ratio(ours, "Deno floor", 1),
          0.95,
        );
        const zero = errors(ours, 50) === 0 ? "" : ` (but ${errors(ours, 50)} errors)`;
        target(
          "lab1 at 50 clients: the machine's ceiling (C epoll), 0 errors",
          ratio(ours, "C epoll", 50),
          0.95,
          zero,
        );
        if (has("handout Python")) {
          console.log(
            `clients that take 10 ms to send: ${
              fixed(ratio(ours, "handout Python", 50, 10), 1)
            }x the handout's one-at-a-time server`,
          );
        }
      } else {
        for (const clients of [1, 20]) {
          target(
            `UDP at ${clients} client(s): within 5% of the Deno floor`,
            ratio(ours, "Deno floor", clients),
            0.95,
          );
        }
        if (has(node)) {
          target(
            "UDP at 20 clients: at least Node's dgram",
            ratio(ours, node, 20),
            1,
          );
        }
        if (has("handout Python")) {
          console.log(
            `the handout's blocking loop at 1 client: ${
              fixed(ops("handout Python", 1), 0)
            } round trips/s = ${
              fixed(ratio("handout Python", "Deno floor", 1), 2)
            }x the Deno floor (see the README: the runtime's async receive, not our code)`,
          );
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
