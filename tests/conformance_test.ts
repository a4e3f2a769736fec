import assert from "node:assert/strict";
import { runConformance } from "../conformance/main.ts";
import type { Report } from "../conformance/report.ts";
import { hasPython, runScript, script } from "../harness/process.ts";

const deno = (flags: string, file: string, args: string) =>
  `"${Deno.execPath()}" run --quiet ${flags} "${script(file)}" ${args}`;
const fixture = (name: string, args: string) => deno("-A", `tests/fixtures/broken/${name}`, args);

const OURS = {
  lab1_echo: {
    server: deno("--allow-net", "lab1_echo/server.ts", "-p {port}"),
    client: deno("--allow-net", "lab1_echo/client.ts", "-a {host} -p {port}"),
  },
  lab2_sum: {
    server: deno("--allow-net", "lab2_sum/server.ts", "-p {port}"),
    // Ours refuses an out-of-range number at the prompt; as a flag it is sent (that is how it stops the server).
    client: deno(
      "--allow-net",
      "lab2_sum/client.ts",
      "-a {host} -p {port} --name {name} --number {number}",
    ),
  },
  lab3_file: {
    server: deno("--allow-net --allow-read=.", "lab3_file/server.ts", "{port}"),
    client: deno(
      "--allow-net --allow-read=. --allow-write=.",
      "lab3_file/client.ts",
      "{host}:{port}:{remote} {local}",
    ),
  },
  lab_udp: {
    server: deno("--unstable-net --allow-net", "lab_udp/server.ts", "-p {port}"),
    client: deno("--unstable-net --allow-net", "lab_udp/client.ts", "-a {host} -p {port}"),
  },
  lab_http: {
    server: deno("--allow-net --allow-read=.", "lab_http/server.ts", "{port}"),
    client: deno(
      "--allow-net --allow-read=. --allow-write=.",
      "lab_http/client.ts",
      "{url} -o {local}",
    ),
  },
};

function statusOf(report: Report, check: string): string | undefined {
  return report.checks.find((c) => c.name === check)?.status;
}

function describe(report: Report): string {
  return report.checks.map((c) => `${c.status} ${c.name}: ${c.reason}`).join("\n");
}

for (const [lab, roles] of Object.entries(OURS)) {
  Deno.test(`conformance: our ${lab} passes every check`, async () => {
    const report = await runConformance(lab, { ...roles, timeoutMs: 60_000 });
    assert.ok(report.checks.length >= 3, describe(report));
    assert.deepEqual(
      report.summary,
      { pass: report.checks.length, fail: 0, warn: 0 },
      describe(report),
    );
  });
}

Deno.test("conformance catches an echo server that reads once", async () => {
  const report = await runConformance("lab1_echo", {
    server: fixture("echo_read_once_server.ts", "{port}"),
  });
  assert.equal(statusOf(report, "upper-case reply"), "PASS", describe(report));
  assert.equal(statusOf(report, "64 KB sentence"), "FAIL");
  assert.equal(statusOf(report, "sentence in 1-byte segments"), "FAIL");
  assert.notEqual(statusOf(report, "20 concurrent clients"), "PASS");
});

Deno.test("conformance catches a file client that stops after its first read", async () => {
  const report = await runConformance("lab3_file", {
    server: OURS.lab3_file.server,
    client: fixture("file_client_first_read.ts", "{host}:{port}:{remote} {local}"),
  });
  // Its first read holds little more than the "OK <size>" line: every non-empty file comes out wrong.
  assert.equal(statusOf(report, "20 MB file"), "FAIL", describe(report));
  assert.equal(statusOf(report, "binary file (second client)"), "FAIL");
  assert.equal(statusOf(report, "missing remote file"), "PASS");
});

Deno.test("conformance catches a file server that serves one client and exits", async () => {
  const report = await runConformance("lab3_file", {
    server: fixture("file_server_one_client.ts", "{port}"),
    client: OURS.lab3_file.client,
    timeoutMs: 10_000,
  });
  assert.equal(statusOf(report, "text file (first client)"), "PASS", describe(report));
  assert.equal(statusOf(report, "binary file (second client)"), "FAIL");
  assert.equal(statusOf(report, "empty file (third client)"), "FAIL");
});

Deno.test("conformance warns about a UDP client with no timeout", async () => {
  const report = await runConformance("lab_udp", {
    client: fixture("udp_client_no_timeout.ts", "{host} {port}"),
    timeoutMs: 3000,
  });
  assert.equal(statusOf(report, "client: reply printed"), "PASS", describe(report));
  assert.equal(statusOf(report, "client: gives up when no server answers"), "WARN");
  assert.equal(report.summary.fail, 0);
});

Deno.test("conformance catches an HTTP client that reads one chunk", async () => {
  const report = await runConformance("lab_http", {
    client: fixture("http_client_one_chunk.ts", "{url}"),
  });
  assert.equal(statusOf(report, "client: small page"), "PASS", describe(report));
  assert.equal(statusOf(report, "client: 1 MB binary, byte-exact"), "FAIL");
});

const python = await hasPython();

Deno.test({
  name: "conformance against the handout's Python echo pair",
  ignore: !python,
  async fn() {
    const report = await runConformance("lab1_echo", {
      server: `python3 "${script("tests/fixtures/python/tcp_server.py")}" {port}`,
      client: `python3 "${script("tests/fixtures/python/tcp_client.py")}" {host} {port}`,
    });
    assert.equal(statusOf(report, "upper-case reply"), "PASS", describe(report));
    assert.equal(statusOf(report, "client: reply printed"), "PASS");
    // recv(1024) once: the long sentence comes back cut.
    assert.equal(statusOf(report, "64 KB sentence"), "FAIL");
  },
});

Deno.test("conformance CLI: table, --json, exit codes", async () => {
  const ok = await runScript(["-A"], script("conformance/main.ts"), [
    "lab1",
    "--client",
    OURS.lab1_echo.client,
    "--json",
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  assert.equal(report.lab, "lab1_echo");
  assert.deepEqual(Object.keys(report.checks[0]), ["name", "status", "reason"]);
  const failing = await runScript(["-A"], script("conformance/main.ts"), [
    "echo",
    "--server",
    fixture("echo_read_once_server.ts", "{port}"),
  ]);
  assert.equal(failing.code, 1);
  assert.match(failing.stdout, /^ {2}FAIL {2}64 KB sentence/m);
  assert.match(failing.stdout, /\d+ passed, \d+ failed, \d+ warnings$/m);
  for (const args of [[], ["lab9", "--server", "x"], ["lab2", "--server", "x"], ["lab1"]]) {
    const bad = await runScript(["-A"], script("conformance/main.ts"), args);
    assert.equal(bad.code, 2, `${args}: ${bad.stderr}`);
  }
});
