/**
 * lab_http checks. Their client against the kit's origin (a page, a 1 MB
 * binary, a body ended by the close, a chunked body, chunked only when the
 * client asked with HTTP/1.1). Their server against raw requests: a file, a
 * 404, then the holes the handout's server has: `..` and absolute paths
 * reaching a secret planted outside the served folder (a FAIL), a symlink
 * out, a dotfile, the `//host` redirect, and the robustness checks. A
 * client template may use `{url}` (or `{host}`, `{port}`, `{remote}` for
 * the path, `{local}` for an output file); the URL is also typed on stdin,
 * followed by an empty line, for the handout's interactive client.
 *
 * @module
 */

import { join } from "node:path";
import {
  containsBytes,
  type Context,
  randomBytes,
  runClient,
  sameBytes,
  ServerUnderTest,
  startKitServer,
} from "./context.ts";
import { startOrigin } from "./http_origin.ts";
import { getRequest, httpGet, parseResponse } from "./http_probe.ts";
import type { Checks, Verdict } from "./report.ts";
import { robustnessChecks } from "./robust.ts";
import { refusedClientCause } from "./causes.ts";
import { concat, describeTalk } from "./wire.ts";
import { howItEnded, quote } from "./why.ts";

const encoder = new TextEncoder();
const PAGE = encoder.encode(
  "<!DOCTYPE html><html><head><title>Kit page</title></head><body><p>conformance page</p></body></html>\n",
);

/** Runs the HTTP checks. */
export async function checkHttp(ctx: Context, checks: Checks): Promise<void> {
  // The server first: the kit's origin closes first (a body ended by the close), so the port it
  // used keeps TIME_WAIT sockets, which a server without SO_REUSEADDR cannot bind past.
  if (ctx.server) await checkServer(ctx, checks);
  if (ctx.client) await checkClient(ctx, checks);
}

function lines(prefix: string, count: number): Uint8Array {
  return encoder.encode(
    Array.from({ length: count }, (_, i) => `${prefix} line ${i + 1} of ${count}\n`).join(""),
  );
}

async function checkClient(ctx: Context, checks: Checks): Promise<void> {
  const big = randomBytes(1024 * 1024);
  const unsized = [lines("close-delimited", 60), lines("second piece", 60)];
  const chunks = [encoder.encode("chunked "), encoder.encode("body "), lines("chunk", 120)];
  await using origin = await startKitServer(ctx, checks, (port) =>
    startOrigin(port, {
      sized: { "/page.html": PAGE, "/big.bin": big },
      unsized: { "/unsized.txt": unsized },
      chunked: { "/chunked.txt": chunks },
    }));
  const get = async (path: string, local: string) => {
    const url = `http://127.0.0.1:${origin.port}${path}`;
    const vars = { host: "127.0.0.1", port: `${origin.port}`, remote: path, url, local };
    const r = await runClient(ctx, vars, `${url}\n\n`);
    const file = await Deno.readFile(join(ctx.clientDir, local)).catch(() => undefined);
    return { r, out: file ?? r.stdout };
  };
  const expectBody = (path: string, local: string, body: Uint8Array, what: string) => async () => {
    const { r, out } = await get(path, local);
    if (containsBytes(out, body)) return ["PASS", `the whole ${what}`] as Verdict;
    return [
      "MISS",
      `asked it for ${path}; expected the ${body.length}-byte ${what} in its output or in ${local}; got ${out.length} bytes (${
        quote(new TextDecoder().decode(out.subarray(0, 200)), 40)
      }); ${howItEnded(r)}${shortBodyCause(out.length, body.length, r.stderr)}`,
    ] as Verdict;
  };
  await checks.run(
    "http.client.page",
    expectBody("/page.html", "page.html", PAGE, "page (sent with Content-Length)"),
  );
  await checks.run(
    "http.client.binary",
    expectBody("/big.bin", "big.bin", big, "binary body, byte-exact"),
  );
  await checks.run(
    "http.client.close",
    expectBody(
      "/unsized.txt",
      "unsized.txt",
      concat(unsized),
      "body (no length: it ends at the close)",
    ),
  );
  await checks.run("http.client.chunked", async () => {
    const before = origin.requests.length;
    const { r, out } = await get("/chunked.txt", "chunked.txt");
    const asked = origin.requests.slice(before).find((q) => q.target.includes("/chunked.txt"));
    const body = concat(chunks);
    if (!asked) return ["MISS", `expected a request for /chunked.txt; none came; ${howItEnded(r)}`];
    const whole = containsBytes(out, body);
    if (asked.version === "1.0") {
      const why = "it asked with HTTP/1.0, so the body came delimited by the close instead " +
        "(RFC 9112: no chunked reply to an HTTP/1.0 request)";
      return whole ? ["PASS", `${why}: whole`] : [
        "MISS",
        `${why}; expected the ${body.length}-byte body; got ${out.length} bytes; ${howItEnded(r)}${
          shortBodyCause(out.length, body.length, r.stderr)
        }`,
      ];
    }
    if (whole) return ["PASS", "the chunks joined, their sizes removed"];
    return [
      "MISS",
      `expected the ${body.length}-byte body with the chunk sizes removed; got ${out.length} bytes (${
        quote(new TextDecoder().decode(out.subarray(0, 200)), 40)
      }); ${howItEnded(r)}`,
    ];
  });
}

async function checkServer(ctx: Context, checks: Checks): Promise<void> {
  const token = (what: string) => `${what} ${crypto.randomUUID()}\n`;
  const secretName = `secret_${crypto.randomUUID().slice(0, 8)}.txt`;
  const secretPath = join(ctx.workDir, secretName);
  const secret = token("secret outside the served folder");
  const linked = token("reached through a symlink");
  const dotfile = token("dotfile");
  await Deno.writeTextFile(secretPath, secret);
  await Deno.writeTextFile(join(ctx.workDir, "outside_target.txt"), linked);
  await Deno.writeFile(join(ctx.serverDir, "page.html"), PAGE);
  await Deno.writeFile(join(ctx.serverDir, "big.bin"), randomBytes(4 * 1024 * 1024));
  await Deno.writeTextFile(join(ctx.serverDir, ".kit_dotfile"), dotfile);
  await Deno.mkdir(join(ctx.serverDir, "sub"));
  await Deno.writeTextFile(join(ctx.serverDir, "sub", "note.txt"), "a file in a subfolder\n");
  await Deno.symlink("../outside_target.txt", join(ctx.serverDir, "linked_out.txt"));

  await using sut = await ServerUnderTest.start(ctx, checks, "tcp", "http.starts");
  if (!sut) return;
  await sut.check(checks, "http.file", async (port) => {
    const r = await httpGet(port, "/page.html");
    const extra = r.status === 200 ? pageIn(r.body) : undefined;
    if (extra === "") return ["PASS", "200 and the exact page"];
    if (extra !== undefined) {
      return ["PASS", `200 and the page (then ${quote(extra)}, as the handout's skeleton sends)`];
    }
    if (r.status === 200) {
      return [
        "MISS",
        `GET /page.html; expected the ${PAGE.length}-byte page; 200 with ${r.body.length} bytes that differ`,
      ];
    }
    return [
      "MISS",
      `GET /page.html; expected 200 and the page; got ${statusText(r.status, r.talk)}`,
    ];
  });
  await sut.check(checks, "http.404", async (port) => {
    const r = await httpGet(port, "/no-such-page.html");
    return r.status === 404 ? ["PASS", "404"] : [
      "MISS",
      `GET /no-such-page.html; expected 404 for a missing file; got ${
        statusText(r.status, r.talk)
      }`,
    ];
  });

  const leaks = (probes: string[], what: string) => async (port: number) => {
    const leaked: string[] = [];
    for (const target of probes) {
      const r = await httpGet(port, target, { idleMs: 3000 });
      if (containsBytes(r.raw, encoder.encode(secret))) leaked.push(target);
    }
    if (leaked.length === 0) {
      return [
        "PASS",
        `none of ${probes.length} requests (${what}) got the secret planted outside its folder`,
      ] as [
        "PASS",
        string,
      ];
    }
    return [
      "FAIL",
      `expected no file from outside its folder; GET ${
        leaked[0]
      } returned the bytes of ${secretPath}, a file outside the folder it serves (${leaked.length} of ${probes.length} such requests did): anyone can read any file the server's user can`,
    ] as ["FAIL", string];
  };
  await sut.check(
    checks,
    "http.dotdot",
    leaks([
      `/../${secretName}`,
      `/%2e%2e/${secretName}`,
      `/..%2f${secretName}`,
      `/%2e%2e%2f${secretName}`,
      `/sub/../../${secretName}`,
    ], ".. plain, as %2e%2e, with %2f"),
  );
  await sut.check(
    checks,
    "http.absolute",
    leaks(
      [secretPath, `/${secretPath}`, `/%2f${secretPath.slice(1)}`],
      "the secret's absolute path",
    ),
  );
  await sut.check(checks, "http.symlink", async (port) => {
    const r = await httpGet(port, "/linked_out.txt");
    if (!containsBytes(r.raw, encoder.encode(linked))) {
      return [
        "PASS",
        `GET /linked_out.txt (a symlink to ../outside_target.txt): ${statusText(r.status, r.talk)}`,
      ];
    }
    return [
      "MISS",
      "expected /linked_out.txt, a symlink to a file outside its folder, refused; it served the file: a link planted in the folder exposes any file (http.server and nginx follow symlinks by default)",
    ];
  });
  await sut.check(checks, "http.dotfile", async (port) => {
    const r = await httpGet(port, "/.kit_dotfile");
    if (!containsBytes(r.raw, encoder.encode(dotfile))) {
      return ["PASS", `GET /.kit_dotfile: ${statusText(r.status, r.talk)}`];
    }
    return [
      "MISS",
      "expected /.kit_dotfile refused; it served the file: dotfiles such as .env or .git often hold secrets",
    ];
  });
  await sut.check(checks, "http.redirect", async (port) => {
    for (const target of ["//evil.example/%2e%2e", "//evil.example/%2e%2e/sub"]) {
      const r = await httpGet(port, target);
      const location = r.headers.get("location") ?? "";
      if (r.status && r.status >= 300 && r.status < 400 && offSite(location)) {
        return [
          "MISS",
          `expected no redirect to another host; GET ${target} redirected to ${
            quote(location)
          }: a browser goes to another host (CVE-2021-28861 in http.server)`,
        ];
      }
    }
    return ["PASS", "no redirect to another host for //evil.example/%2e%2e"];
  });
  await robustnessChecks(sut, checks, {
    lab: "http",
    rec: getRequest("/page.html", sut.port),
    same: (_, got) => {
      const r = parseResponse(got);
      return r.status === 200 && pageIn(r.body) !== undefined;
    },
    longRec: getRequest("/big.bin", sut.port),
    clients: 10,
  });
}

/**
 * Whether a body is the page: `""` when exactly, the white space after it
 * when followed by some (the handout's skeleton sends a CRLF after the file,
 * in a body ended by the close), `undefined` otherwise.
 */
function pageIn(body: Uint8Array): string | undefined {
  if (!sameBytes(body.subarray(0, PAGE.length), PAGE)) return undefined;
  const extra = new TextDecoder().decode(body.subarray(PAGE.length));
  return /^\s*$/.test(extra) ? extra : undefined;
}

/** The usual cause of a body that came out short: one recv() of a fixed size. */
function shortBodyCause(got: number, expected: number, stderr: string): string {
  const refused = refusedClientCause(stderr);
  if (refused) return `; ${refused}`;
  if (got === 0 || got >= expected) return "";
  return "; usual cause: one recv() taken as the whole response: a response longer than one recv() comes in pieces; read until the server closes (recv() returns b'') or until Content-Length bytes of body are in";
}

function statusText(status: number | undefined, talk: Parameters<typeof describeTalk>[0]): string {
  return status === undefined ? `no HTTP status line: ${describeTalk(talk)}` : `status ${status}`;
}

/** Whether a `Location` leads to another host. */
function offSite(location: string): boolean {
  const l = location.trim();
  if (/^(\/\/|\/\\|\\)/.test(l)) return true;
  const m = l.match(/^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i);
  return m !== null && !/^(127\.0\.0\.1|localhost)(:\d+)?$/i.test(m[1]);
}
