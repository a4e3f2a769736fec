/**
 * Runs the labs' scripts as real processes, with the permission flags a user
 * types, through the running Deno binary (never a `deno` found on PATH).
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Absolute path of a script under the repository root. */
export function script(relative: string): string {
  return join(ROOT, relative);
}

/** The result of {@linkcode runScript}. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@linkcode runScript} and {@linkcode startScript}. */
export interface RunOptions {
  /** Text written to stdin, which is then closed. */
  stdin?: string;
  cwd?: string;
  /** Kill the process after this long (default 30 s). */
  timeoutMs?: number;
  /** Once the ready line is seen, drop further output unread (benchmarks). */
  discardAfterReady?: boolean;
}

/** `deno run FLAGS SCRIPT ARGS` to completion. */
export function runScript(
  flags: string[],
  file: string,
  args: string[] = [],
  options: RunOptions = {},
): Promise<RunResult> {
  const run = ["run", "--quiet", "--no-prompt", ...flags, file, ...args];
  return runProgram(Deno.execPath(), run, {
    ...options,
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1" },
  });
}

/**
 * Any program to completion, killed after `timeoutMs` (default 30 s); `env` is added to this
 * process's environment.
 */
export async function runProgram(
  program: string,
  args: string[],
  options: RunOptions & { env?: Record<string, string> } = {},
): Promise<RunResult> {
  const child = new Deno.Command(program, {
    args,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A script running in the background, e.g. a server. */
export interface Started extends AsyncDisposable {
  /** The first stdout line's captured group, e.g. the port. */
  match: RegExpMatchArray;
  /** Every stdout line so far. */
  lines: string[];
  /** Waits for a stdout line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<RunResult>;
  /** Waits for the exit. */
  exited(): Promise<RunResult>;
  pid: number;
}

/**
 * Starts a script and waits until a stdout line matches `ready`.
 *
 * @example
 * ```ts
 * await using server = await startScript(["--allow-net"], script("lab1_echo/server.ts"),
 *   ["-p", "0"], /Server waiting on .*, (\d+)\)/);
 * ```
 */
export function startScript(
  flags: string[],
  file: string,
  args: string[],
  ready: RegExp,
  options: RunOptions = {},
): Promise<Started> {
  return startProcess(
    Deno.execPath(),
    ["run", "--quiet", "--no-prompt", ...flags, file, ...args],
    ready,
    options,
  );
}

/** Starts any program and waits until a stdout line matches `ready`. */
export async function startProcess(
  command: string,
  args: string[],
  ready: RegExp,
  options: RunOptions = {},
): Promise<Started> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd ?? ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  let readySeen = false;
  const waiters = new Set<() => void>();
  let stderr = "";
  const stdoutDone = (async () => {
    let rest = "";
    const decoder = new TextDecoder();
    for await (const bytes of child.stdout) {
      // Benchmarks keep draining the pipe (a closed pipe would kill the server) but skip the work.
      if (options.discardAfterReady && readySeen) continue;
      rest += decoder.decode(bytes, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
      for (const w of waiters) w();
    }
    if (rest) lines.push(rest);
    for (const w of waiters) w();
  })();
  const stderrDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  let status: Deno.CommandStatus | undefined;
  const statusPromise = child.status.then((s) => (status = s));

  const waitFor = (pattern: RegExp, timeoutMs = 15_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        for (const line of lines) {
          const m = line.match(pattern);
          if (m) return done(() => resolve(m));
        }
        if (status) {
          done(() => reject(new Error(`exited (${status!.code}) before ${pattern}: ${stderr}`)));
        }
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(new Error(`no line ${pattern} in ${timeoutMs} ms: ${lines.join("\n")}`))
          ),
        timeoutMs,
      );
      const done = (f: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });

  const exited = async (): Promise<RunResult> => {
    const s = await statusPromise;
    await Promise.all([stdoutDone, stderrDone]);
    return { code: s.code, stdout: lines.join("\n"), stderr };
  };
  const stop = async (signal: Deno.Signal = "SIGINT") => {
    if (!status) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    }
    const killer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 10_000);
    try {
      return await exited();
    } finally {
      clearTimeout(killer);
    }
  };

  try {
    const match = await waitFor(ready);
    readySeen = true;
    return {
      match,
      lines,
      waitFor,
      stop,
      exited,
      pid: child.pid,
      [Symbol.asyncDispose]: async () => void (await stop()),
    };
  } catch (error) {
    await stop("SIGKILL");
    throw error;
  }
}

/** Copies a folder recursively (for the "copy the lab and run it" tests). */
export async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory) await copyDir(src, dst);
    else if (entry.isFile) await Deno.copyFile(src, dst);
  }
}

/** Whether `python3` runs here (the handout's programs, for comparison tests and benchmarks). */
export async function hasPython(): Promise<boolean> {
  try {
    const out = await new Deno.Command("python3", {
      args: ["-c", "pass"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * The python3 interpreter itself (`sys.executable`), not a version manager's shim, which takes
 * about a second to start; `undefined` when there is no python3.
 *
 * @example
 * ```ts
 * const python = await pythonPath(); // "/usr/bin/python3", or undefined
 * ```
 */
export async function pythonPath(): Promise<string | undefined> {
  if (!(await hasPython())) return undefined;
  const out = await new Deno.Command("python3", {
    args: ["-c", "import sys; print(sys.executable)"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim() || "python3";
}
