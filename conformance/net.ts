/**
 * What the kernel says about sockets and processes, read without touching
 * them: Linux's `/proc/net/tcp`, `/proc/net/udp` (and their IPv6 twins)
 * and `/proc/PID/...`. The kit learns here whether a server listens (a
 * LISTEN row held by the server's own processes, not a bind of the kit's,
 * which a TIME_WAIT socket would make fail), how many connections wait for
 * its `accept()`, and whether its processes woke up and went back to sleep
 * after the kit sent them something (they have read it). Where `/proc`
 * cannot be read (macOS), every reading is `undefined` and the callers fall
 * back to probing.
 *
 * @module
 */

/** A socket row of `/proc/net/{tcp,udp}{,6}`. */
export interface SocketRow {
  localPort: number;
  remotePort: number;
  /** The state, as the kernel numbers it: see {@linkcode TCP}. */
  state: number;
  /** Bytes sent and not yet acknowledged; for a listener, 0. */
  txQueue: number;
  /** Bytes received and not yet read; for a listener, connections waiting for accept(). */
  rxQueue: number;
  /** The socket's inode; 0 once no process holds it (closed, the kernel finishing it). */
  inode: number;
}

/**
 * TCP states as `/proc/net/tcp` numbers them.
 *
 * @example
 * ```ts
 * TCP.LISTEN; // 10
 * ```
 */
export const TCP = {
  ESTABLISHED: 1,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE_WAIT: 8,
  LISTEN: 10,
} as const;

/** A UDP socket bound to a port shows as state 7 ("close": unconnected). */
const UDP_BOUND = 7;

const decoder = new TextDecoder();
const chunk = new Uint8Array(64 * 1024);

/**
 * Reads a /proc file line by line, as the kernel writes it, until `stop`
 * says so: `/proc/net/tcp` lists listening sockets first, so the rows of
 * the listeners come without the kernel formatting every connection
 * (thousands of TIME_WAIT rows on a busy machine take tens of
 * milliseconds). `undefined` if it cannot be read.
 */
function readLines(
  path: string,
  stop: (line: string) => boolean = () => false,
): string[] | undefined {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path);
  } catch {
    return undefined;
  }
  const lines: string[] = [];
  let rest = "";
  try {
    for (let n; (n = file.readSync(chunk)) !== null;) {
      const parts = (rest + decoder.decode(chunk.subarray(0, n))).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        if (stop(line)) return lines;
        lines.push(line);
      }
    }
    if (rest) lines.push(rest);
    return lines;
  } catch {
    return undefined;
  } finally {
    file.close();
  }
}

/** A small /proc file whole; `undefined` if it cannot be read. */
function readProc(path: string): string | undefined {
  return readLines(path)?.join("\n");
}

/** One row of a socket table; `undefined` for the header. */
function parseRow(line: string): SocketRow | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 10 || f[0] === "sl") return undefined;
  const [tx, rx] = f[4].split(":").map((h) => parseInt(h, 16));
  return {
    localPort: parseInt(f[1].split(":")[1], 16),
    remotePort: parseInt(f[2].split(":")[1], 16),
    state: parseInt(f[3], 16),
    txQueue: tx,
    rxQueue: rx,
    inode: Number(f[9]),
  };
}

/**
 * The rows of one table (`tcp`, `tcp6`, `udp`, `udp6`), or `undefined`
 * without `/proc`; with `onlyState`, the rows before the first in another
 * state (the kernel lists TCP listeners first).
 *
 * @example
 * ```ts
 * const listening = socketRows("tcp", TCP.LISTEN);
 * ```
 */
export function socketRows(
  table: "tcp" | "tcp6" | "udp" | "udp6",
  onlyState?: number,
): SocketRow[] | undefined {
  const rows: SocketRow[] = [];
  const lines = readLines(`/proc/net/${table}`, (line) => {
    const row = parseRow(line);
    if (!row) return false;
    if (onlyState !== undefined && row.state !== onlyState) return true;
    rows.push(row);
    return false;
  });
  return lines === undefined ? undefined : rows;
}

/** Whether `/proc/net/tcp` can be read here: the readings below mean something. */
export const hasProcNet: boolean = socketRows("tcp", TCP.LISTEN) !== undefined;

/**
 * The rows of both address families (a dual-stack server's are in the v6
 * table); with `listenersOnly`, TCP's listeners alone, which is quick.
 */
function rowsOf(transport: "tcp" | "udp", listenersOnly = false): SocketRow[] | undefined {
  const only = transport === "tcp" && listenersOnly ? TCP.LISTEN : undefined;
  const v4 = socketRows(transport, only);
  if (v4 === undefined) return undefined;
  return [...v4, ...(socketRows(`${transport}6`, only) ?? [])];
}

/**
 * The listening sockets on `port` (TCP LISTEN rows, or UDP sockets bound to
 * it), or `undefined` without `/proc`.
 *
 * @example
 * ```ts
 * listeners(12000, "tcp")?.length; // 0 when nothing listens
 * ```
 */
export function listeners(port: number, transport: "tcp" | "udp"): SocketRow[] | undefined {
  const state = transport === "tcp" ? TCP.LISTEN : UDP_BOUND;
  return rowsOf(transport, true)?.filter((r) =>
    r.localPort === port && r.state === state && (transport === "tcp" || r.remotePort === 0)
  );
}

/**
 * How many TIME_WAIT sockets hold `port` as their local port (a server that
 * closed first leaves them for 60 s; a server without SO_REUSEADDR cannot
 * bind the port until they are gone), or `undefined` without `/proc`. This
 * reads every connection on the machine: for fixed ports only.
 *
 * @example
 * ```ts
 * timeWaits(12000); // 0 on a quiet machine
 * ```
 */
export function timeWaits(port: number): number | undefined {
  return rowsOf("tcp")?.filter((r) => r.localPort === port && r.state === TCP.TIME_WAIT).length;
}

/**
 * The row of one connection's server end: local `serverPort`, remote
 * `clientPort`, or `undefined` (no `/proc`, or no such socket). This reads
 * every connection on the machine: for fixed ports only.
 *
 * @example
 * ```ts
 * serverEnd(12000, 51738)?.state; // TCP.FIN_WAIT2 once the server closed
 * ```
 */
export function serverEnd(serverPort: number, clientPort: number): SocketRow | undefined {
  const find = (rows?: SocketRow[]) =>
    rows?.find((r) =>
      r.localPort === serverPort && r.remotePort === clientPort && r.state !== TCP.TIME_WAIT
    );
  return find(socketRows("tcp")) ?? find(socketRows("tcp6"));
}

/** `(comm) state ppid pgrp ...` after the pid: comm may hold spaces and parentheses. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * The pids of a process group (the program under test and whatever it
 * started); `undefined` without `/proc`.
 *
 * @example
 * ```ts
 * groupPids(Deno.pid); // [Deno.pid] when run as its own group leader
 * ```
 */
export function groupPids(pgid: number): number[] | undefined {
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return undefined;
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readProc(`/proc/${entry.name}/stat`);
    if (stat && Number(statFields(stat)[2]) === pgid) pids.push(Number(entry.name));
  }
  return pids;
}

/**
 * The socket inodes the group's processes hold open.
 *
 * @example
 * ```ts
 * socketInodes(Deno.pid); // Set of inodes
 * ```
 */
export function socketInodes(pgid: number): Set<number> {
  const inodes = new Set<number>();
  for (const pid of groupPids(pgid) ?? []) {
    try {
      for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
        try {
          const m = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`).match(/^socket:\[(\d+)\]$/);
          if (m) inodes.add(Number(m[1]));
        } catch { /* closed meanwhile */ }
      }
    } catch { /* exited meanwhile, or not ours to read */ }
  }
  return inodes;
}

/**
 * The ports the group listens on (TCP) or has bound (UDP): where a server
 * that ignores the port it was given listens instead.
 *
 * @example
 * ```ts
 * listeningPorts(Deno.pid, "tcp"); // e.g. [12000]
 * ```
 */
export function listeningPorts(pgid: number, transport: "tcp" | "udp"): number[] {
  const inodes = socketInodes(pgid);
  const state = transport === "tcp" ? TCP.LISTEN : UDP_BOUND;
  const ports = (rowsOf(transport, true) ?? [])
    .filter((r) => r.state === state && inodes.has(r.inode))
    .map((r) => r.localPort);
  return [...new Set(ports)].sort((a, b) => a - b);
}

/** What a group's threads were doing at one moment. */
export interface GroupState {
  /** Every thread asleep (`S`): blocked in accept(), recv(), a sleep; none running or exiting. */
  asleep: boolean;
  /**
   * How many times each thread has blocked so far (by `pid/tid`): a count
   * grows each time its thread goes to sleep.
   */
  sleeps: Map<string, number>;
  /** Some thread is alive. */
  alive: boolean;
}

/**
 * Watches a process group's threads: whether they are asleep, and how many
 * times they went to sleep. After the kit sends a program something, a
 * count that has grown with every thread asleep again means the program
 * woke up for it and went back to waiting: it has read what was sent.
 *
 * @example
 * ```ts
 * const watch = new GroupWatch(Deno.pid);
 * watch.state()?.alive; // true
 * ```
 */
export class GroupWatch {
  #pids: number[] = [];
  #listedAt = -Infinity;

  constructor(readonly pgid: number) {}

  /** The group's threads now; `undefined` without `/proc`. */
  state(): GroupState | undefined {
    // A group's processes rarely change: list them again now and then, not every reading.
    if (performance.now() - this.#listedAt > 250) {
      const pids = groupPids(this.pgid);
      if (!pids) return undefined;
      this.#pids = pids;
      this.#listedAt = performance.now();
    }
    let asleep = true;
    let alive = false;
    const sleeps = new Map<string, number>();
    for (const pid of this.#pids) {
      let tasks: Iterable<Deno.DirEntry>;
      try {
        tasks = Deno.readDirSync(`/proc/${pid}/task`);
      } catch {
        continue;
      }
      for (const task of tasks) {
        const base = `/proc/${pid}/task/${task.name}`;
        const stat = readProc(`${base}/stat`);
        const status = readProc(`${base}/status`);
        if (!stat || !status) continue;
        const state = statFields(stat)[0];
        if (state === "Z" || state === "X") continue;
        alive = true;
        if (state !== "S") asleep = false;
        sleeps.set(
          `${pid}/${task.name}`,
          Number(status.match(/^voluntary_ctxt_switches:\s*(\d+)/m)?.[1] ?? 0),
        );
      }
    }
    return { asleep: asleep && alive, sleeps, alive };
  }

  /**
   * Waits until the group has woken up since `before` (a reading taken
   * before the kit sent something) and is all asleep again, or it exited,
   * or `stop()` (the connection ended: a program that closed it does not
   * wake up for what comes after), or `ms` pass.
   */
  async reacted(
    before: GroupState | undefined,
    ms: number,
    stop: () => boolean = () => false,
  ): Promise<boolean> {
    if (!before) return false;
    return await until(
      () => {
        if (stop()) return true;
        const now = this.state();
        return !now || !now.alive || (now.asleep && woke(before, now));
      },
      ms,
      1,
    );
  }

  /** Waits until every thread is asleep (or the group is gone), at most `ms`. */
  async quiet(ms: number): Promise<boolean> {
    return await until(
      () => {
        const now = this.state();
        return !now || !now.alive || now.asleep;
      },
      ms,
      2,
    );
  }
}

/**
 * Whether a thread woke up between two readings: its count grew, or it is
 * new, or it is gone (a thread that served a connection and ended).
 */
function woke(before: GroupState, now: GroupState): boolean {
  for (const [task, count] of now.sleeps) {
    const was = before.sleeps.get(task);
    if (was === undefined || count > was) return true;
  }
  for (const task of before.sleeps.keys()) if (!now.sleeps.has(task)) return true;
  return false;
}

/**
 * Whether every live thread of the group is asleep: it has done all it
 * will with what it was sent. `undefined` without `/proc`.
 *
 * @example
 * ```ts
 * groupAsleep(Deno.pid); // false: this process is running
 * ```
 */
export function groupAsleep(pgid: number): boolean | undefined {
  return new GroupWatch(pgid).state()?.asleep;
}

/**
 * The accept backlog a TCP server asked for (`listen(1)` gives 1), from
 * `ss` (the one place Linux shows it), or `undefined`.
 *
 * @example
 * ```ts
 * await listenBacklog(12000); // 1 for the handout's TCPServer.py
 * ```
 */
export async function listenBacklog(port: number): Promise<number | undefined> {
  try {
    const out = await new Deno.Command("ss", {
      args: ["-Hltn", `sport = :${port}`],
      stdout: "piped",
      stderr: "null",
    }).output();
    // "LISTEN 0 1 0.0.0.0:12000 0.0.0.0:*": Recv-Q (waiting now), Send-Q (the backlog).
    const m = decoder.decode(out.stdout).match(/^\s*LISTEN\s+\d+\s+(\d+)\s/m);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `ready` every `everyMs` until it returns true or `ms` pass; whether
 * it did. For conditions the kernel shows but sends no event for.
 *
 * @example
 * ```ts
 * await until(() => timeWaits(12000) === 0, 61_000, 100);
 * ```
 */
export async function until(
  ready: () => boolean,
  ms: number,
  everyMs = 2,
): Promise<boolean> {
  const end = performance.now() + ms;
  while (!ready()) {
    if (performance.now() >= end) return false;
    await sleep(everyMs);
  }
  return true;
}
