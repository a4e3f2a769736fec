/**
 * Addresses as text: `host:port` with IPv6 brackets, and the handout's Python `(ip, port)`.
 * @module
 */

/**
 * Formats a host and port, bracketing IPv6 literals.
 * @example
 * ```ts
 * formatHostPort("::1", 12000); // "[::1]:12000"
 * ```
 */
export function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * Formats a socket address as `host:port`.
 * @example
 * ```ts
 * formatAddr({ transport: "tcp", hostname: "127.0.0.1", port: 5000 }); // "127.0.0.1:5000"
 * ```
 */
export function formatAddr(addr: Deno.Addr): string {
  const { hostname, port } = addr as Deno.NetAddr;
  return formatHostPort(hostname, port);
}

/**
 * Formats a socket address the way the handout's Python prints one.
 * @example
 * ```ts
 * formatPythonAddr({ transport: "tcp", hostname: "127.0.0.1", port: 5000 }); // "('127.0.0.1', 5000)"
 * ```
 */
export function formatPythonAddr(addr: Deno.Addr): string {
  const { hostname, port } = addr as Deno.NetAddr;
  return `('${hostname}', ${port})`;
}
