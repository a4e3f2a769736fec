/**
 * What every lab's checks get: the commands under test, the time limit,
 * temporary folders for the server and the client, and the server under
 * test itself (started, restarted, and described when it exits).
 *
 * @module
 */

import {
  type CommandResult,
  missingFiles,
  portFree,
  prepare,
  runCommand,
  type Running,
  startCommand,
  type Vars,
  waitForBound,
} from "./command.ts";
import { Checks, missStatus, specOf, type Status, type Verdict } from "./report.ts";
import { lastLines, seconds } from "./why.ts";
import { portTaken, quietPort } from "./ports.ts";

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

/** Options for {@linkcode runClient}. */
export interface ClientRunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
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
  });
}

/** How long a server may take to bind its port. */
const BIND_MS = 10_000;

/** `; stderr: ...`, or stdout's end when stderr is empty (Python's print goes there). */
function outputPart(stderr: string, stdout: string): string {
  if (lastLines(stderr)) return `; stderr: ${lastLines(stderr)}`;
  if (lastLines(stdout)) return `; nothing on stderr, stdout: ${lastLines(stdout)}`;
  return "; it printed nothing";
}

/**
 * Their server, running: on a free port (or the fixed `--port`), started
 * again when it has exited and a later check needs it.
 */
export class ServerUnderTest implements AsyncDisposable {
  /** The port it listens on now. */
  port = 0;
  /** How many times it was started again after exiting. */
  restarts = 0;
  #running?: Running;

  private constructor(readonly ctx: Context, readonly transport: "tcp" | "udp") {}

  /**
   * Starts their server and records the "server starts" check; `undefined`
   * when it never binds its port. Later misses say so if it has exited.
   */
  static async start(
    ctx: Context,
    checks: Checks,
    transport: "tcp" | "udp",
    id: string,
  ): Promise<ServerUnderTest | undefined> {
    const sut = new ServerUnderTest(ctx, transport);
    const problem = await sut.#launch();
    if (problem) {
      checks.add(id, "FAIL", problem);
      return undefined;
    }
    checks.add(
      id,
      "PASS",
      `${transport.toUpperCase()} port ${sut.port} bound`,
    );
    checks.explain = () => sut.exitNote();
    return sut;
  }

  async #launch(): Promise<string | undefined> {
    // A free port can be taken between the kit's pick and their bind: then another one.
    for (let tries = 1;; tries++) {
      const problem = await this.#launchOnce();
      if (!problem?.taken || this.ctx.port !== undefined || tries === 3) return problem?.reason;
    }
  }

  async #launchOnce(): Promise<{ reason: string; taken?: boolean } | undefined> {
    const { ctx, transport } = this;
    const kind = transport.toUpperCase();
    const port = ctx.port ?? quietPort();
    if (ctx.port !== undefined && !portFree(port, transport)) {
      return {
        reason:
          `${kind} port ${port} was taken before the server started (another program, or an earlier run, holds it)`,
      };
    }
    const vars = { ...ctx.vars, host: "127.0.0.1", port: `${port}` };
    const started = performance.now();
    const running = startCommand(prepare(ctx.server!, vars, ctx.base), { cwd: ctx.serverDir });
    const outcome = await waitForBound(port, transport, running, BIND_MS);
    if (outcome === "bound") {
      this.port = port;
      this.#running = running;
      return undefined;
    }
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
    const where = ctx.port === undefined ? "the port given by {port}" : `port ${port}`;
    return {
      reason: `expected it to bind ${kind} port ${port}; still running after ${
        seconds(BIND_MS)
      } without binding it, so the kit killed it: does it listen on ${where}?${output}`,
    };
  }

  /** How it exited, or `undefined` while it runs. */
  exited(): Deno.CommandStatus | undefined {
    return this.#running?.exited();
  }

  /** "the server had exited (exit code 1, by itself); stderr: ...", or `undefined` while it runs. */
  exitNote(): string | undefined {
    const running = this.#running;
    const status = running?.exited();
    if (!running || !status) return undefined;
    const how = running.killedByKit()
      ? "killed by the kit"
      : `exit code ${status.code}${status.signal ? `, signal ${status.signal}` : ""}, by itself`;
    return `the server had exited (${how})${
      outputPart(running.stderrTail(), running.stdoutTail())
    }`;
  }

  /** Waits up to `ms` for it to exit (a crash takes a moment to show). */
  async settle(ms = 1000): Promise<void> {
    const running = this.#running;
    if (!running || running.exited()) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([running.status, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /** Starts it again if it has exited; false (with a note) when it cannot be. */
  async ensureRunning(checks: Checks, before = "the next check"): Promise<boolean> {
    if (this.#running && !this.#running.exited()) return true;
    await this.#running?.stop();
    const problem = await this.#launch();
    if (problem) {
      checks.note(`the server could not be started again for ${before}: ${problem}`);
      return false;
    }
    this.restarts++;
    checks.note(`the server had exited; the kit started it again for ${before}`);
    return true;
  }

  /**
   * Runs a check that needs a running server (started again if it exited
   * earlier). A server that exits during the check makes it a miss, saying
   * how, unless `exitExpected`.
   */
  async check(
    checks: Checks,
    id: string,
    fn: (port: number) => Promise<Verdict>,
    options: { exitExpected?: boolean } = {},
  ): Promise<Status | undefined> {
    if (!checks.wants(id)) return undefined;
    const { name, level } = specOf(id)!;
    if (!(await this.ensureRunning(checks, `"${name}"`))) {
      checks.add(id, missStatus(level), "not run: the server could not be started again");
      return missStatus(level);
    }
    const explain = checks.explain;
    // This check says itself whether the server exited during it.
    checks.explain = undefined;
    try {
      return await checks.run(id, async () => {
        const [status, reason] = await fn(this.port);
        // A miss may be a crash in progress: give its exit a moment to show.
        if (status !== "PASS") await this.settle(300);
        const note = this.exitNote();
        if (!note || options.exitExpected) return [status, reason];
        // A hole found stays a FAIL; anything else becomes a miss.
        const miss = status === "FAIL" ? "FAIL" : "MISS";
        return [miss, `${reason}; ${note.replace("had exited", "exited during this check")}`];
      });
    } finally {
      checks.explain = explain;
    }
  }

  /** Stops it (if running). */
  async stop(): Promise<void> {
    await this.#running?.stop();
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
