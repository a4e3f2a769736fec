/**
 * One-line messages for runtime failures, and the `main()` wrapper: no user sees a stack trace.
 * @module
 */

import { UsageError } from "./cli.ts";
import { IdleTimeoutError } from "./io.ts";
import { flushLog } from "./log.ts";

/** Exit code of a runtime failure (refused, timed out, not found), and of bad arguments. */
export const EXIT_FAILURE = 1, EXIT_USAGE = 2;

/** A failure the script already put in words: printed as it is. */
export class Failure extends Error {
  override name = "Failure";
}

const PHRASES: [new (...args: never[]) => Error, string][] = [
  [Deno.errors.ConnectionRefused, "connection refused"],
  [Deno.errors.TimedOut, "timed out"],
  [Deno.errors.AddrInUse, "address already in use"],
  [Deno.errors.AddrNotAvailable, "address not available"],
  [Deno.errors.PermissionDenied, "permission denied"],
  [Deno.errors.NotCapable, "permission denied"],
  [Deno.errors.NotFound, "not found"],
  [Deno.errors.ConnectionReset, "connection reset by peer"],
  [Deno.errors.ConnectionAborted, "connection aborted"],
  [Deno.errors.BrokenPipe, "broken pipe (the peer closed the connection)"],
  [Deno.errors.UnexpectedEof, "connection closed unexpectedly"],
];

/**
 * Describes an error in a few words, for `error: <context>: <description>`. Ours say it already:
 * a {@linkcode Failure}, a `UsageError`, an `IdleTimeoutError` (how long) are given as they are.
 * @example
 * ```ts
 * describeError(new Deno.errors.ConnectionRefused("os error 111")); // "connection refused"
 * ```
 */
export function describeError(error: unknown): string {
  const ours = [Failure, UsageError, IdleTimeoutError].some((type) => error instanceof type);
  if (ours) return (error as Error).message;
  // AbortSignal.timeout(ms) ends a connect with this.
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  if (!(error instanceof Error)) return String(error);
  const phrase = PHRASES.find(([type]) => error instanceof type)?.[1];
  // "Requires net access to "0.0.0.0:0", run again with the --allow-net flag"
  const [, what, flag] = error.message.match(/access to "([^"]*)".*?(--allow-\w+)/) ?? [];
  if (phrase === "permission denied" && flag) {
    return flag === "--allow-all"
      ? `permission denied: ${what} needs --allow-all`
      : `permission denied: needs ${flag}=${what}`;
  }
  if (phrase) return phrase;
  const lookup = /failed to lookup address|Name or service not known|nodename nor servname/i;
  if (lookup.test(error.message)) return "unknown host";
  return error.message.replace(/\s*\(os error \d+\)$/, "");
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
    throw new Failure(
      `port ${port} is already in use (another server, or an earlier run still holding it): ` +
        "stop it, or pick another port with -p PORT (-p 0 takes any free one)",
    );
  }
}

/**
 * Runs a script's main and exits with its code. An error is printed as one line, then the exit
 * code is `exitCodeFor`'s, else {@linkcode EXIT_FAILURE}; a `UsageError` prints the usage too and
 * exits {@linkcode EXIT_USAGE}.
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
    console.error(`error: ${describeError(error)}`);
    if (error instanceof UsageError && error.usage) console.error(`\n${error.usage}`);
    code = error instanceof UsageError ? EXIT_USAGE : exitCodeFor(error) ?? EXIT_FAILURE;
  }
  await flushLog();
  Deno.exit(code);
}
