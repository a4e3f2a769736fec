/**
 * One-line messages for runtime failures, and the `main()` wrapper: no user sees a stack trace.
 * @module
 */

import { UsageError } from "./cli.ts";
import { flushLog } from "./log.ts";

/** A failure the script already put in words: printed as it is. */
export class Failure extends Error {
  override name = "Failure";
}

/**
 * Describes an error in a few words, for `error: <context>: <description>`: the system's own
 * words without `(os error N)`, its first word lowercased. Ours (a {@linkcode Failure}, a
 * `UsageError`, an `IdleTimeoutError`) say it already, in lowercase.
 * @example
 * ```ts
 * describeError(new Deno.errors.ConnectionRefused("Connection refused (os error 111)"));
 * // "connection refused"
 * ```
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // AbortSignal.timeout(ms) ends a connect with a DOMException named so; an IdleTimeoutError
  // (named so) says how long.
  if (error.name === "TimedOut" || error.name === "TimeoutError") return "timed out";
  const words = error.message.replace(/\s*\(os error \d+\).*$/, "");
  // "Connection refused" reads "connection refused" after "error: ...: "; "TLS ..." stays.
  return words.replace(/^[A-Z](?=[a-z])/, (first) => first.toLowerCase());
}

/**
 * Starts a server with `start`; if `port` is taken, a {@linkcode Failure} that says what to do.
 * @example
 * ```ts
 * const listener = listening(12000, () => Deno.listen({ port: 12000 }));
 * ```
 */
export function listening<T>(port: number, start: () => T): T {
  try {
    return start();
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    const what = `port ${port} is already in use (another server, or an earlier run holding it)`;
    throw new Failure(`${what}: stop it, or pick another with -p PORT (-p 0 takes any free one)`);
  }
}

/**
 * Runs a script's main and exits with its code. An error is printed as one line, then the exit
 * code is `exitCodeFor`'s, else 1; a `UsageError` prints the usage too and exits 2.
 * @example
 * ```ts
 * if (import.meta.main) await runMain(() => Promise.resolve(0));
 * ```
 */
export async function runMain(
  main: () => Promise<number | void>,
  exitCodeFor: (error: unknown) => number | undefined = () => undefined,
): Promise<never> {
  let code: number;
  try {
    code = (await main()) ?? 0;
  } catch (error) {
    // The lines logged before the error are written before it.
    await flushLog();
    console.error(`error: ${describeError(error)}`);
    if (error instanceof UsageError && error.usage) console.error(`\n${error.usage}`);
    code = error instanceof UsageError ? 2 : exitCodeFor(error) ?? 1;
  }
  await flushLog();
  Deno.exit(code);
}
