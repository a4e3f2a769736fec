/**
 * Running the implementation under test: command templates with
 * placeholders, split like a shell would (quotes, no globbing), run with a
 * working folder, a time limit, and stdin. Whatever a program prints on
 * stderr is kept (its last lines), so a report can say why it failed.
 *
 * @module
 */

import { resolve } from "node:path";

/** Values for `{host}`, `{port}`, `{remote}`, `{local}` and the kit's extras. */
export type Vars = Record<string, string>;

/**
 * Splits a command line into words: whitespace separates, '...' and "..."
 * quote, a backslash escapes the next character.
 *
 * @example
 * ```ts
 * splitCommand(`python3 "my server.py" {port}`); // ["python3", "my server.py", "{port}"]
 * ```
 */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} in command: ${line}`);
  if (inWord) words.push(word);
  return words;
}

const PLACEHOLDER = /\{(\w+)\}/g;

/**
 * The placeholder names a template uses.
 *
 * @example
 * ```ts
 * placeholders("python3 client.py {host} {port}"); // Set {"host", "port"}
 * ```
 */
export function placeholders(template: string): Set<string> {
  return new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]));
}

/**
 * Fills `{name}` placeholders; unknown ones are left as they are.
 *
 * @example
 * ```ts
 * fill("{host}:{port}", { host: "127.0.0.1", port: "8080" }); // "127.0.0.1:8080"
 * ```
 */
export function fill(word: string, vars: Vars): string {
  return word.replace(PLACEHOLDER, (m, name) => vars[name] ?? m);
}

/**
 * Turns a template into argv: placeholders filled, and words that name an
 * existing file relative to `base` (where the user ran the kit) made
 * absolute, since the command itself runs in a temporary folder.
 *
 * @example
 * ```ts
 * prepare("python3 server.py {port}", { port: "12000" }, "/course"); // [..., "12000"]
 * ```
 */
export function prepare(template: string, vars: Vars, base: string): string[] {
  const words = splitCommand(template).map((w) => fill(w, vars));
  if (words.length === 0) throw new Error("empty command");
  return words.map((w) => {
    if (w.startsWith("-") || w.includes("{")) return w;
    try {
      const abs = resolve(base, w);
      if ((w.includes("/") || w.includes(".")) && Deno.statSync(abs).isFile) return abs;
    } catch {
      // Not a file here: a plain word.
    }
    return w;
  });
}

// Words that look like a program's own file, for a hint when it cannot be found.
const PROGRAM_FILE = /(^\.{1,2}\/|\.(py|js|mjs|cjs|ts|rb|pl|sh|jar|class|exe)$)/;

/**
 * Words of a template that look like a program file but name none under
 * `base`: the usual reason a program exits at once.
 *
 * @example
 * ```ts
 * missingFiles("python3 server.py {port}", {}, "/tmp"); // ["server.py"] if there is none
 * ```
 */
export function missingFiles(template: string, vars: Vars, base: string): string[] {
  return splitCommand(template).map((w) => fill(w, vars)).filter((w) => {
    if (w.startsWith("-") || w.includes("{") || !PROGRAM_FILE.test(w)) return false;
    try {
      return !Deno.statSync(resolve(base, w)).isFile;
    } catch {
      return true;
    }
  });
}

/** What a finished command did. */
export interface CommandResult {
  code: number;
  stdout: Uint8Array;
  /** Its stdout as text. */
  text: string;
  stderr: string;
  /** Killed by the kit: at the time limit, or stopped early (see `stopReason`). */
  killed: boolean;
  /** Killed at the time limit. */
  timedOut: boolean;
  /** Why the kit stopped it early, if it did. */
  stopReason?: string;
  /** The time limit it ran under. */
  limitMs: number;
}

/** Options for {@linkcode runCommand}. */
export interface RunCommandOptions {
  cwd: string;
  /** Typed on stdin, which is then closed (Ctrl+D). */
  stdin?: string;
  timeoutMs: number;
  /** Kills the command early; `signal.reason` (a string) says why. */
  signal?: AbortSignal;
}

const decoder = new TextDecoder();

/** Runs a command to completion (or the time limit), feeding `stdin`. */
export async function runCommand(
  argv: string[],
  options: RunCommandOptions,
): Promise<CommandResult> {
  let child: Deno.ChildProcess;
  const base = { stdout: new Uint8Array(), text: "", killed: false, timedOut: false };
  try {
    child = spawn(argv, options.cwd, "piped");
  } catch (error) {
    return { ...base, code: 127, stderr: spawnError(argv[0], error), limitMs: options.timeoutMs };
  }
  let timedOut = false;
  let stopReason: string | undefined;
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  const onAbort = () => {
    stopReason = String(options.signal?.reason ?? "stopped by the kit");
    kill();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(options.stdin ?? "")).catch(() => {});
  // Keyboard input ends here, as when a user presses Ctrl+D.
  await writer.close().catch(() => {});
  try {
    const out = await child.output();
    return {
      code: out.code,
      stdout: out.stdout,
      text: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      killed: timedOut || stopReason !== undefined,
      timedOut,
      stopReason,
      limitMs: options.timeoutMs,
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** Starts `argv` in `cwd` with its output piped. */
function spawn(argv: string[], cwd: string, stdin: "piped" | "null"): Deno.ChildProcess {
  const [program, ...args] = argv;
  return new Deno.Command(program, { args, cwd, stdin, stdout: "piped", stderr: "piped" }).spawn();
}

function spawnError(program: string, error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return `cannot run '${program}': no such program`;
  if (error instanceof Deno.errors.PermissionDenied) {
    return `cannot run '${program}': permission denied`;
  }
  return `cannot run '${program}': ${error instanceof Error ? error.message : error}`;
}

/** How much of a background program's stderr and stdout is kept. */
const TAIL_CHARS = 4096;

/** A long-running command (a server under test). */
export interface Running extends AsyncDisposable {
  /** Whether it has exited, and how. */
  exited(): Deno.CommandStatus | undefined;
  /** Whether the kit killed it. */
  killedByKit(): boolean;
  /** The end of what it printed on stderr (and stdout), as far as read. */
  stderrTail(): string;
  stdoutTail(): string;
  /** Resolves when it exits. */
  status: Promise<Deno.CommandStatus>;
  stop(): Promise<void>;
}

/** Starts a command in the background; the ends of its stdout and stderr are kept. */
export function startCommand(argv: string[], options: { cwd: string }): Running {
  let child: Deno.ChildProcess;
  try {
    child = spawn(argv, options.cwd, "null");
  } catch (error) {
    const status = { success: false, code: 127, signal: null };
    const message = spawnError(argv[0], error);
    return {
      exited: () => status,
      killedByKit: () => false,
      stderrTail: () => message,
      stdoutTail: () => "",
      status: Promise.resolve(status),
      stop: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  let done: Deno.CommandStatus | undefined;
  let killed = false;
  const tails = { out: "", err: "" };
  const keep = async (s: ReadableStream<Uint8Array>, key: "out" | "err") => {
    try {
      for await (const text of s.pipeThrough(new TextDecoderStream())) {
        tails[key] = (tails[key] + text).slice(-TAIL_CHARS);
      }
    } catch {
      // The pipe broke: what was read is kept.
    }
  };
  const drained = Promise.all([keep(child.stdout, "out"), keep(child.stderr, "err")]);
  const status = child.status.then((s) => (done = s));
  const stop = async () => {
    if (!done) {
      killed = true;
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await status;
    await drained;
  };
  return {
    exited: () => done,
    killedByKit: () => killed,
    stderrTail: () => tails.err,
    stdoutTail: () => tails.out,
    status,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** How a wait for a server's port ended. */
export type BindOutcome = "bound" | "exited" | "timeout";

/**
 * Waits until the server has bound `port`, or exits, or time runs out. It
 * probes by trying to bind the port itself, never by connecting: an empty
 * connection would count as a client and could crash a naive server.
 */
export async function waitForBound(
  port: number,
  transport: "tcp" | "udp",
  server: Running,
  timeoutMs: number,
): Promise<BindOutcome> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (server.exited()) return "exited";
    if (!portFree(port, transport)) {
      // Bound; give a just-started server a moment to reach accept().
      await new Promise((r) => setTimeout(r, 100));
      return server.exited() ? "exited" : "bound";
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return server.exited() ? "exited" : "timeout";
}

/** Whether nothing has bound `port` on loopback (for `transport`). */
export function portFree(port: number, transport: "tcp" | "udp"): boolean {
  try {
    if (transport === "tcp") Deno.listen({ hostname: "127.0.0.1", port }).close();
    else Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}
