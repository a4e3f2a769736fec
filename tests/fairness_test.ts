/**
 * The kit is fair to the handouts and gives the same verdict every run.
 *
 * Fair: the handouts' own programs, typed as the handouts give them (the
 * port taken from an argument, nothing else changed, no SO_REUSEADDR), are
 * in tests/fixtures/handout/<lab>/. They get no FAIL on a check labelled
 * `handout`, in every lab: a check they fail is `beyond`, and says what the
 * handout's code does wrong there.
 *
 * The same verdict: each submission (the handouts' programs, and careful
 * ones) is graded 5 times, 3 kit processes at a time on this 2-core
 * machine, and every run's table of check ids and statuses is the same.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Report } from "../conformance/report.ts";
import { checkSpecs } from "../conformance/specs.ts";
import { pythonPath, runScript, script } from "../harness/process.ts";
import { freePort } from "../harness/free_port.ts";

const PY = await pythonPath();
const HANDOUT = script("tests/fixtures/handout");
const CAREFUL = script("tests/fixtures/careful");
const py = (dir: string, file: string, args: string) => `"${PY}" "${join(dir, file)}" ${args}`;

interface Submission {
  name: string;
  lab: string;
  server?: string;
  client?: string;
  /** Extra kit arguments. */
  args?: string[];
}

const HANDOUTS: Submission[] = [
  {
    name: "the handout's lab1 TCPServer.py and TCPClient.py",
    lab: "lab1_echo",
    server: py(HANDOUT, "lab1_echo/TCPServer.py", "{port}"),
    client: py(HANDOUT, "lab1_echo/TCPClient.py", "{host} {port}"),
  },
  {
    name: "lab2's Server.py and Client.py in the handout's style",
    lab: "lab2_sum",
    server: py(HANDOUT, "lab2_sum/Server.py", "{port}"),
    client: py(HANDOUT, "lab2_sum/Client.py", "{host} {port}"),
  },
  {
    name: "lab3's Server.py and Client.py in the handout's style",
    lab: "lab3_file",
    server: py(HANDOUT, "lab3_file/Server.py", "{port}"),
    client: py(HANDOUT, "lab3_file/Client.py", "{host}:{port}:{remote} {local}"),
  },
  {
    name: "the handout's UDPServer.py and UDPClient.py",
    lab: "lab_udp",
    server: py(HANDOUT, "lab_udp/UDPServer.py", "{port}"),
    client: py(HANDOUT, "lab_udp/UDPClient.py", "{host} {port}"),
    // Its client never gives up: the kit waits for it as long as --timeout says.
    args: ["--timeout", "3"],
  },
  {
    name: "the handout's WebServer.py skeleton filled in, and its HTTPClient.py",
    lab: "lab_http",
    server: py(HANDOUT, "lab_http/WebServer.py", "{port}"),
    client: py(HANDOUT, "lab_http/HTTPClient.py", "{url}"),
  },
  {
    name: "the handout's http.server web server",
    lab: "lab_http",
    server: py(HANDOUT, "lab_http/http_server.py", "{port}"),
  },
];

const CAREFUL_ONES: Submission[] = [
  {
    name: "a careful lab1 pair",
    lab: "lab1_echo",
    server: py(CAREFUL, "echo_server.py", "{port}"),
    client: py(CAREFUL, "echo_client.py", "{host} {port}"),
  },
  {
    name: "a careful lab2 pair",
    lab: "lab2_sum",
    server: py(CAREFUL, "sum_server.py", "{port}"),
    client: py(CAREFUL, "sum_client.py", "{host} {port}"),
  },
];

/** One run of the kit as an instructor runs it, its report as JSON. */
async function grade(s: Submission): Promise<Report> {
  const args = [s.lab, "--json", ...(s.args ?? [])];
  if (s.server) args.push("--server", s.server);
  if (s.client) args.push("--client", s.client);
  const out = await runScript(["-A"], script("conformance/main.ts"), args, { timeoutMs: 120_000 });
  assert.ok(out.code === 0 || out.code === 1, `exit ${out.code}: ${out.stderr}`);
  return JSON.parse(out.stdout);
}

/** `count` runs, `atOnce` kit processes at a time. */
async function gradeMany(s: Submission, count: number, atOnce: number): Promise<Report[]> {
  const reports: Report[] = [];
  let started = 0;
  const lane = async () => {
    while (started < count) {
      started++;
      reports.push(await grade(s));
    }
  };
  await Promise.all(Array.from({ length: atOnce }, lane));
  return reports;
}

/** The verdict table: check id and status, in order. */
const table = (r: Report) => r.checks.map((c) => `${c.id} ${c.status}`);

function describe(report: Report): string {
  return report.checks.map((c) => `${c.status} ${c.level} ${c.id}: ${c.reason}`).concat(
    report.notes.map((n) => `note: ${n}`),
  ).join("\n");
}

function pythonTest(name: string, fn: () => Promise<void>) {
  Deno.test({ name: PY ? name : `${name} (skipped: python3 is not installed)`, ignore: !PY, fn });
}

/** The reports of every handout submission, graded 5 times: the fairness tests read them. */
const graded = new Map<string, Report[]>();

for (const s of [...HANDOUTS, ...CAREFUL_ONES]) {
  pythonTest(`kit: ${s.name}: the same verdicts in 5 runs, 3 at a time`, async () => {
    const reports = await gradeMany(s, 5, 3);
    graded.set(s.name, reports);
    const first = table(reports[0]);
    for (const r of reports.slice(1)) {
      assert.deepEqual(table(r), first, `${describe(reports[0])}\n---\n${describe(r)}`);
    }
  });
}

for (const s of HANDOUTS) {
  pythonTest(`fairness: ${s.name} get no FAIL on a handout check`, async () => {
    const reports = graded.get(s.name) ?? [await grade(s)];
    for (const report of reports) {
      const roles = { server: s.server, client: s.client };
      const handout = checkSpecs(s.lab, roles).filter((c) => c.level === "handout");
      for (const spec of handout) {
        const check = report.checks.find((c) => c.id === spec.id);
        assert.ok(check, `${spec.id} was not run\n${describe(report)}`);
        assert.ok(
          check.status === "PASS" || check.status === "WARN",
          `${spec.id} (${spec.name}) is labelled handout, and the handout's program got ${check.status}: ${check.reason}`,
        );
      }
    }
  });
}

pythonTest("fairness: what the handout's lab1 server gets wrong is beyond, and named", async () => {
  const [report] = graded.get(HANDOUTS[0].name) ?? [await grade(HANDOUTS[0])];
  for (const id of ["lab1.2k", "lab1.64k"]) {
    const check = report.checks.find((c) => c.id === id)!;
    assert.equal(check.level, "beyond", id);
    assert.equal(check.status, "WARN", describe(report));
    assert.match(check.reason, /sent a \d+-byte sentence and half-closed/);
    assert.match(check.reason, /came back: 1024 bytes .*then the connection was reset/);
    assert.match(check.reason, /usual cause: one recv\(1024\) taken as the whole message/);
  }
  const burst = report.checks.find((c) => c.id === "lab1.concurrent")!;
  assert.match(burst.reason, /usual cause: listen\(1\)/);
  const silent = report.checks.find((c) => c.id === "lab1.silent")!;
  assert.match(silent.reason, /usual cause: it serves one client at a time/);
  const reset = report.checks.find((c) => c.id === "lab1.reset")!;
  assert.match(reset.reason, /it crashed \(exit code 1\); stderr: .*ConnectionResetError/);
});

pythonTest(
  "fairness: the handout's HTTP client reads once: the long bodies are beyond, named",
  async () => {
    const report = (graded.get(HANDOUTS[4].name) ?? [await grade(HANDOUTS[4])])[0];
    assert.equal(report.checks.find((c) => c.id === "http.client.page")?.status, "PASS");
    for (const id of ["http.client.binary", "http.client.close", "http.client.chunked"]) {
      const check = report.checks.find((c) => c.id === id)!;
      assert.equal(check.level, "beyond");
      assert.equal(check.status, "WARN", describe(report));
      assert.match(check.reason, /usual cause: one recv\(\) taken as the whole response/);
    }
    // The skeleton sends a CRLF after the file: the page is still the page.
    assert.match(
      report.checks.find((c) => c.id === "http.file")!.reason,
      /as the handout's skeleton/,
    );
  },
);

pythonTest(
  "ports: handout pairs fixed on one port (--port N, both roles, no SO_REUSEADDR) are graded in full",
  async () => {
    // The handout hard-codes 12000: here each program is given one port, N, and the kit is told so.
    // Every program leaves N in TIME_WAIT for the next one: the student's server for the kit's, the
    // kit's for the student's, and lab 2's stopped server for its restart.
    for (const lab of ["lab1_echo", "lab2_sum"]) {
      const port = freePort();
      const [server, client] = lab === "lab1_echo"
        ? ["lab1_echo/TCPServer.py", "lab1_echo/TCPClient.py"]
        : ["lab2_sum/Server.py", "lab2_sum/Client.py"];
      const report = await grade({
        name: `${lab} on port ${port}`,
        lab,
        server: py(HANDOUT, server, `${port}`),
        client: py(HANDOUT, client, `127.0.0.1 ${port}`),
        args: ["--port", `${port}`],
      });
      for (const c of report.checks.filter((c) => c.level === "handout")) {
        assert.ok(c.status === "PASS" || c.status === "WARN", `${lab}:\n${describe(report)}`);
      }
      if (lab === "lab2_sum") {
        // The relay needs a port of its own for the client: ruled out, and said so.
        for (const id of ["lab2.relay.split", "lab2.relay.coalesce", "lab2.segments"]) {
          const check = report.checks.find((c) => c.id === id);
          assert.equal(check?.status, "NOT_RUN", describe(report));
          assert.match(check!.reason, new RegExp(`ruled out by --port ${port}`));
        }
      }
    }
  },
);

pythonTest(
  "ports: a fixed-port pair graded again at once gets the same verdicts; the kit waits out TIME_WAIT",
  async () => {
    // The handout's server closes first, so its port keeps TIME_WAIT sockets without
    // SO_REUSEADDR for a minute, and Linux lets no one bind it, the kit's own server included.
    const port = freePort();
    const s: Submission = {
      name: `lab1 on port ${port}`,
      lab: "lab1_echo",
      server: py(HANDOUT, "lab1_echo/TCPServer.py", `${port}`),
      client: py(HANDOUT, "lab1_echo/TCPClient.py", `127.0.0.1 ${port}`),
      args: ["--port", `${port}`],
    };
    const first = await grade(s);
    const again = await grade(s);
    assert.deepEqual(table(again), table(first), `${describe(first)}\n---\n${describe(again)}`);
    assert.ok(
      again.notes.some((n) => new RegExp(`waited .* for port ${port}'s TIME_WAIT`).test(n)),
      describe(again),
    );
  },
);
