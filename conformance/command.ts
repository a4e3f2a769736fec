/**
 * Running the implementation under test: command templates with
 * placeholders, split like a shell would (quotes, no globbing), run with a
 * working folder, a time limit, and stdin.
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

/** Fills `{name}` placeholders; unknown ones are left as they are. */
export function fill(word: string, vars: Vars): string {
  return word.replace(/\{(\w+)\}/g, (m, name) => vars[name] ?? m);
}

/**
 * Turns a template into argv: placeholders filled, and words that name an
 * existing file relative to where the kit was started made absolute (the
 * command itself runs in a temporary folder).
 */
export function prepare(template: string, vars: Vars, base = Deno.cwd()): string[] {
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

/** What a finished command did. */
export interface CommandResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
  /** Killed at the time limit. */
  timedOut: boolean;
  text: string;
}

/** Runs a command to completion (or the time limit), feeding `stdin`. */
export async function runCommand(
  argv: string[],
  options: { cwd: string; stdin?: string; timeoutMs: number },
): Promise<CommandResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: options.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    return {
      code: 127,
      stdout: new Uint8Array(),
      stderr: String(error),
      timedOut: false,
      text: "",
    };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, options.timeoutMs);
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(options.stdin ?? "")).catch(() => {});
  // Keyboard input ends here, as when a user presses Ctrl+D.
  await writer.close().catch(() => {});
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    return {
      code: out.code,
      stdout: out.stdout,
      stderr: new TextDecoder().decode(out.stderr),
      timedOut,
      text,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A long-running command (a server under test). */
export interface Running extends AsyncDisposable {
  /** Whether it has exited, and how. */
  exited(): Deno.CommandStatus | undefined;
  /** Resolves when it exits. */
  status: Promise<Deno.CommandStatus>;
  stop(): Promise<void>;
}

/** Starts a command in the background; its output is drained and dropped. */
export function startCommand(argv: string[], options: { cwd: string }): Running {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let done: Deno.CommandStatus | undefined;
  const drain = (s: ReadableStream<Uint8Array>) => s.pipeTo(new WritableStream()).catch(() => {});
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const status = child.status.then((s) => (done = s));
  const stop = async () => {
    if (!done) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await status;
    await drained;
  };
  return { exited: () => done, status, stop, [Symbol.asyncDispose]: stop };
}

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
): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end && !server.exited()) {
    try {
      if (transport === "tcp") Deno.listen({ hostname: "127.0.0.1", port }).close();
      else Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        // Bound; give a just-started server a moment to reach accept().
        await new Promise((r) => setTimeout(r, 100));
        return true;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
