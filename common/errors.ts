/**
 * One-line messages for runtime failures, and the `main()` wrapper every
 * script runs under: usage errors exit 2, runtime failures exit 1, and no
 * user ever sees a stack trace.
 *
 * @module
 */

import { UsageError } from "./cli.ts";
import { flushLog } from "./log.ts";

/** A failure the script already described in words: printed as is, exit 1 (or `exitCode`). */
export class Failure extends Error {
  override name = "Failure";
  /** The process exit code (default 1). */
  exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
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
 *
 * @example
 * ```ts
 * describeError(new Deno.errors.ConnectionRefused("os error 111")); // "connection refused"
 * ```
 */
export function describeError(error: unknown): string {
  for (const [type, phrase] of PHRASES) {
    if (error instanceof type) {
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
  }
  if (error instanceof Error) {
    if (
      /failed to lookup address|Name or service not known|nodename nor servname/i.test(
        error.message,
      )
    ) {
      return "unknown host";
    }
    return error.message.replace(/\s*\(os error \d+\)$/, "");
  }
  return String(error);
}

/** Writes one line to stderr. */
export function printError(message: string): void {
  console.error(`error: ${message}`);
}

/**
 * Runs a script's main function: `UsageError` gives `error: ...` plus usage
 * and exit 2; `Failure` and any other error give one line and exit 1.
 *
 * @example
 * ```ts
 * if (import.meta.main) await runMain(async () => { ... });
 * ```
 */
export async function runMain(main: () => Promise<number | void>): Promise<never> {
  let code: number;
  try {
    code = (await main()) ?? 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      if (error.usage) console.error(`\n${error.usage}`);
      code = 2;
    } else if (error instanceof Failure) {
      printError(error.message);
      code = error.exitCode;
    } else {
      printError(describeError(error));
      code = 1;
    }
  }
  flushLog();
  Deno.exit(code);
}
