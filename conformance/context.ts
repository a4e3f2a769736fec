/**
 * What every lab's checks get: the commands under test, the time limit, and
 * temporary folders for the server and the client.
 *
 * @module
 */

import {
  type CommandResult,
  prepare,
  runCommand,
  type Running,
  startCommand,
  type Vars,
  waitForBound,
} from "./command.ts";
import type { Checks } from "./report.ts";
import { freePort } from "../harness/free_port.ts";

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
  /** The server's working folder (holds the test files). */
  serverDir: string;
  /** The client's working folder (where its output files are looked for). */
  clientDir: string;
}

/** Runs their client to completion. */
export function runClient(
  ctx: Context,
  vars: Vars,
  stdin: string,
  timeoutMs = ctx.timeoutMs,
): Promise<CommandResult> {
  return runCommand(prepare(ctx.client!, vars, ctx.base), { cwd: ctx.clientDir, stdin, timeoutMs });
}

/** Starts their server. */
export function startServer(ctx: Context, vars: Vars): Running {
  return startCommand(prepare(ctx.server!, vars, ctx.base), { cwd: ctx.serverDir });
}

/**
 * Starts their server on a free port and waits until it has bound it,
 * recording the "server starts" check. Returns `undefined` (server stopped)
 * when it never binds.
 */
export async function startServerOnFreePort(
  ctx: Context,
  checks: Checks,
  transport: "tcp" | "udp",
): Promise<{ server: Running; port: number } | undefined> {
  const port = freePort();
  const server = startServer(ctx, { host: "127.0.0.1", port: `${port}` });
  if (await waitForBound(port, transport, server, 10_000)) {
    checks.add("server starts", "PASS", `${transport.toUpperCase()} port ${port} bound`);
    return { server, port };
  }
  await server.stop();
  const why = server.exited()
    ? `it exited with code ${server.exited()!.code}`
    : "is {port} in the command?";
  checks.add(
    "server starts",
    "FAIL",
    `${transport.toUpperCase()} port ${port} not bound within 10 s: ${why}`,
  );
  return undefined;
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

/** A short quote of output for a reason line. */
export function quote(text: string, max = 60): string {
  const t = JSON.stringify(text.length > max ? text.slice(0, max) + "..." : text);
  return t;
}
