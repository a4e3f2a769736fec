import assert from "node:assert/strict";
import { join } from "node:path";
import { runConformance } from "../conformance/main.ts";
import type { Report } from "../conformance/report.ts";
import { freePort } from "../harness/free_port.ts";
import { pythonPath, ROOT, runScript, script } from "../harness/process.ts";

const deno = (flags: string, file: string, args: string) =>
  `"${Deno.execPath()}" run --quiet ${flags} "${script(file)}" ${args}`;
const fixture = (name: string, args: string) => deno("-A", `tests/fixtures/broken/${name}`, args);
const STUDENTS = script("tests/fixtures/students");

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

function checkOf(report: Report, name: string) {
  return report.checks.find((c) => c.name === name);
}

function statusOf(report: Report, check: string): string | undefined {
  return checkOf(report, check)?.status;
}

function describe(report: Report): string {
  return report.checks.map((c) => `${c.status} ${c.level} ${c.name}: ${c.reason}`).concat(
    report.notes.map((n) => `note: ${n}`),
  ).join("\n");
}

const PY = await pythonPath();

/** A test of student-style Python programs: skipped, saying so in its name, without python3. */
function pythonTest(name: string, fn: () => Promise<void>) {
  Deno.test({ name: PY ? name : `${name} (skipped: python3 is not installed)`, ignore: !PY, fn });
}
/** A student-style Python program under tests/fixtures/students. */
const student = (file: string, args: string) => `"${PY}" "${join(STUDENTS, file)}" ${args}`;

for (const [lab, roles] of Object.entries(OURS)) {
  Deno.test(`conformance: our ${lab} passes every check`, async () => {
    const report = await runConformance(lab, { ...roles, timeoutMs: 60_000 });
    assert.ok(report.checks.length >= 3, describe(report));
    const { pass, fail, warn, info, notRun } = report.summary;
    assert.deepEqual(
      { pass, fail, warn, info, notRun },
      { pass: report.checks.length, fail: 0, warn: 0, info: 0, notRun: 0 },
      describe(report),
    );
    assert.deepEqual(report.notes, []);
  });
}

Deno.test("conformance catches an echo server that reads once", async () => {
  const report = await runConformance("lab1_echo", {
    server: fixture("echo_read_once_server.ts", "{port}"),
  });
  assert.equal(statusOf(report, "upper-case reply"), "PASS", describe(report));
  // The handout never asks for long sentences: a miss there is beyond it, a WARN naming the cause.
  assert.equal(checkOf(report, "64 KB sentence")?.level, "beyond");
  assert.equal(statusOf(report, "64 KB sentence"), "WARN");
  assert.match(checkOf(report, "64 KB sentence")!.reason, /recv\(\)/);
  assert.equal(checkOf(report, "sentence in 1-byte segments")?.level, "beyond");
  assert.equal(statusOf(report, "sentence in 1-byte segments"), "WARN");
  assert.match(
    checkOf(report, "a silent client does not block others")!.reason,
    /one client at a time/,
  );
});

Deno.test("conformance catches a file client that stops after its first read", async () => {
  const report = await runConformance("lab3_file", {
    server: OURS.lab3_file.server,
    client: fixture("file_client_first_read.ts", "{host}:{port}:{remote} {local}"),
    only: ["handout"],
  });
  // Its first read holds little more than the "OK <size>" line: every non-empty file comes out wrong.
  assert.equal(statusOf(report, "20 MB file"), "FAIL", describe(report));
  assert.equal(statusOf(report, "binary file (second client)"), "FAIL");
  assert.equal(statusOf(report, "missing remote file: reported"), "PASS");
  assert.equal(
    statusOf(report, "2 clients at once"),
    undefined,
    "--checks handout: beyond left out",
  );
});

Deno.test("conformance catches a file server that serves one client and exits", async () => {
  const report = await runConformance("lab3_file", {
    server: fixture("file_server_one_client.ts", "{port}"),
    client: OURS.lab3_file.client,
    timeoutMs: 10_000,
    only: ["handout"],
  });
  assert.equal(statusOf(report, "text file (first client)"), "PASS", describe(report));
  // The first check it cannot answer fails, saying why; the rest are not run, not failures.
  assert.equal(statusOf(report, "binary file (second client)"), "FAIL");
  assert.match(
    checkOf(report, "binary file (second client)")!.reason,
    /the server had exited after "text file \(first client\)" passed: .*exit/,
  );
  assert.equal(statusOf(report, "empty file (third client)"), "NOT_RUN");
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

Deno.test("conformance: a UDP client that cannot get a reply is not said to give up", async () => {
  // A client that dies at once (here: its module is missing) also ends when no server answers.
  const report = await runConformance("lab_udp", {
    client: fixture("no_such_udp_client.ts", "{host} {port}"),
    timeoutMs: 3000,
  });
  const reply = checkOf(report, "client: reply printed")!;
  assert.equal(reply.status, "FAIL", describe(report));
  assert.match(reply.reason, /the kit's copy of lab_udp\/server\.ts/);
  assert.doesNotMatch(reply.reason, /\{port\}/);
  assert.equal(statusOf(report, "client: gives up when no server answers"), "NOT_RUN");
});

Deno.test("conformance catches an HTTP client that reads one chunk", async () => {
  const report = await runConformance("lab_http", {
    client: fixture("http_client_one_chunk.ts", "{url}"),
  });
  assert.equal(statusOf(report, "client: small page"), "PASS", describe(report));
  // The handout's client reads once too: a long body is beyond it, a WARN.
  assert.equal(statusOf(report, "client: 1 MB binary, byte-exact"), "WARN");
});

pythonTest(
  "conformance against the handout's Python echo pair; a reset is reported as a reset",
  async () => {
    const report = await runConformance("lab1_echo", {
      server: `"${PY}" "${script("tests/fixtures/python/tcp_server.py")}" {port}`,
      client: `"${PY}" "${script("tests/fixtures/python/tcp_client.py")}" {host} {port}`,
      only: ["handout", "64 KB sentence"],
    });
    assert.equal(statusOf(report, "upper-case reply"), "PASS", describe(report));
    assert.equal(statusOf(report, "client: reply printed"), "PASS");
    assert.equal(report.summary.fail, 0, describe(report));
    // recv(1024) once, then close() with the rest unread: the kernel resets the connection.
    assert.equal(statusOf(report, "64 KB sentence"), "WARN");
    assert.match(checkOf(report, "64 KB sentence")!.reason, /reset/);
  },
);

pythonTest("conformance: a traversal hole in a student web server is a FAIL", async () => {
  const report = await runConformance("lab_http", {
    server: student("http_server_naive.py", "{port}"),
    only: ["handout", "outside"],
  });
  // The handout's checks pass: without the security checks it looked fine.
  assert.equal(statusOf(report, "server: a file"), "PASS", describe(report));
  assert.equal(statusOf(report, "server: a 404"), "PASS");
  const dotdot = checkOf(report, "server: no file outside its folder via ..")!;
  assert.equal(dotdot.level, "beyond");
  assert.equal(dotdot.status, "FAIL", describe(report));
  assert.match(dotdot.reason, /GET \/\.\.\/secret_\w+\.txt returned the bytes of/);
  assert.equal(
    statusOf(report, "server: no file outside its folder via an absolute path"),
    "FAIL",
  );
});

pythonTest(
  "conformance: the handout's http.server gets no FAIL and at least one WARN",
  async () => {
    const report = await runConformance("lab_http", {
      server: student("http_server_handout.py", "{port}"),
    });
    assert.equal(report.summary.fail, 0, describe(report));
    assert.ok(report.summary.warn >= 1, describe(report));
    for (const name of ["server: dotfile", "server: symlink out of its folder"]) {
      assert.equal(statusOf(report, name), "WARN", name);
    }
    // One client at a time: a silent client blocks the next.
    assert.equal(statusOf(report, "a silent client does not block others"), "WARN");
    assert.equal(statusOf(report, "server: no file outside its folder via .."), "PASS");
  },
);

pythonTest(
  "conformance: a lab2 pair that frames by timing gets WARNs naming segmentation and coalescing",
  async () => {
    const report = await runConformance("lab2_sum", {
      server: student("sum_server_timing.py", "{port}"),
      client: student("sum_client_timing.py", "{host} {port}"),
      only: ["handout", "relay"],
    });
    // Every check the handout asks for passes: its writes happen to arrive apart.
    for (const c of report.checks.filter((c) => c.level === "handout")) {
      assert.equal(c.status, "PASS", describe(report));
    }
    const split = checkOf(report, "pair through a relay: 1-byte segments")!;
    const joined = checkOf(report, "pair through a relay: writes coalesced")!;
    assert.equal(split.status, "WARN", describe(report));
    assert.match(split.reason, /^Segmentation/);
    assert.equal(joined.status, "WARN", describe(report));
    assert.match(joined.reason, /^Coalescing/);
  },
);

pythonTest(
  "conformance: an HTTP/1.0 client is not failed on chunked; one recv(1500) fails the long body",
  async () => {
    const reader = await runConformance("lab_http", {
      client: student("http_client_10.py", "{url}"),
    });
    assert.deepEqual(
      reader.summary,
      { pass: 4, fail: 0, warn: 0, info: 0, notRun: 0 },
      describe(reader),
    );
    assert.match(checkOf(reader, "client: chunked response")!.reason, /HTTP\/1\.0/);
    const handout = await runConformance("lab_http", {
      client: student("http_client_handout.py", "{url}"),
    });
    assert.equal(statusOf(handout, "client: small page"), "PASS", describe(handout));
    assert.equal(statusOf(handout, "client: 1 MB binary, byte-exact"), "WARN");
    assert.equal(handout.summary.fail, 0, describe(handout));
  },
);

pythonTest(
  "conformance: an early exit shows the exit code and stderr; a hung client is killed",
  async () => {
    const report = await runConformance("lab1_echo", {
      server: student("crash_at_start.py", "{port}"),
      client: `"${PY}" -c "import sys, time; time.sleep(30)" {port}`,
      timeoutMs: 1000,
    });
    const starts = checkOf(report, "server starts")!;
    assert.equal(starts.status, "FAIL");
    assert.match(starts.reason, /exited by itself with code 1 after [\d.]+ s/);
    assert.match(starts.reason, /stderr: error: cannot read config\.ini/);
    assert.doesNotMatch(starts.reason, /within 10 s/);
    assert.match(
      checkOf(report, "client: reply printed")!.reason,
      /killed by the kit after 1 s \(its time limit\)/,
    );
  },
);

Deno.test({
  name: "conformance: {port} missing is exit 2 naming {port}; --port N runs a fixed-port server",
  async fn() {
    const kit = script("conformance/main.ts");
    const noPort = await runScript(["-A"], kit, ["lab1", "--server", "python3 TCPServer.py"]);
    assert.equal(noPort.code, 2, noPort.stderr);
    assert.match(noPort.stderr, /^error: the --server command has no \{port\}.*--port N/m);
    const port = freePort();
    const report = await runConformance("lab1_echo", {
      server: deno("--allow-net", "lab1_echo/server.ts", `-p ${port}`),
      port,
      only: ["handout"],
    });
    assert.equal(
      checkOf(report, "server starts")?.reason,
      `TCP port ${port} bound`,
      describe(report),
    );
    assert.equal(report.summary.fail, 0, describe(report));
    // A pair fixed on one port: no room for the relay, and the report says so.
    const pair = await runConformance("lab2_sum", {
      server: deno("--allow-net", "lab2_sum/server.ts", `-p ${port}`),
      client: deno(
        "--allow-net",
        "lab2_sum/client.ts",
        `-p ${port} --name {name} --number {number}`,
      ),
      port,
      only: ["names and sum", "relay", "stops the server"],
    });
    assert.deepEqual(pair.checks.map((c) => [c.name, c.status]), [
      ["server starts", "PASS"],
      ["names and sum", "PASS"],
      ["out-of-range number stops the server", "PASS"],
      ["pair through a relay: 1-byte segments", "NOT_RUN"],
      ["pair through a relay: writes coalesced", "NOT_RUN"],
    ], describe(pair));
    assert.match(
      checkOf(pair, "pair through a relay: 1-byte segments")!.reason,
      new RegExp(`ruled out by --port ${port}`),
    );
    assert.match(pair.notes.join("\n"), /relay .* not run: .* always connects to port \d+/);
  },
});

pythonTest(
  "conformance: a server that finds its free port taken is started on another",
  async () => {
    const report = await runConformance("lab1_echo", {
      server: student("bind_race_server.py", "{port}"),
      only: ["upper-case reply"],
    });
    assert.equal(statusOf(report, "server starts"), "PASS", describe(report));
    assert.equal(statusOf(report, "upper-case reply"), "PASS");
  },
);

pythonTest("conformance: {sentence} for a client that takes its text as an argument", async () => {
  const report = await runConformance("lab_udp", {
    client: student("udp_client_arg.py", "{host} {port} {sentence}"),
    only: ["reply printed"],
  });
  assert.equal(statusOf(report, "client: reply printed"), "PASS", describe(report));
});

function withoutInitCwd(): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.INIT_CWD;
  return env;
}

pythonTest("conformance: relative paths work from another folder under deno task", async () => {
  const course = await Deno.makeTempDir({ prefix: "course_" });
  try {
    await Deno.copyFile(join(STUDENTS, "class_lab1/alice/client.py"), join(course, "client.py"));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "--quiet",
        "--config",
        join(ROOT, "deno.json"),
        "conformance",
        "lab1",
        "--client",
        `"${PY}" client.py {host} {port}`,
        "--gradescope",
        "results.json",
      ],
      cwd: course,
      // As from an instructor's shell: a deno task around this test (deno task test) set
      // INIT_CWD, which the inner task would keep.
      clearEnv: true,
      env: { ...withoutInitCwd(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, stdout + new TextDecoder().decode(out.stderr));
    assert.match(stdout, /PASS {2}handout {2}client: reply printed/);
    // Output files land where the user is too, not in the repository.
    const results = JSON.parse(await Deno.readTextFile(join(course, "results.json")));
    assert.equal(results.tests[0].status, "passed");
  } finally {
    await Deno.remove(course, { recursive: true });
  }
});

pythonTest("conformance: the Gradescope and JUnit files parse and match the checks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grading_" });
  try {
    const out = await runScript(["-A"], script("conformance/main.ts"), [
      "lab1",
      "--server",
      student("crash_at_start.py", "{port}"),
      "--client",
      student("class_lab1/bob/client.py", "{host} {port}"),
      "--json",
      "--gradescope",
      join(dir, "results.json"),
      "--junit",
      join(dir, "junit.xml"),
    ]);
    assert.equal(out.code, 1, out.stderr);
    const report: Report = JSON.parse(out.stdout);
    // The server never started: its other checks are not run, not failures of their own.
    assert.deepEqual(
      report.checks.map((c) => c.status),
      ["FAIL", ...Array(9).fill("NOT_RUN"), "PASS", "WARN"],
      describe(report),
    );
    const results = JSON.parse(await Deno.readTextFile(join(dir, "results.json")));
    const tests = results.tests.map((t: Record<string, unknown>) => [
      t.name,
      t.score,
      t.max_score,
      t.status,
    ]);
    assert.deepEqual(tests[0], ["server starts", 0, 2, "failed"]);
    assert.deepEqual(tests[1], ["upper-case reply", 0, 2, "failed"]);
    assert.deepEqual(tests.slice(-2), [
      ["client: reply printed", 2, 2, "passed"],
      ["client: prompt", 1, 2, "failed"],
    ]);
    assert.equal(results.score, 3);
    assert.match(results.tests[0].output, /^FAIL \(handout\): .*cannot read config\.ini/);
    assert.match(
      results.tests[1].output,
      /^NOT_RUN \(handout\): not run: the server did not start/,
    );
    // A real XML parser reads it: one testcase per check, a failure element on each FAIL,
    // a skipped one on each NOT_RUN.
    const parsed = await new Deno.Command(PY!, {
      args: [
        "-c",
        "import sys, json, xml.etree.ElementTree as E\n" +
        "r = E.parse(sys.argv[1]).getroot()\n" +
        "print(json.dumps([[c.get('name'), c.find('failure') is not None," +
        " c.find('skipped') is not None, c.findtext('system-out')]" +
        " for c in r.iter('testcase')] + [r.get('tests'), r.get('failures')]))",
        join(dir, "junit.xml"),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(parsed.success, new TextDecoder().decode(parsed.stderr));
    const cases = JSON.parse(new TextDecoder().decode(parsed.stdout));
    assert.equal(cases.length, 14);
    assert.deepEqual(cases[0].slice(0, 3), ["server starts", true, false]);
    assert.deepEqual(cases[1].slice(0, 3), ["upper-case reply", false, true]);
    assert.deepEqual(cases.slice(10, 12).map((c: unknown[]) => c.slice(0, 3)), [
      ["client: reply printed", false, false],
      ["client: prompt", false, false],
    ]);
    assert.match(cases[11][3], /^WARN \(handout\): it printed nothing before reading/);
    assert.deepEqual(cases.slice(12), ["12", "1"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

pythonTest("conformance: batch mode over three folders gives the right table and CSV", async () => {
  const dir = await Deno.makeTempDir({ prefix: "class_" });
  try {
    const out = await runScript(["-A"], script("conformance/main.ts"), [
      "lab1",
      "--each",
      join(STUDENTS, "class_lab1"),
      "--client",
      `"${PY}" {dir}/client.py {host} {port}`,
      "--csv",
      join(dir, "class.csv"),
    ]);
    assert.equal(out.code, 1, out.stderr);
    assert.equal(
      out.stdout.trim(),
      [
        "student  score  passed  failed  warnings  not run",
        "alice      4/4       2       0         0        0",
        "bob        3/4       1       0         1        0",
        "carol      0/4       0       1         0        1",
      ].join("\n"),
    );
    assert.match(out.stderr, /^carol: 0 passed, 1 failed, 0 warnings, 1 not run$/m);
    // A real CSV parser reads it: end, points and max, then status, points and reason per check.
    const rows = await new Deno.Command(PY!, {
      args: [
        "-c",
        "import sys, csv, json; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='')))))",
        join(dir, "class.csv"),
      ],
      stdout: "piped",
    }).output();
    const [head, ...students] = JSON.parse(new TextDecoder().decode(rows.stdout));
    assert.deepEqual(head.slice(0, 11), [
      "student",
      "end",
      "score",
      "max_score",
      "passed",
      "failed",
      "warnings",
      "not_run",
      "lab1.client.reply status",
      "lab1.client.reply points",
      "lab1.client.reply reason",
    ]);
    assert.deepEqual(
      students.map((r: string[]) => [r[0], r[1], r[2], r[3], r[8], r[9], r[11], r[12]]),
      [
        ["alice", "graded", "4", "4", "PASS", "2", "PASS", "2"],
        ["bob", "graded", "3", "4", "PASS", "2", "WARN", "1"],
        ["carol", "graded", "0", "4", "FAIL", "0", "NOT_RUN", "0"],
      ],
    );
    assert.match(students[1][13], /printed nothing before reading the sentence/);
    assert.match(students[2][10], /can't open file .*client\.py/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("conformance CLI: table, --json, exit codes", async () => {
  const kit = script("conformance/main.ts");
  const ok = await runScript(["-A"], kit, ["lab1", "--client", OURS.lab1_echo.client, "--json"]);
  assert.equal(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  assert.equal(report.lab, "lab1_echo");
  assert.deepEqual(Object.keys(report.checks[0]), ["id", "name", "level", "status", "reason"]);
  // Only beyond checks missed: no FAIL, exit 0.
  const warned = await runScript(["-A"], kit, [
    "echo",
    "--server",
    fixture("echo_read_once_server.ts", "{port}"),
  ]);
  assert.equal(warned.code, 0, warned.stdout);
  assert.match(warned.stdout, /^ {2}WARN {2}beyond {3}64 KB sentence/m);
  const failing = await runScript(["-A"], kit, [
    "echo",
    "--server",
    // A server that cannot start: its module is missing.
    fixture("no_such_server.ts", "{port}"),
  ]);
  assert.equal(failing.code, 1, failing.stdout);
  assert.match(failing.stdout, /^ {2}FAIL {5}handout {2}server starts/m);
  assert.match(failing.stdout, /\d+ passed, \d+ failed, \d+ warnings, 9 not run$/m);
  for (
    const args of [
      [],
      ["lab9", "--server", "x {port}"],
      ["lab2", "--server", "x {port}"],
      ["lab1"],
      ["lab1", "--client", "x {host} {prot}"],
      ["lab1", "--client", "x {dir}/c.py {port}"],
      ["lab1", "--client", "x {port}", "--csv", "a.csv"],
    ]
  ) {
    const bad = await runScript(["-A"], kit, args);
    assert.equal(bad.code, 2, `${args}: ${bad.stderr}`);
    assert.match(bad.stderr, /^error: /);
  }
});
