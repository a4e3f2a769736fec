/**
 * One-line messages for runtime failures, and the `main()` wrapper every script runs under: no
 * user ever sees a stack trace.
 * @module
 */

import { UsageError } from "./cli.ts";
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
 * Describes an error in a few words, for `error: <context>: <description>`.
 * @example
 * ```ts
 * describeError(new Deno.errors.ConnectionRefused("os error 111")); // "connection refused"
 * ```
 */
export function describeError(error: unknown): string {
  // AbortSignal.timeout(ms) ends a connect with this.
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  for (const [type, phrase] of PHRASES) {
    if (!(error instanceof type)) continue;
    // Our own TimedOut errors say how long; the OS's say "os error 110".
    if (type === Deno.errors.TimedOut && /after/.test(error.message)) return error.message;
    if (type === Deno.errors.NotCapable || type === Deno.errors.PermissionDenied) {
      // "Requires net access to "0.0.0.0:0", run again with the --allow-net flag"
      const m = error.message.match(/access to "([^"]*)".*?(--allow-\w+)/);
      if (!m) return phrase;
      return m[2] === "--allow-all"
        ? `permission denied: ${m[1]} needs --allow-all`
        : `permission denied: needs ${m[2]}=${m[1]}`;
    }
    return phrase;
  }
  if (!(error instanceof Error)) return String(error);
  if (
    /failed to lookup address|Name or service not known|nodename nor servname/i.test(error.message)
  ) {
    return "unknown host";
  }
  return error.message.replace(/\s*\(os error \d+\)$/, "");
}

/**
 * Writes `error: ...` to stderr: the message of a {@linkcode Failure} or a `UsageError` as it is,
 * any other error as {@linkcode describeError} puts it.
 * @example
 * ```ts
 * printError(new Failure("no such file"));
 * ```
 */
export function printError(error: unknown): void {
  const known = error instanceof Failure || error instanceof UsageError;
  console.error(`error: ${known ? error.message : describeError(error)}`);
}

/**
 * Runs a script's main function and exits with its code. A `UsageError` prints its usage too and
 * exits {@linkcode EXIT_USAGE}; another error the code `exitCodeFor` picks, else
 * {@linkcode EXIT_FAILURE}.
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
    printError(error);
    if (error instanceof UsageError && error.usage) console.error(`\n${error.usage}`);
    code = error instanceof UsageError ? EXIT_USAGE : exitCodeFor(error) ?? EXIT_FAILURE;
  }
  await flushLog();
  Deno.exit(code);
}
