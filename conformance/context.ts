/**
 * What every lab's checks get: the commands under test, the time limit,
 * temporary folders for the server and the client, and the server under
 * test itself (started, watched, restarted, and described when it exits).
 *
 * @module
 */

import { crashText, hardCodedPortCause, refusedClientCause } from "./causes.ts";
import {
  type BindOutcome,
  type CommandResult,
  missingFiles,
  prepare,
  runCommand,
  type Running,
  startCommand,
  type Vars,
  waitForBound,
} from "./command.ts";
import { GroupWatch, hasProcNet, listeners, listeningPorts, timeWaits, until } from "./net.ts";
import { portTaken, quietPort } from "./ports.ts";
import {
  Checks,
  checkSpecs,
  labOf,
  missStatus,
  specOf,
  type Status,
  type Verdict,
} from "./report.ts";
import { keepPortFree } from "./wire.ts";
import { lastLines, seconds } from "./why.ts";

export { randomBytes } from "../harness/bytes.ts";

/** The kit's run settings. */
export interface Context {
  /** Server command template, if their server is under test. */
  server?: string;
  /** Client command template, if their client is under test. */
  client?: string;
  /** Limit for each command. */
  timeoutMs: number;
  /** Where relative paths in the templates are resolved. */
  base: string;
  /** A temporary folder holding `serverDir`, `clientDir` and files planted outside both. */
  workDir: string;
  /** The server's working folder (holds the test files; the folder an HTTP server serves). */
  serverDir: string;
  /** The client's working folder (where its output files are looked for). */
  clientDir: string;
  /** The fixed port from `--port`, for programs whose port is not a `{port}` placeholder. */
  port?: number;
  /** Extra placeholder values, such as `{dir}` in batch mode. */
  vars: Vars;
}

/** The port the kit's own servers listen on for client checks: the fixed one, or any. */
export function kitPort(ctx: Context): number {
  return ctx.port ?? 0;
}

/**
 * Starts one of the kit's own servers for a client check on {@linkcode kitPort}. On a fixed port
 * still held by TIME_WAIT sockets (a student's server without SO_REUSEADDR leaves them when it
 * closes first, and Linux lets no one bind past them for a minute) it waits for them to clear,
 * saying so in a note, as it does before the student's server; a port another program listens on
 * is named in the error.
 *
 * @example
 * ```ts
 * import type { Checks } from "./report.ts";
 * declare const ctx: Context;
 * declare const checks: Checks;
 * const listener = await startKitServer(ctx, checks, (port) => Deno.listen({ port }));
 * listener.close();
 * ```
 */
export async function startKitServer<T>(
  ctx: Context,
  checks: Checks,
  start: (port: number) => T,
): Promise<T> {
  const port = kitPort(ctx);
  try {
    return start(port);
  } catch (error) {
    if (port === 0 || !(error instanceof Deno.errors.AddrInUse)) throw error;
  }
  const held = await waitForPort(port);
  if (held === "taken") {
    throw new Error(
      `TCP port ${port} is in use by another program: the kit could not start its own server on it for the client checks`,
    );
  }
  try {
    const started = start(port);
    if (held) {
      checks.note(
        `the kit waited ${held.waited} for port ${port}'s TIME_WAIT sockets (left by closed connections) to clear before starting its own server there for the client checks`,
      );
    }
    return started;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      const after = held ? ` after ${held.waited}` : "";
      throw new Error(
        `TCP port ${port} still held${after} (TIME_WAIT sockets, or another program): the kit could not start its own server on it for the client checks`,
      );
    }
    throw error;
  }
}

/**
 * Before a program binds a fixed TCP port: `"taken"` when a program listens on it; else waits (at
 * most a minute) until no TIME_WAIT socket holds it, and says how long and whether they cleared.
 * `undefined` when nothing held it, or where the kernel's table cannot be read.
 */
async function waitForPort(
  port: number,
): Promise<"taken" | { cleared: boolean; waited: string } | undefined> {
  if (!hasProcNet) return undefined;
  if ((listeners(port, "tcp") ?? []).length > 0) return "taken";
  if ((timeWaits(port) ?? 0) === 0) return undefined;
  const begin = performance.now();
  const cleared = await until(() => timeWaits(port) === 0, TIME_WAIT_MS, 100);
  return { cleared, waited: seconds(performance.now() - begin) };
}

/** Options for {@linkcode runClient}. */
export interface ClientRunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Told its pid once it runs (its process group's id). */
  onSpawn?: (pid: number) => void;
}

/** Runs their client to completion. */
export function runClient(
  ctx: Context,
  vars: Vars,
  stdin: string,
  options: ClientRunOptions = {},
): Promise<CommandResult> {
  return runCommand(prepare(ctx.client!, { ...ctx.vars, ...vars }, ctx.base), {
    cwd: ctx.clientDir,
    stdin,
    timeoutMs: options.timeoutMs ?? ctx.timeoutMs,
    signal: options.signal,
    onSpawn: options.onSpawn,
  });
}

/** How long a server may take to bind its port. */
const BIND_MS = 10_000;
/** A server that listens on another port and not on its own for this long has its port hard-coded. */
const ELSEWHERE_MS = 2000;
/** After a miss: how long to wait for a crash in progress to end in an exit, or for the server to fall asleep. */
const SETTLE_MS = 2000;
/** The longest a TIME_WAIT socket lives on Linux (60 s), and a margin. */
const TIME_WAIT_MS = 65_000;

/** `; stderr: ...`, or stdout's end when stderr is empty (Python's print goes there). */
function outputPart(stderr: string, stdout: string): string {
  if (lastLines(stderr)) return `; stderr: ${lastLines(stderr)}`;
  if (lastLines(stdout)) return `; nothing on stderr, stdout: ${lastLines(stdout)}`;
  return "; it printed nothing";
}

/** Why a launch failed, and whether it is the kit's problem (then no check is the student's fault). */
interface LaunchProblem {
  reason: string;
  /** Another port is worth a try: it said its port was taken. */
  taken?: boolean;
  /** Not the program's doing: the fixed port is held by another program. */
  kit?: boolean;
}

/**
 * Their server, running: on a free port (or the fixed `--port`), in a
 * process group of its own. One runner for all its checks: it starts the
 * server again for the next check after a crash in a `beyond` check, says
 * in the check whose traffic came before an exit that the server crashed
 * (with its last stderr lines), and after a crash in a `handout` check
 * runs no more of its checks (NOT_RUN: one crash, one failure).
 */
export class ServerUnderTest implements AsyncDisposable {
  /** The port it listens on now. */
  port = 0;
  /** How many times it was started again after exiting. */
  restarts = 0;
  #running?: Running;
  /** The current process's exit has been reported (as a crash, or as expected). */
  #exitSeen = false;
  /** Set once it crashed in a handout check: why its later checks are not run. */
  #stopped?: string;
  /** The last check it passed, for an exit found between checks. */
  #lastCheck?: string;
  /** It exited where a check told it to (lab2's out-of-range number): starting it again is no news. */
  #exitExpected = false;

  private constructor(
    readonly ctx: Context,
    readonly transport: "tcp" | "udp",
    readonly lab: string,
  ) {}

  /**
   * Starts their server and records the "server starts" check (`id`);
   * `undefined` when it never binds its port, and then every other check of
   * the server is NOT_RUN.
   */
  static async start(
    ctx: Context,
    checks: Checks,
    transport: "tcp" | "udp",
    id: string,
  ): Promise<ServerUnderTest | undefined> {
    const lab = labOf(id.split(".")[0])!;
    const sut = new ServerUnderTest(ctx, transport, lab);
    const problem = await sut.#launch(checks);
    if (problem) {
      checks.add(id, problem.kit ? "NOT_RUN" : "FAIL", problem.reason);
      const why = problem.kit
        ? `not run: ${problem.reason}`
        : 'not run: the server did not start (see "server starts")';
      for (const spec of checkSpecs(lab)) {
        if (spec.id !== id && spec.role !== "client") checks.notRun(spec.id, why);
      }
      return undefined;
    }
    checks.add(id, "PASS", `${transport.toUpperCase()} port ${sut.port} bound`);
    return sut;
  }

  async #launch(checks: Checks): Promise<LaunchProblem | undefined> {
    // A free port can be taken between the kit's pick and their bind: then another one.
    for (let tries = 1;; tries++) {
      const problem = await this.#launchOnce(checks);
      if (!problem?.taken || this.ctx.port !== undefined || tries === 3) return problem;
    }
  }

  /**
   * On a fixed port: waits until no TIME_WAIT socket holds it (a server
   * without SO_REUSEADDR cannot bind it before), saying so in a note.
   * Nothing the student did wrong: closed connections leave them.
   */
  async #portClear(checks: Checks, port: number): Promise<LaunchProblem | undefined> {
    if (this.transport === "udp") return undefined;
    const held = await waitForPort(port);
    if (held === "taken") {
      return {
        reason:
          `TCP port ${port} was taken by another program before the server started (an earlier run's server, or another program): the kit could not run it`,
        kit: true,
      };
    }
    if (!held) return undefined;
    if (!held.cleared) {
      return {
        reason:
          `TCP port ${port} still held by TIME_WAIT sockets after ${held.waited}: the kit could not start the server on it`,
        kit: true,
      };
    }
    checks.note(
      `the kit waited ${held.waited} for port ${port}'s TIME_WAIT sockets (left by closed connections) to clear before starting the server: a server without SO_REUSEADDR cannot bind its port until then`,
    );
    return undefined;
  }

  async #launchOnce(checks: Checks): Promise<LaunchProblem | undefined> {
    const { ctx, transport } = this;
    const kind = transport.toUpperCase();
    const port = ctx.port ?? quietPort();
    if (ctx.port !== undefined) {
      const busy = await this.#portClear(checks, port);
      if (busy) return busy;
      // Restarted on this port, and the next program binds it: the kit's clients leave it clean.
      keepPortFree(port, true);
    }
    const vars = { ...ctx.vars, host: "127.0.0.1", port: `${port}` };
    const started = performance.now();
    const running = startCommand(prepare(ctx.server!, vars, ctx.base), { cwd: ctx.serverDir });
    const outcome = await this.#waitListening(port, running);
    if (outcome === "bound") {
      this.port = port;
      this.#running = running;
      this.#exitSeen = false;
      return undefined;
    }
    const elsewhere = running.pid && !running.exited()
      ? listeningPorts(running.pid, transport).filter((p) => p !== port)
      : [];
    await running.stop();
    const output = outputPart(running.stderrTail(), running.stdoutTail());
    if (outcome === "exited") {
      const missing = missingFiles(ctx.server!, vars, ctx.base);
      const hint = missing.length
        ? ` (no file ${
          missing.join(", ")
        } in ${ctx.base}: relative paths are taken from the folder the kit was run in)`
        : "";
      return {
        reason: `expected it to bind ${kind} port ${port}; it exited by itself with code ${
          running.exited()!.code
        } after ${seconds(performance.now() - started)}${output}${hint}`,
        taken: portTaken(running.stderrTail() + running.stdoutTail()),
      };
    }
    if (elsewhere.length > 0) {
      return {
        reason: `expected it to listen on ${kind} port ${port}; it listens on ${
          elsewhere.join(", ")
        } instead, so the kit stopped it${output}; ${hardCodedPortCause(elsewhere, port)}`,
      };
    }
    const where = ctx.port === undefined ? "the port given by {port}" : `port ${port}`;
    return {
      reason: `expected it to bind ${kind} port ${port}; still running after ${
        seconds(BIND_MS)
      } without binding it, so the kit killed it: does it listen on ${where}?${output}`,
    };
  }

  /**
   * Waits for the server to listen on `port`; gives up early when it
   * listens on another port and not on this one for a while (a hard-coded
   * port), reported as a timeout.
   */
  async #waitListening(port: number, running: Running): Promise<BindOutcome> {
    if (!hasProcNet || !running.pid) {
      return await waitForBound(port, this.transport, running, BIND_MS);
    }
    const end = performance.now() + BIND_MS;
    let elsewhereSince: number | undefined;
    while (performance.now() < end) {
      const slice = Math.min(200, end - performance.now());
      const outcome = await waitForBound(port, this.transport, running, slice);
      if (outcome !== "timeout") return outcome;
      const elsewhere = listeningPorts(running.pid, this.transport).some((p) => p !== port);
      if (!elsewhere) elsewhereSince = undefined;
      else if (elsewhereSince === undefined) elsewhereSince = performance.now();
      else if (performance.now() - elsewhereSince >= ELSEWHERE_MS) return "timeout";
    }
    return running.exited() ? "exited" : "timeout";
  }

  /** How it exited, or `undefined` while it runs. */
  exited(): Deno.CommandStatus | undefined {
    return this.#running?.exited();
  }

  /** Whether it listens on its port now (`undefined` where the kernel's table cannot be read). */
  listening(): boolean | undefined {
    const rows = listeners(this.port, this.transport);
    return rows === undefined ? undefined : rows.length > 0;
  }

  /** Its processes, watched (see {@linkcode GroupWatch}); `undefined` without `/proc`. */
  reader(): GroupWatch | undefined {
    const pid = this.#running?.pid;
    return pid && hasProcNet ? new GroupWatch(pid) : undefined;
  }

  /** "it crashed (exit code 1); stderr: ...", or `undefined` while it runs. */
  exitNote(): string | undefined {
    const running = this.#running;
    const status = running?.exited();
    if (!running || !status) return undefined;
    if (running.killedByKit()) return "the kit killed it";
    return crashText(status, running.stderrTail(), running.stdoutTail());
  }

  /**
   * Waits until a miss has shown all it will: the server exited (a crash in
   * progress), or every process of it is asleep while it still listens
   * (done with what it was sent). Bounded; where the kernel cannot be read,
   * a short wait for an exit.
   */
  async settle(ms = SETTLE_MS): Promise<void> {
    const running = this.#running;
    if (!running || running.exited()) return;
    if (!hasProcNet || !running.pid) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([running.status, new Promise((r) => (timer = setTimeout(r, 300)))]);
      clearTimeout(timer);
      return;
    }
    const watch = new GroupWatch(running.pid);
    await until(
      () => !!running.exited() || (watch.state()?.asleep === true && this.listening() === true),
      ms,
      5,
    );
  }

  /**
   * After the server was told to stop: waits until it exits, or until it is
   * back to waiting (all asleep, still listening: it will not stop), at
   * most `ms`. Where the kernel cannot be read, waits for the exit only.
   */
  async stopped(ms: number): Promise<void> {
    const running = this.#running;
    if (!running || running.exited()) return;
    if (hasProcNet && running.pid) {
      const watch = new GroupWatch(running.pid);
      await until(
        () => !!running.exited() || (watch.state()?.asleep === true && this.listening() === true),
        ms,
        5,
      );
      return;
    }
    await this.#exitWithin(ms);
  }

  async #exitWithin(ms: number): Promise<void> {
    const running = this.#running;
    if (!running) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([running.status, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /**
   * Whether anything still listens on its port after it exited (a process
   * it started holding the socket): a LISTEN row, or where the kernel
   * cannot be read, a connection that is not refused. Never a bind of the
   * kit's own, which the TIME_WAIT sockets of a clean exit make fail.
   */
  async stillListening(): Promise<boolean> {
    const known = this.listening();
    if (known !== undefined) return known;
    try {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: this.port,
        signal: AbortSignal.timeout(2000),
      });
      conn.close();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Starts it again if it has exited (unless it crashed in a handout
   * check); a reason when it cannot be.
   */
  async ensureRunning(checks: Checks, before: string): Promise<string | undefined> {
    if (this.#stopped) return this.#stopped;
    if (this.#running && !this.#running.exited()) return undefined;
    await this.#running?.stop();
    const problem = await this.#launch(checks);
    if (problem) return `not run: the server could not be started again: ${problem.reason}`;
    this.restarts++;
    if (!this.#exitExpected) {
      checks.note(`the server had exited; the kit started it again for ${before}`);
    }
    this.#exitExpected = false;
    return undefined;
  }

  /**
   * Runs the check `id` against the server, started again first if it
   * exited in an earlier `beyond` check. A server that exits during the
   * check (or that had exited since the last one passed) makes it a miss
   * saying so, unless `exitExpected`; after such a crash in a `handout`
   * check, its later checks are NOT_RUN.
   */
  async check(
    checks: Checks,
    id: string,
    fn: (port: number) => Verdict | Promise<Verdict>,
    options: { exitExpected?: boolean } = {},
  ): Promise<Status | undefined> {
    if (!checks.wants(id)) return undefined;
    const { name, level } = specOf(id)!;
    const notRun = (reason: string): Status => {
      checks.add(id, "NOT_RUN", reason);
      return "NOT_RUN";
    };
    const unmet = checks.unmet(id);
    if (unmet) return notRun(unmet);
    if (this.#stopped) return notRun(this.#stopped);
    const running = this.#running!;
    if (running.exited() && !this.#exitSeen) {
      // It exited after the last check passed: the first check it cannot answer says so.
      this.#exitSeen = true;
      const after = this.#lastCheck ? ` after "${this.#lastCheck}" passed` : "";
      const status = missStatus(level);
      checks.add(
        id,
        status,
        `not run against it: the server had exited${after}: ${this.exitNote()}`,
      );
      if (level === "handout") this.#stopped = `not run: the server exited (see "${name}")`;
      return status;
    }
    const cannot = await this.ensureRunning(checks, `"${name}"`);
    if (cannot) return notRun(cannot);
    return await checks.run(id, async () => {
      let verdict: Verdict;
      try {
        verdict = await fn(this.port);
      } catch (error) {
        verdict = ["MISS", error instanceof Error ? error.message : String(error)];
      }
      const [status, reason] = verdict;
      if (status !== "PASS") await this.settle();
      const exit = this.exited();
      if (exit && options.exitExpected) {
        this.#exitSeen = true;
        this.#exitExpected = true;
        return verdict;
      }
      // A server that answered in full and then exited (one client and done) passed this check;
      // the next one it cannot answer says that it had exited. Its exit takes a moment after the
      // last byte: settled, the next check starts knowing of it.
      if (status === "PASS" && !exit) await this.settle();
      if (!exit || status === "PASS") {
        if (status === "PASS") this.#lastCheck = name;
        return verdict;
      }
      this.#exitSeen = true;
      if (level === "handout") this.#stopped = `not run: the server crashed in "${name}"`;
      // A hole found stays a FAIL; anything else becomes a miss. A client refused by a server
      // that had gone was not sent to the wrong port.
      const miss = status === "FAIL" ? "FAIL" : "MISS";
      const refused = refusedClientCause("connection refused")!;
      const why = reason.replace(`; ${refused}`, "");
      return [miss, `${why}; the server ended during this check: ${this.exitNote()}`];
    });
  }

  /** Stops it (if running). */
  async stop(): Promise<void> {
    await this.#running?.stop();
    if (this.ctx.port !== undefined) keepPortFree(this.ctx.port, false);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** Whether `needle` occurs in `haystack`. */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) return true;
  const head = needle.subarray(0, Math.min(64, needle.length));
  for (
    let i = haystack.indexOf(head[0]);
    i >= 0 && i <= haystack.length - needle.length;
    i = haystack.indexOf(head[0], i + 1)
  ) {
    let ok = true;
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

/** Equal byte arrays. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
