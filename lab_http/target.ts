/**
 * The request target (path and query) of a request, and its `Host` header.
 *
 * The path comes from the request line only, never from `Host`: a server
 * that builds a URL from `Host` and the target (as `Deno.serve`'s
 * `req.url`) lets `Host: x/docs` turn `GET /a.txt` into `/docs/a.txt`. A
 * `Host` must still be a valid `host[:port]` (RFC 9110 7.2: a reg-name, an
 * IPv4 address or an `[IPv6]` literal, and a port up to 65535), else the
 * request gets 400, as RFC 9112 3.2 asks.
 *
 * @module
 */

/** RFC 3986 reg-name (which also covers IPv4 addresses), then an optional port. */
const HOST = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*(?::(\d{1,5}))?$/;
/** An IP literal, then an optional port. */
const IP_LITERAL = /^(\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;

let lastValid = "";

/**
 * Whether a `Host` header value is a valid `host[:port]`. An empty value is
 * not: it names no host, which an `http` URL always has (nginx: 400).
 *
 * @example
 * ```ts
 * isValidHost("example.org:8080"); // true
 * isValidHost("[::1]:8080"); // true
 * isValidHost("x/docs"); // false
 * isValidHost("x:99999"); // false
 * ```
 */
export function isValidHost(host: string): boolean {
  // Every request of a connection, and most of a server's, carry the same Host.
  if (host === lastValid) return true;
  if (host === "") return false;
  let port: string | undefined;
  const literal = host.match(IP_LITERAL);
  if (literal) {
    // The URL parser knows every IPv6 spelling (groups, "::", an IPv4 tail).
    if (!URL.canParse(`http://${literal[1]}/`)) return false;
    port = literal[2];
  } else {
    const m = host.match(HOST);
    if (!m) return false;
    port = m[1];
  }
  if (port !== undefined && Number(port) > 65535) return false;
  lastValid = host;
  return true;
}

/**
 * The path and query of a request target: the origin form (`/a.txt?x=1`) as
 * it is, the absolute form (`http://host/a.txt?x=1`, what a proxy receives)
 * without its scheme and authority; a fragment (`#...`, which a client must
 * not send, but some do) dropped, as nginx and Python's server drop it.
 *
 * @example
 * ```ts
 * originForm("/a.txt?x=1"); // "/a.txt?x=1"
 * originForm("http://example.org/a.txt?x=1"); // "/a.txt?x=1"
 * originForm("http://example.org"); // "/"
 * originForm("/a.txt#top"); // "/a.txt"
 * ```
 */
export function originForm(target: string): string {
  const fragment = target.indexOf("#");
  if (fragment >= 0) target = target.slice(0, fragment);
  if (target.startsWith("/")) return target;
  // The authority ends at the first "/", "?" or "#".
  for (let i = target.indexOf("//") + 2; i < target.length; i++) {
    const c = target[i];
    if (c === "/") return target.slice(i);
    if (c === "?" || c === "#") return "/" + target.slice(i);
  }
  return "/";
}
