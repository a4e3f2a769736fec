/**
 * A class at once: each submission is graded by a worker process of its
 * own (`conformance/worker.ts`), `jobs` at a time. Where `unshare -rn`
 * works, each worker has a private network namespace (its own loopback:
 * fixed ports run in parallel, and no socket or TIME_WAIT crosses from one
 * student to the next) and a private PID namespace (killing the worker
 * kills every program it started, daemons included; `/proc` is mounted
 * afresh for it, so the kit's readings of `/proc/PID` see the pids it
 * knows). Elsewhere each worker
 * gets a slice of the port range, fixed-port submissions run one at a
 * time, and a timed-out worker's process tree is killed from /proc.
 *
 * The worker prints one JSON line per check as it is recorded, so a
 * submission stopped at `--submission-timeout` keeps the checks done so far.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { type Check, Checks, checkSpecs, type Report } from "./report.ts";
import type { BatchRow } from "./batch.ts";
import { lastLines } from "./why.ts";

/** What a worker grades: a lab and the kit's options for one submission (JSON-safe). */
export interface WorkerJob {
  lab: string;
  options: {
    server?: string;
    client?: string;
    timeoutMs?: number;
    base?: string;
    port?: number;
    vars?: Record<string, string>;
    only?: string[];
  };
}

/** One line a worker prints on stdout. */
export type WorkerLine =
  | { check: Check }
  | { note: string }
  | { report: Report }
  | { error: string };

/** How workers are kept apart: private namespaces, or nothing but port slices. */
export type Isolation = "netns" | "none";

/** Limits and isolation for {@linkcode gradeSubmission}. */
export interface GradeLimits {
  /** Cap on the submission's wall time; none when undefined. */
  submissionTimeoutMs?: number;
  isolation: Isolation;
  /** Without namespaces: the ports this worker's servers are given (passed on as `CONFORMANCE_PORT_RANGE`). */
  portRange?: [number, number];
}

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
/** Brings the namespace's loopback up, then becomes the worker. */
const NETNS_PRELUDE = 'ip link set lo up && exec "$@"';
const UNSHARE = ["-rn", "--pid", "--fork", "--kill-child", "--mount-proc"];

let probed: Promise<Isolation> | undefined;

/**
 * The isolation this machine allows: `netns` when an unprivileged
 * `unshare -rn --pid` can bring a loopback up, else `none`.
 * `CONFORMANCE_NETNS=off` asks for `none` (to test the fallback, or where
 * namespaces misbehave).
 *
 * @example
 * ```ts
 * const isolation = await availableIsolation(); // "netns" on most Linux machines
 * ```
 */
export function availableIsolation(): Promise<Isolation> {
  if (Deno.env.get("CONFORMANCE_NETNS") === "off") return Promise.resolve("none");
  probed ??= (async () => {
    if (Deno.build.os !== "linux") return "none";
    try {
      const { success } = await new Deno.Command("unshare", {
        args: [...UNSHARE, "sh", "-c", "ip link set lo up"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      return success ? "netns" : "none";
    } catch {
      return "none";
    }
  })();
  return probed;
}

/** The argv that runs a worker for `job`, in namespaces or not. */
function workerArgv(job: WorkerJob, isolation: Isolation): string[] {
  const deno = [
    Deno.execPath(),
    "run",
    "--quiet",
    "--no-prompt",
    "--allow-all",
    `--config=${CONFIG}`,
    WORKER,
    JSON.stringify(job),
  ];
  return isolation === "netns"
    ? ["unshare", ...UNSHARE, "sh", "-c", NETNS_PRELUDE, "sh", ...deno]
    : deno;
}

/** Every process below `pid` (children, theirs, ...), read from /proc; empty elsewhere. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        parent.set(Number(entry.name), ppid);
      } catch {
        // Gone meanwhile.
      }
    }
  } catch {
    return [];
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [child, ppid] of parent) {
      if (ppid === p && !found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/**
 * Kills a worker and everything it started: its process group (the worker
 * was started as a group leader), and every descendant found in /proc,
 * since a program may have left the group (`setsid`, a daemon). In a PID
 * namespace the kernel kills the rest when the namespace's first process dies.
 */
function killTree(pid: number): void {
  const below = descendants(pid);
  for (const target of [-pid, pid, ...below]) {
    try {
      Deno.kill(target, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Splits a byte stream into lines as they come. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let end;
    while ((end = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, end);
      pending = pending.slice(end + 1);
    }
  }
  if (pending) yield pending;
}

/**
 * The report of a run that stopped early: the checks it recorded, then
 * every other chosen check of its roles as NOT_RUN with `why`, in the
 * lab's order, counted as `makeReport` counts.
 */
function partialReport(job: WorkerJob, done: Check[], notes: string[], why: string): Report {
  const { server, client, only } = job.options;
  const specs = checkSpecs(job.lab, { server, client });
  const chosen = new Checks(only);
  const checks = [...done];
  for (const spec of specs) {
    if (chosen.wants(spec.id) && !done.some((c) => c.id === spec.id)) {
      const { id, name, level } = spec;
      checks.push({ id, name, level, status: "NOT_RUN", reason: `not reached: ${why}` });
    }
  }
  const order = (c: Check) => {
    const i = specs.findIndex((s) => s.id === c.id);
    return i < 0 ? specs.length : i;
  };
  checks.sort((a, b) => order(a) - order(b));
  const count = (s: string) => checks.filter((c) => c.status === s).length;
  return {
    lab: job.lab,
    server,
    client,
    checks,
    notes: [...notes, why],
    summary: {
      pass: count("PASS"),
      fail: count("FAIL"),
      warn: count("WARN"),
      info: count("INFO"),
      notRun: count("NOT_RUN"),
    },
  };
}

/**
 * Grades one submission in a worker process under `limits`. Never throws
 * for the submission's sake: a run stopped at its cap is a TIMEOUT with the
 * checks done by then, a worker that failed a KIT_ERROR with its last words.
 *
 * @example
 * ```ts
 * const run = await gradeSubmission(
 *   { lab: "lab1_echo", options: { server: "python3 server.py {port}", base: "/class/ann" } },
 *   { isolation: await availableIsolation(), submissionTimeoutMs: 60_000 },
 * );
 * console.log(run.end, run.report.summary);
 * ```
 */
export async function gradeSubmission(
  job: WorkerJob,
  limits: GradeLimits,
): Promise<Omit<BatchRow, "student">> {
  const started = performance.now();
  const [program, ...args] = workerArgv(job, limits.isolation);
  const env: Record<string, string> = { NO_COLOR: "1" };
  if (limits.portRange) env.CONFORMANCE_PORT_RANGE = limits.portRange.join("-");
  const child = new Deno.Command(program, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // A group leader: its whole group is killed at the cap.
    detached: true,
  }).spawn();
  const checks: Check[] = [];
  const notes: string[] = [];
  let report: Report | undefined;
  let error: string | undefined;
  let stderr = "";
  let timedOut = false;
  const timer = limits.submissionTimeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    killTree(child.pid);
  }, limits.submissionTimeoutMs);
  const reading = (async () => {
    for await (const line of lines(child.stdout)) {
      let parsed: WorkerLine;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue; // Not ours: a stray print.
      }
      if ("check" in parsed) checks.push(parsed.check);
      else if ("note" in parsed) notes.push(parsed.note);
      else if ("report" in parsed) report = parsed.report;
      else if ("error" in parsed) error = parsed.error;
    }
  })();
  const readingErr = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + text).slice(-4096);
    }
  })();
  const status = await child.status;
  clearTimeout(timer);
  if (!timedOut) {
    // Whatever is left in its group (a program the kit failed to stop) goes with it.
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // None left: the usual case.
    }
  }
  await Promise.all([reading, readingErr]);
  const ms = performance.now() - started;
  if (report && !timedOut) return { report, end: "graded", ms };
  if (timedOut) {
    const cap = Math.round(limits.submissionTimeoutMs! / 100) / 10;
    const last = checks.at(-1)?.name;
    const detail = `stopped after ${cap} s (--submission-timeout)${
      last ? `, after "${last}"` : " before any check finished"
    }; its programs were killed`;
    return { report: partialReport(job, checks, notes, detail), end: "TIMEOUT", detail, ms };
  }
  const why = error ?? (lastLines(stderr) || `the worker exited with code ${status.code}`);
  const detail = `the kit could not run: ${why}`;
  return { report: partialReport(job, checks, notes, detail), end: "KIT_ERROR", detail, ms };
}

/** Options for {@linkcode gradeClass}. */
export interface ClassOptions {
  /** Submissions graded at once (at least 1). */
  jobs: number;
  submissionTimeoutMs?: number;
  /** Called as each submission is done, in the order they finish. */
  onEach?: (row: BatchRow) => void;
  /** Told why the kit runs fewer jobs than asked. */
  onNote?: (note: string) => void;
}

/** The kit's port range, split between workers when they share one loopback. */
const PORTS: [number, number] = [20_000, 32_767];

/**
 * Grades every submission, `jobs` at a time; the rows come back in the
 * submissions' order, whatever order they finish in.
 *
 * @example
 * ```ts
 * const rows = await gradeClass(
 *   [{ student: "ann", job: { lab: "lab1_echo", options: { server: "python3 s.py {port}" } } }],
 *   { jobs: 2, submissionTimeoutMs: 300_000 },
 * );
 * ```
 */
export async function gradeClass(
  submissions: { student: string; job: WorkerJob }[],
  options: ClassOptions,
): Promise<BatchRow[]> {
  const isolation = await availableIsolation();
  let jobs = Math.max(1, Math.min(options.jobs, submissions.length));
  const fixedPort = submissions.some((s) => s.job.options.port !== undefined);
  if (isolation === "none" && fixedPort && jobs > 1) {
    options.onNote?.(
      "no private loopback here (unshare -rn is not available): programs fixed on one port are " +
        "graded one at a time",
    );
    jobs = 1;
  }
  const slice = Math.floor((PORTS[1] - PORTS[0] + 1) / jobs);
  const rows: BatchRow[] = new Array(submissions.length);
  let next = 0;
  const lane = async (index: number) => {
    const portRange: [number, number] | undefined = isolation === "none" && jobs > 1
      ? [PORTS[0] + index * slice, PORTS[0] + (index + 1) * slice - 1]
      : undefined;
    while (next < submissions.length) {
      const i = next++;
      const { student, job } = submissions[i];
      const run = await gradeSubmission(job, {
        isolation,
        submissionTimeoutMs: options.submissionTimeoutMs,
        portRange,
      });
      rows[i] = { student, ...run };
      options.onEach?.(rows[i]);
    }
  };
  await Promise.all(Array.from({ length: jobs }, (_, i) => lane(i)));
  return rows;
}
