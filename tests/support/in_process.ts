/**
 * A lab server started in the test's own process, with its log lines kept
 * for assertions and `await using` to stop it.
 *
 * @module
 */

/** What the labs' `serveX()` functions return. */
export interface LabServer {
  addr: Deno.NetAddr;
  close(): void;
  finished: Promise<void>;
}

/** A started server, its port and its log. */
export interface InProcess<S extends LabServer> extends AsyncDisposable {
  server: S;
  port: number;
  log: string[];
}

/**
 * Starts a server through `start`, which receives the log function to pass on.
 *
 * @example
 * ```ts
 * import { serveEcho } from "../../lab1_echo/server.ts";
 * await using s = inProcess((log) => serveEcho({ hostname: "127.0.0.1", port: 0, log }));
 * ```
 */
export function inProcess<S extends LabServer>(
  start: (log: (line: string) => void) => S,
): InProcess<S> {
  const log: string[] = [];
  const server = start((line) => log.push(line));
  return {
    server,
    log,
    port: server.addr.port,
    [Symbol.asyncDispose]: async () => {
      server.close();
      await server.finished;
    },
  };
}
