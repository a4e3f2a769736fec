/**
 * The request target (path and query) of a request `Deno.serve` received,
 * taken so that the `Host` header cannot change it.
 *
 * `Deno.serve` gives no request line, only `req.url`, which it builds as
 * `http://` + authority + target, the authority being the `Host` header
 * copied as sent. `Host: x/docs` made `GET /a.txt` read as `/docs/a.txt`,
 * `Host: x#` turned the whole path into a fragment. So a `Host` must be a
 * valid `host[:port]` (RFC 9110 7.2: a reg-name, an IPv4 address or an
 * `[IPv6]` literal, and a port up to 65535), else the request gets 400; a
 * valid one holds no `/`, `?` or `#`, so what follows it in `req.url` is
 * the target the client sent.
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
 * valid (the request then names no host).
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
 * The request target in `url` (a `Request.url` from `Deno.serve`), given the
 * request's `Host` header. With a valid or absent `Host` this is exactly the
 * target sent (an absolute-form target, `GET http://host/path`, gives its
 * path and query); with an invalid one, the best reading for the log.
 *
 * @example
 * ```ts
 * targetOf("http://example.org/a.txt?x=1", "example.org"); // "/a.txt?x=1"
 * targetOf("http://x/docs/a.txt", "x/docs"); // "/a.txt"
 * ```
 */
export function targetOf(url: string, host: string | null): string {
  const start = url.indexOf("//") + 2;
  // The usual case: the authority is the Host header as sent.
  if (host && url.startsWith(host, start) && url.charCodeAt(start + host.length) === 47) {
    return url.slice(start + host.length);
  }
  // No Host (the server's own address stands in), or the absolute form:
  // the authority ends at the first "/", "?" or "#".
  for (let i = start; i < url.length; i++) {
    const c = url[i];
    if (c === "/") return url.slice(i);
    if (c === "?" || c === "#") return "/" + url.slice(i);
  }
  return "/";
}
