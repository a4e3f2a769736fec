/**
 * `host:port` text in both directions, with IPv6 brackets.
 *
 * @module
 */

/**
 * Formats a host and port, bracketing IPv6 literals.
 *
 * @example
 * ```ts
 * formatHostPort("::1", 12000); // "[::1]:12000"
 * formatHostPort("127.0.0.1", 12000); // "127.0.0.1:12000"
 * ```
 */
export function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * Formats a socket address the way the handout's Python prints one: `(ip, port)`.
 *
 * @example
 * ```ts
 * formatPythonAddr({ transport: "tcp", hostname: "127.0.0.1", port: 5000 }); // "('127.0.0.1', 5000)"
 * ```
 */
export function formatPythonAddr(addr: Deno.Addr): string {
  const { hostname, port } = addr as Deno.NetAddr;
  return `('${hostname}', ${port})`;
}

/** Formats a `Deno.Addr` as `host:port`. */
export function formatAddr(addr: Deno.Addr): string {
  const { hostname, port } = addr as Deno.NetAddr;
  return formatHostPort(hostname, port);
}

/** A host and port parsed from text. */
export interface HostPort {
  hostname: string;
  port: number;
}

/**
 * Splits `host:port`, `[v6]:port` and, when `rest` is true, `host:port:rest`
 * (the rest may itself contain `:`). Returns `undefined` for malformed text;
 * the port is not range-checked here.
 *
 * @example
 * ```ts
 * splitHostPort("[::1]:12000:notes.txt", true);
 * // { hostname: "::1", port: 12000, rest: "notes.txt" }
 * ```
 */
export function splitHostPort(
  text: string,
  rest = false,
): (HostPort & { rest?: string }) | undefined {
  const m = text.match(
    rest
      ? /^(?:\[([0-9A-Fa-f:.%\w]+)\]|([^:[\]]+)):(\d{1,5}):(.*)$/s
      : /^(?:\[([0-9A-Fa-f:.%\w]+)\]|([^:[\]]+)):(\d{1,5})$/,
  );
  if (!m) return undefined;
  const hostname = m[1] ?? m[2];
  const result: HostPort & { rest?: string } = { hostname, port: Number(m[3]) };
  if (rest) result.rest = m[4];
  return result;
}
