/**
 * Running the implementation under test: command templates with
 * placeholders, split like a shell would (quotes, no globbing), run with a
 * working folder, a time limit, and stdin. Whatever a program prints on
 * stderr is kept (its last lines), so a report can say why it failed.
 *
 * @module
 */

import { resolve } from "node:path";
import { hasProcNet, listeners, socketInodes } from "./net.ts";

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
  /** How long it ran. */
  ms: number;
}

/** Options for {@linkcode runCommand}. */
export interface RunCommandOptions {
  cwd: string;
  /** Typed on stdin, which is then closed (Ctrl+D). */
  stdin?: string;
  timeoutMs: number;
  /** Kills the command early; `signal.reason` (a string) says why. */
  signal?: AbortSignal;
  /** Told its pid (its process group's id) once it runs. */
  onSpawn?: (pid: number) => void;
}

const decoder = new TextDecoder();

/**
 * Kills a program and everything it started: each program runs in a
 * process group of its own (`detached`), so a `sh -c` wrapper's python,
 * or a server's forked child, goes with it.
 */
function killGroup(pid: number): void {
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch {
    // The whole group is gone already.
  }
}

/** Reads a stream to its end. */
async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      parts.push(chunk);
      size += chunk.length;
    }
  } catch {
    // The pipe broke: what was read is kept.
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Runs a command to completion (or the time limit), feeding `stdin`. When
 * it exits, whatever it left running in its process group is killed, so
 * its pipes close and nothing it started outlives it.
 */
export async function runCommand(
  argv: string[],
  options: RunCommandOptions,
): Promise<CommandResult> {
  let child: Deno.ChildProcess;
  const started = performance.now();
  const base = { stdout: new Uint8Array(), text: "", killed: false, timedOut: false, ms: 0 };
  try {
    child = spawn(argv, options.cwd, "piped");
  } catch (error) {
    return { ...base, code: 127, stderr: spawnError(argv[0], error), limitMs: options.timeoutMs };
  }
  options.onSpawn?.(child.pid);
  let timedOut = false;
  let stopReason: string | undefined;
  const kill = () => killGroup(child.pid);
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  const onAbort = () => {
    stopReason = String(options.signal?.reason ?? "stopped by the kit");
    kill();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(options.stdin ?? "")).catch(() => {});
  // Keyboard input ends here, as when a user presses Ctrl+D.
  await writer.close().catch(() => {});
  try {
    const status = await child.status;
    const ms = performance.now() - started;
    // Anything it left behind holds the pipes open: it goes too.
    kill();
    const [stdout, stderr] = await Promise.all([out, err]);
    return {
      code: status.code,
      stdout,
      text: decoder.decode(stdout),
      stderr: decoder.decode(stderr),
      killed: timedOut || stopReason !== undefined,
      timedOut,
      stopReason,
      limitMs: options.timeoutMs,
      ms,
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** Starts `argv` in `cwd` with its output piped, in a process group of its own. */
function spawn(argv: string[], cwd: string, stdin: "piped" | "null"): Deno.ChildProcess {
  const [program, ...args] = argv;
  return new Deno.Command(program, {
    args,
    cwd,
    stdin,
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
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
  /** Its pid, which is also its process group's id (0 if it never started). */
  pid: number;
  /** Whether it has exited, and how. */
  exited(): Deno.CommandStatus | undefined;
  /** When it exited (`performance.now()`), if it has. */
  exitedAt(): number | undefined;
  /** Whether the kit killed it. */
  killedByKit(): boolean;
  /** The end of what it printed on stderr (and stdout), as far as read. */
  stderrTail(): string;
  stdoutTail(): string;
  /** Resolves when it exits. */
  status: Promise<Deno.CommandStatus>;
  /** Kills its whole process group and waits for it and its pipes. */
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
    const at = performance.now();
    return {
      pid: 0,
      exited: () => status,
      exitedAt: () => at,
      killedByKit: () => false,
      stderrTail: () => message,
      stdoutTail: () => "",
      status: Promise.resolve(status),
      stop: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  let done: Deno.CommandStatus | undefined;
  let doneAt: number | undefined;
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
  const status = child.status.then((s) => {
    doneAt = performance.now();
    return (done = s);
  });
  const stop = async () => {
    if (!done) killed = true;
    // Also when it exited by itself: a child it started may still hold the port and the pipes.
    killGroup(child.pid);
    await status;
    await drained;
  };
  return {
    pid: child.pid,
    exited: () => done,
    exitedAt: () => doneAt,
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the server listens on `port`, or exits, or time runs out.
 * Where the kernel's socket table can be read, "listens" is a LISTEN row
 * (for UDP: a bound socket) held by the server's own process group, polled
 * every 10 ms: no socket of the kit's touches the port, and a TIME_WAIT
 * left on it, or another program's socket, is not taken for the server.
 * Elsewhere the kit tries to bind the port itself, never connecting: an
 * empty connection would count as a client and could crash a naive server.
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
    if (hasProcNet) {
      const rows = listeners(port, transport) ?? [];
      if (rows.length > 0) {
        const mine = socketInodes(server.pid);
        if (rows.some((r) => mine.has(r.inode))) return server.exited() ? "exited" : "bound";
      }
      await sleep(10);
      continue;
    }
    if (!portFree(port, transport)) {
      // Bound; give a just-started server a moment to reach accept().
      await sleep(100);
      return server.exited() ? "exited" : "bound";
    }
    await sleep(50);
  }
  return server.exited() ? "exited" : "timeout";
}

/**
 * Whether nothing has bound `port` on loopback (for `transport`), tried by
 * binding it: a TIME_WAIT socket on it makes this false too.
 */
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
