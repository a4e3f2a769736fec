/**
 * Addresses as text: `host:port` with IPv6 brackets, or the handout's Python `(ip, port)`.
 * @module
 */

/**
 * Formats an address as `host:port`, bracketing IPv6 literals, or with `"python"` the way the
 * handout's Python prints one.
 * @example
 * ```ts
 * formatAddr({ hostname: "::1", port: 12000 }); // "[::1]:12000"
 * formatAddr({ hostname: "127.0.0.1", port: 5000 }, "python"); // "('127.0.0.1', 5000)"
 * ```
 */
export function formatAddr(addr: { hostname: string; port: number }, style?: "python"): string {
  const { hostname, port } = addr;
  if (style === "python") return `('${hostname}', ${port})`;
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}
