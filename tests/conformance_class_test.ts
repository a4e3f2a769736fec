// A class at once: --each with --jobs, --submission-timeout, --csv, --html (in headless Chromium),
// --weights, the exit codes, and the Gradescope bundle, with Python programs as students write
// them (tests/class/lab1, tests/fixtures/students/class_lab1) on real sockets.
import assert from "node:assert/strict";
import { join } from "node:path";
import { availableIsolation } from "../conformance/jobs.ts";
import { checkSpecs } from "../conformance/report.ts";
import type { BatchRow } from "../conformance/batch.ts";
import { zip } from "../conformance/zip.ts";
import { copyDir, pythonPath, ROOT, runScript, script } from "../harness/process.ts";
import { freePort } from "../harness/free_port.ts";
import { findChromium, openPage } from "./support/chromium.ts";

const KIT = script("conformance/main.ts");
const CLASS = script("tests/class/lab1");
const CLIENTS = script("tests/fixtures/students/class_lab1");

const PY = await pythonPath();
const NETNS = (await availableIsolation()) === "netns";

/** A test of student-style Python programs: skipped, saying so in its name, without python3. */
function pythonTest(name: string, fn: () => Promise<void>, needs: { netns?: boolean } = {}) {
  const missing = !PY
    ? "python3 is not installed"
    : needs.netns && !NETNS
    ? "unshare -rn is not available here"
    : undefined;
  Deno.test({ name: missing ? `${name} (skipped: ${missing})` : name, ignore: !!missing, fn });
}

const SERVER = () => `"${PY}" {dir}/server.py {port}`;
const CLIENT = () => `"${PY}" {dir}/client.py {host} {port}`;

/** Runs the kit as an instructor does; `env` adds to the environment. */
async function kit(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", "-A", KIT, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Each student's verdict: how the run ended, and every check's id and status. */
function verdicts(rows: BatchRow[]): string[][] {
  return rows.map((r) => [
    r.student,
    r.end ?? "graded",
    ...r.report.checks.map((c) => `${c.id}=${c.status}`),
  ]);
}

async function withTemp(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Parses CSV with Python's csv module: a real parser, not ours. */
async function parseCsv(path: string): Promise<Record<string, string>[]> {
  const out = await new Deno.Command(PY!, {
    args: [
      "-c",
      "import csv, json, sys; print(json.dumps(list(csv.DictReader(open(sys.argv[1])))))",
      path,
    ],
    stdout: "piped",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

// Two students whose servers each wait for the other's to start (a file in a shared folder), both
// fixed on one port: graded one after the other, the first waits in vain; at once but on one
// loopback, the second cannot bind the port.
const RENDEZVOUS = `
import os, sys, threading, time
from socket import *
me = os.path.basename(os.path.dirname(os.path.abspath(__file__)))
shared = sys.argv[2]
open(os.path.join(shared, me), 'w').close()
other = 'b' if me == 'a' else 'a'
while not os.path.exists(os.path.join(shared, other)):
    time.sleep(0.05)
def serve(conn):
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data.upper())
s = socket(AF_INET, SOCK_STREAM)
s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
s.bind(('', int(sys.argv[1])))
s.listen(16)
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
`;

pythonTest(
  "--jobs 2: two servers fixed on one port that wait for each other are graded at once, each on its own loopback",
  () =>
    withTemp("class_", async (dir) => {
      const shared = join(dir, "shared");
      await Deno.mkdir(shared);
      for (const student of ["a", "b"]) {
        await Deno.mkdir(join(dir, "class", student), { recursive: true });
        await Deno.writeTextFile(join(dir, "class", student, "server.py"), RENDEZVOUS);
      }
      const port = freePort();
      const out = await kit([
        "lab1",
        "--each",
        join(dir, "class"),
        "--server",
        `"${PY}" {dir}/server.py ${port} ${shared}`,
        "--port",
        `${port}`,
        "--checks",
        "lab1.upper",
        "--jobs",
        "2",
        "--submission-timeout",
        "60",
        "--json",
      ]);
      const rows: BatchRow[] = JSON.parse(out.stdout);
      assert.deepEqual(verdicts(rows), [
        ["a", "graded", "lab1.starts=PASS", "lab1.upper=PASS"],
        ["b", "graded", "lab1.starts=PASS", "lab1.upper=PASS"],
      ], out.stderr);
      assert.equal(out.code, 0, out.stderr);
    }),
  { netns: true },
);

pythonTest("--jobs 3 gives the verdicts of one at a time, in the students' order", async () => {
  const args = [
    "lab1",
    "--each",
    CLASS,
    "--server",
    SERVER(),
    "--client",
    CLIENT(),
    "--checks",
    "handout",
    "--timeout",
    "5",
    "--json",
  ];
  const serial = await kit([...args, "--jobs", "1"]);
  const parallel = await kit([...args, "--jobs", "3"]);
  const one: BatchRow[] = JSON.parse(serial.stdout);
  const three: BatchRow[] = JSON.parse(parallel.stdout);
  assert.deepEqual(
    one.map((r) => r.student),
    ["correct", "crashes", "hangs", "never_closes", "one_recv"],
  );
  assert.deepEqual(verdicts(three), verdicts(one), parallel.stderr);
  // Every check of both roles has a verdict: a check not reached says so (NOT_RUN).
  const ids = checkSpecs("lab1").filter((c) => c.level === "handout").map((c) => c.id);
  for (const row of three) assert.deepEqual(row.report.checks.map((c) => c.id), ids, row.student);
  const correct = three.find((r) => r.student === "correct")!;
  assert.ok(correct.report.checks.every((c) => c.status === "PASS"), JSON.stringify(correct));
  assert.equal(parallel.code, 1);
});

// A server that starts a daemon in a session of its own (it leaves the process group), then
// answers no one: only a kill of the whole tree stops both.
const DAEMON_HANG = `
import os, sys, time
from socket import *
if os.fork() == 0:
    os.setsid()
    os.execvp(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', sys.argv[2]])
s = socket(AF_INET, SOCK_STREAM)
s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
s.bind(('', int(sys.argv[1])))
s.listen(1)
conns = []
while True:
    conns.append(s.accept()[0])
`;

/** Processes whose command line holds `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(marker)) {
        found.push(Number(entry.name));
      }
    } catch { /* gone */ }
  }
  return found;
}

for (const isolation of ["netns", "off"] as const) {
  pythonTest(
    `--submission-timeout (${
      isolation === "netns" ? "private namespaces" : "no namespaces"
    }): TIMEOUT, the checks done so far kept, every program killed, daemons too`,
    () =>
      withTemp("class_", async (dir) => {
        const marker = `kit_daemon_${crypto.randomUUID()}`;
        await Deno.mkdir(join(dir, "class", "dana"), { recursive: true });
        await Deno.writeTextFile(join(dir, "class", "dana", "server.py"), DAEMON_HANG);
        const csv = join(dir, "class.csv");
        const junit = join(dir, "junit.xml");
        const out = await kit([
          "lab1",
          "--each",
          join(dir, "class"),
          "--server",
          `"${PY}" {dir}/server.py {port} ${marker}`,
          "--timeout",
          "120",
          "--submission-timeout",
          "6",
          "--csv",
          csv,
          "--junit",
          junit,
        ], isolation === "off" ? { CONFORMANCE_NETNS: "off" } : {});
        assert.equal(out.code, 1, out.stderr);
        assert.match(
          out.stderr,
          /^dana: .* \(TIMEOUT: stopped after 6 s \(--submission-timeout\)/m,
        );
        const [row] = await parseCsv(csv);
        assert.equal(row.end, "TIMEOUT");
        assert.equal(row["lab1.starts status"], "PASS", JSON.stringify(row));
        const notReached = checkSpecs("lab1", { server: true })
          .filter((c) => row[`${c.id} status`] === "NOT_RUN");
        assert.ok(notReached.length >= 1, JSON.stringify(row));
        for (const c of notReached) {
          assert.match(row[`${c.id} reason`], /^not reached: stopped after 6 s/);
          assert.equal(row[`${c.id} points`], "0");
        }
        assert.match(
          await Deno.readTextFile(junit),
          /<error message="stopped after 6 s[^"]*" type="TIMEOUT">/,
        );
        assert.deepEqual(processesWith(marker), [], "the daemon outlived its submission");
      }),
    { netns: isolation === "netns" },
  );
}

pythonTest(
  "no namespaces: programs fixed on one port are graded one at a time, and the kit says so",
  () =>
    withTemp("class_", async (dir) => {
      for (const student of ["a", "b"]) {
        await Deno.mkdir(join(dir, "class", student), { recursive: true });
        await Deno.copyFile(
          join(CLASS, "correct", "server.py"),
          join(dir, "class", student, "server.py"),
        );
      }
      const port = freePort();
      const out = await kit([
        "lab1",
        "--each",
        join(dir, "class"),
        "--server",
        `"${PY}" {dir}/server.py ${port}`,
        "--port",
        `${port}`,
        "--checks",
        "lab1.upper",
        "--jobs",
        "2",
        "--json",
      ], { CONFORMANCE_NETNS: "off" });
      assert.match(out.stderr, /^note: no private loopback here .* one at a time$/m);
      assert.deepEqual(verdicts(JSON.parse(out.stdout)), [
        ["a", "graded", "lab1.starts=PASS", "lab1.upper=PASS"],
        ["b", "graded", "lab1.starts=PASS", "lab1.upper=PASS"],
      ], out.stderr);
    }),
);

pythonTest(
  "--csv: points, status and reason per check, as the report has them",
  () =>
    withTemp("class_", async (dir) => {
      const csv = join(dir, "class.csv");
      await Deno.writeTextFile(
        join(dir, "weights.json"),
        JSON.stringify({ handout: 3, "lab1.client.prompt": 5 }),
      );
      const out = await kit([
        "lab1",
        "--each",
        CLIENTS,
        "--client",
        CLIENT(),
        "--weights",
        join(dir, "weights.json"),
        "--csv",
        csv,
        "--json",
      ]);
      assert.equal(out.code, 1, out.stderr);
      const rows: BatchRow[] = JSON.parse(out.stdout);
      const table = await parseCsv(csv);
      assert.deepEqual(table.map((r) => r.student), ["alice", "bob", "carol"]);
      const worth: Record<string, number> = { "lab1.client.reply": 3, "lab1.client.prompt": 5 };
      const share: Record<string, number> = { PASS: 1, WARN: 0.5 };
      for (const [i, row] of rows.entries()) {
        const line = table[i];
        let score = 0;
        for (const c of row.report.checks) {
          const points = worth[c.id] * (share[c.status] ?? 0);
          score += points;
          assert.equal(line[`${c.id} status`], c.status, row.student);
          assert.equal(line[`${c.id} reason`], c.reason, row.student);
          assert.equal(Number(line[`${c.id} points`]), points, `${row.student} ${c.id}`);
        }
        assert.equal(Number(line.score), score, row.student);
        assert.equal(line.max_score, "8");
        assert.equal(line.end, "graded");
      }
      // alice passes both; bob has no prompt; carol handed in no client.py.
      assert.deepEqual(table.map((r) => r.score), ["8", "5.5", "0"]);
      assert.match(table[2]["lab1.client.reply reason"], /No such file or directory/);
    }),
);

pythonTest(
  "--weights: an unknown key is exit 2 naming the valid ids; a check's name is accepted",
  () =>
    withTemp("weights_", async (dir) => {
      const file = join(dir, "weights.json");
      await Deno.writeTextFile(file, JSON.stringify({ handout: 1, "lab1.64kb": 4 }));
      const args = ["lab1", "--each", CLIENTS, "--client", CLIENT(), "--weights", file];
      const bad = await kit(args);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(
        bad.stderr,
        /^error: --weights .*: unknown key "lab1\.64kb": valid keys are handout, beyond/m,
      );
      for (const c of checkSpecs("lab1")) assert.ok(bad.stderr.includes(c.id), c.id);
      await Deno.writeTextFile(
        file,
        JSON.stringify({ "client: prompt": 0, "lab1.client.reply": 1 }),
      );
      const csv = join(dir, "class.csv");
      const ok = await kit([...args, "--csv", csv]);
      assert.equal(ok.code, 1, ok.stderr);
      assert.deepEqual((await parseCsv(csv)).map((r) => r.max_score), ["1", "1", "1"]);
    }),
);

pythonTest(
  "exit codes: 0 all passed, 1 a check failed, 2 bad usage, 3 the kit could not run",
  () =>
    withTemp("exit_", async (dir) => {
      await copyDir(join(CLIENTS, "alice"), join(dir, "class", "alice"));
      const batch = ["lab1", "--each", join(dir, "class"), "--client", CLIENT()];
      assert.equal((await kit(batch)).code, 0);
      const failed = await kit(["lab1", "--each", CLIENTS, "--client", CLIENT()]);
      assert.equal(failed.code, 1, failed.stderr);
      assert.equal(
        failed.stdout,
        [
          "student  score  passed  failed  warnings  not run",
          "alice      4/4       2       0         0        0",
          "bob        3/4       1       0         1        0",
          "carol      0/4       0       1         0        1",
          "",
        ].join("\n"),
      );
      for (
        const extra of [
          ["--jobs", "0"],
          ["--submission-timeout", "soon"],
          ["--gradescope", "r.json"],
        ]
      ) {
        const bad = await kit([...batch, ...extra]);
        assert.equal(bad.code, 2, `${extra}: ${bad.stderr}`);
      }
      for (const flag of ["--html", "--jobs"]) {
        const bad = await kit(["lab1", "--client", `"${PY}" client.py {host} {port}`, flag, "2"]);
        assert.equal(bad.code, 2, `${flag}: ${bad.stderr}`);
        assert.match(bad.stderr, new RegExp(`^error: ${flag} is for batch mode`, "m"));
      }
      const alice = `"${PY}" ${join(CLIENTS, "alice", "client.py")} {host} {port}`;
      const badVisibility = await kit(["lab1", "--client", alice, "--visibility", "everyone"]);
      assert.equal(badVisibility.code, 2);
      assert.match(badVisibility.stderr, /^error: --visibility everyone: one of visible, hidden/m);
      // No temporary folder can be made: the kit itself cannot run.
      const broken = { TMPDIR: join(dir, "no such folder") };
      const results = join(dir, "results.json");
      const single = await kit([
        "lab1",
        "--client",
        alice,
        "--gradescope",
        results,
      ], broken);
      assert.equal(single.code, 3, single.stderr);
      const written = JSON.parse(await Deno.readTextFile(results));
      assert.equal(written.score, 0);
      assert.match(written.output, /^The autograder itself could not run/);
      const many = await kit(batch, broken);
      assert.equal(many.code, 3, many.stderr);
      assert.match(many.stderr, /^alice: .*\(KIT_ERROR: the kit could not run: /m);
    }),
);

const chromium = findChromium();

// A client that prints markup, in a folder named like markup: the page must show both as text.
const MARKUP_CLIENT = `
import sys
from socket import *
s = socket(AF_INET, SOCK_STREAM)
s.connect((sys.argv[1], int(sys.argv[2])))
print('<script>document.title = "owned"</script><img id=injected src=x>')
`;

Deno.test({
  name: PY && chromium
    ? "--html: one page a browser shows: statuses in colour, reasons, totals, sorting by name and score"
    : "--html in a browser (skipped: needs python3 and chromium)",
  ignore: !PY || !chromium,
  fn: () =>
    withTemp("class_html_", async (dir) => {
      const course = join(dir, "class");
      await copyDir(CLIENTS, course);
      const evil = "<img src=x id=evil>";
      await Deno.mkdir(join(course, evil));
      await Deno.writeTextFile(join(course, evil, "client.py"), MARKUP_CLIENT);
      // A client that never ends: stopped at the cap, its checks NOT_RUN.
      await Deno.mkdir(join(course, "zed"));
      await Deno.writeTextFile(join(course, "zed", "client.py"), "import time\ntime.sleep(60)\n");
      const html = join(dir, "class.html");
      const out = await kit([
        "lab1",
        "--each",
        course,
        "--client",
        CLIENT(),
        "--submission-timeout",
        "4",
        "--html",
        html,
        "--json",
      ]);
      assert.equal(out.code, 1, out.stderr);
      const rows: BatchRow[] = JSON.parse(out.stdout);
      const text = await Deno.readTextFile(html);
      assert.doesNotMatch(text, /<(link|img|iframe)\b|src=["']?http/, "one file, nothing fetched");

      await using page = await openPage(chromium!);
      await page.send("Emulation.setDeviceMetricsOverride", {
        width: 1100,
        height: 620,
        deviceScaleFactor: 1,
        mobile: false,
      });
      await page.goto(`file://${html}`);
      assert.equal(await page.evaluate<string>("document.title"), "lab1_echo: 5 students");
      assert.equal(
        await page.evaluate<number>("document.querySelectorAll('#injected, #evil').length"),
        0,
      );
      const names = () =>
        page.evaluate<string[]>(
          "[...document.querySelectorAll('tr.student')].map((r) => r.dataset.name)",
        );
      // The kit's order: by name, as code points ("<" before letters).
      assert.deepEqual(await names(), [evil, "alice", "bob", "carol", "zed"]);
      // Each cell: its status's colour, its reason in the tooltip; totals out of the same maximum.
      const cells = await page.evaluate<{ status: string; title: string; color: string }[][]>(
        `[...document.querySelectorAll('tr.student')].map((r) => [...r.querySelectorAll('td.s')]
          .map((td) => ({ status: td.classList[1], title: td.title, color: getComputedStyle(td).backgroundColor })))`,
      );
      const colour: Record<string, string> = {};
      for (const [i, row] of rows.entries()) {
        for (const [j, check] of row.report.checks.entries()) {
          const cell = cells[i][j];
          assert.equal(cell.status, check.status, `${row.student} ${check.id}`);
          assert.ok(cell.title.endsWith(check.reason), `${cell.title} / ${check.reason}`);
          colour[check.status] ??= cell.color;
          assert.equal(cell.color, colour[check.status]);
        }
      }
      const statuses = Object.keys(colour).sort();
      assert.deepEqual(statuses, ["FAIL", "NOT_RUN", "PASS", "WARN"]);
      assert.equal(new Set(Object.values(colour)).size, statuses.length, JSON.stringify(colour));
      const scores = () =>
        page.evaluate<string[]>(
          "[...document.querySelectorAll('tr.student td.score')].map((td) => td.textContent)",
        );
      assert.deepEqual(await scores(), ["0", "4", "3", "0", "0"]);
      assert.match(
        await page.evaluate<string>("document.querySelector('thead').textContent"),
        /Score of 4/,
      );
      assert.equal(
        await page.evaluate<string>("document.querySelector('.badge').textContent"),
        "TIMEOUT",
      );
      // Sorting: by score, highest first, ties by name; again, lowest first; then by name.
      await page.evaluate("document.querySelector('th[data-sort=score] button').click()");
      assert.deepEqual(await names(), ["alice", "bob", evil, "carol", "zed"]);
      await page.evaluate("document.querySelector('th[data-sort=score] button').click()");
      assert.deepEqual(await names(), [evil, "carol", "zed", "bob", "alice"]);
      await page.evaluate("document.querySelector('th[data-sort=name] button').click()");
      assert.deepEqual(await names(), [evil, "alice", "bob", "carol", "zed"]);
      await page.evaluate("document.querySelector('th[data-sort=name] button').click()");
      assert.deepEqual(await names(), ["zed", "carol", "bob", "alice", evil]);
      // A click on a name shows every reason under it, the markup as text.
      await page.evaluate(
        `[...document.querySelectorAll('button.toggle')].find((b) => b.textContent === ${
          JSON.stringify(evil)
        }).click()`,
      );
      const why = await page.evaluate<string>(
        "[...document.querySelectorAll('tr.why')].find((r) => !r.hidden).textContent",
      );
      assert.match(why, /<script>document\.title = \\?"owned\\?"<\/script>/);
      assert.equal(await page.evaluate<string>("document.title"), "lab1_echo: 5 students");
      await page.evaluate("document.querySelector('th[data-sort=score] button').click()");
      await page.evaluate(
        "[...document.querySelectorAll('button.toggle')].find((b) => b.textContent === 'bob').click()",
      );
      const shot = await page.send("Page.captureScreenshot", { format: "png" });
      const png = Uint8Array.from(atob(shot.data as string), (c) => c.charCodeAt(0));
      await Deno.mkdir(join(ROOT, "tests", "artifacts"), { recursive: true });
      await Deno.writeFile(join(ROOT, "tests", "artifacts", "class_report.png"), png);
    }),
});

Deno.test("the zip writer: Python's zipfile reads back every byte, name and mode", async () => {
  if (!PY) return;
  await withTemp("zip_", async (dir) => {
    const data = new Uint8Array(70_000).map((_, i) => (i * 7919) % 251);
    const bytes = zip([
      {
        name: "run_autograder",
        data: new TextEncoder().encode("#!/bin/sh\necho hi\n"),
        mode: 0o755,
      },
      { name: "kit/café.ts", data },
      { name: "empty", data: new Uint8Array() },
    ]);
    await Deno.writeFile(join(dir, "a.zip"), bytes);
    await Deno.writeFile(join(dir, "data"), data);
    const out = await new Deno.Command(PY, {
      args: [
        "-c",
        "import json, sys, zipfile\n" +
        "z = zipfile.ZipFile(sys.argv[1])\n" +
        "assert z.testzip() is None\n" +
        "print(json.dumps([[i.filename, i.external_attr >> 16, len(z.read(i))] for i in z.infolist()]" +
        " + [z.read('kit/café.ts') == open(sys.argv[2], 'rb').read()]))",
        join(dir, "a.zip"),
        join(dir, "data"),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [
      ["run_autograder", 0o100755, 18],
      ["kit/café.ts", 0o100644, 70_000],
      ["empty", 0o100644, 0],
      true,
    ]);
  });
});

/** Unpacks a zip with Python's zipfile (which checks every CRC) into `to`. */
async function unzip(file: string, to: string): Promise<void> {
  const out = await new Deno.Command(PY!, {
    args: [
      "-c",
      "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nz.extractall(sys.argv[2])",
      file,
      to,
    ],
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

/** bash itself, found once: the runs below change PATH. */
const BASH = new TextDecoder().decode(
  new Deno.Command("sh", { args: ["-c", "command -v bash"], stdout: "piped" }).outputSync().stdout,
).trim();

/** Runs the bundle's run_autograder as Gradescope does, with `root` for /autograder. */
async function runAutograder(root: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(BASH, {
    args: [join(root, "run_autograder")],
    env: { AUTOGRADER_ROOT: root, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, log);
  return {
    log,
    results: JSON.parse(await Deno.readTextFile(join(root, "results", "results.json"))),
  };
}

pythonTest(
  "the Gradescope bundle grades a submission as Gradescope runs it, and says when it cannot",
  () =>
    withTemp("autograder_", async (dir) => {
      await Deno.writeTextFile(join(dir, "weights.json"), JSON.stringify({ beyond: 0.5 }));
      const bundle = join(dir, "autograder.zip");
      const built = await runScript(["-A"], script("conformance/autograder.ts"), [
        "lab1",
        "--server",
        `"${PY}" server.py {port}`,
        "--client",
        `"${PY}" client.py {host} {port}`,
        "--visibility",
        "after_published",
        "--weights",
        join(dir, "weights.json"),
        "--out",
        bundle,
      ]);
      assert.equal(built.code, 0, built.stderr);
      // Gradescope unpacks the zip into source/ and copies run_autograder up one folder.
      const root = join(dir, "autograder");
      await unzip(bundle, join(root, "source"));
      await Deno.copyFile(join(root, "source", "run_autograder"), join(root, "run_autograder"));
      for (
        const file of [
          "setup.sh",
          "run_autograder",
          "conformance/main.ts",
          "lab1_echo/client.ts",
          "deno.lock",
        ]
      ) {
        assert.ok((await Deno.stat(join(root, "source", file))).isFile, file);
      }
      await assert.rejects(Deno.stat(join(root, "source", "tests")));
      const deno = Deno.execPath().replace(/\/[^/]+$/, "");
      const path = { PATH: `${deno}:${Deno.env.get("PATH")}` };

      const grade = async (kind: string) => {
        await Deno.remove(join(root, "submission"), { recursive: true }).catch(() => {});
        await copyDir(join(CLASS, kind), join(root, "submission"));
        return await runAutograder(root, path);
      };
      const names = checkSpecs("lab1").map((c) => c.name);
      const good = await grade("correct");
      assert.deepEqual(good.results.tests.map((t: { name: string }) => t.name), names, good.log);
      assert.equal(good.results.visibility, "after_published");
      for (const t of good.results.tests) {
        assert.equal(t.visibility, "after_published");
        assert.equal(t.max_score, t.tags[0] === "handout" ? 2 : 0.5);
      }
      const max = good.results.tests.reduce(
        (n: number, t: { max_score: number }) => n + t.max_score,
        0,
      );
      const handout = good.results.tests.filter((t: { tags: string[] }) => t.tags[0] === "handout");
      assert.ok(handout.every((t: { status: string }) => t.status === "passed"), good.log);
      const bad = await grade("crashes");
      assert.ok(
        bad.results.score < good.results.score,
        `${bad.results.score} < ${good.results.score}`,
      );
      assert.ok(good.results.score <= max);
      const starts = bad.results.tests.find((t: { name: string }) => t.name === "upper-case reply");
      assert.equal(starts.status, "failed");
      assert.match(JSON.stringify(bad.results.tests), /AttributeError/);

      // No deno (setup.sh failed): a results.json that says so, not an empty grade.
      const bare = join(dir, "bare");
      await Deno.mkdir(bare);
      for (const tool of ["mkdir", "rm"]) {
        const where = new TextDecoder().decode(
          (await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "piped" })
            .output()).stdout,
        ).trim();
        await Deno.symlink(where, join(bare, tool));
      }
      const noDeno = await runAutograder(root, { PATH: bare });
      assert.match(noDeno.log, /kit exit 127/);
      assert.equal(noDeno.results.score, 0);
      assert.match(
        noDeno.results.output,
        /could not run, so nothing was graded: deno is not installed/,
      );
      assert.equal(noDeno.results.visibility, "after_published");
      // The kit itself fails (no temporary folder): it writes the results.json itself.
      const kitFails = await runAutograder(root, { ...path, TMPDIR: join(dir, "no such folder") });
      assert.equal(kitFails.results.score, 0);
      assert.match(
        kitFails.results.output,
        /^The autograder itself could not run, so nothing was graded: /,
      );
      assert.equal(kitFails.results.visibility, "after_published");
    }),
);

Deno.test("the bundle's setup.sh installs python3, iproute2 and Deno 2.9.6 from npm", async () => {
  await withTemp("setup_", async (dir) => {
    // Gradescope runs it as root on Ubuntu; here apt-get and npm are stand-ins that log.
    const bin = join(dir, "bin");
    await Deno.mkdir(bin);
    const log = join(dir, "log");
    const stub = (body: string) => `#!/bin/sh\necho "$(basename "$0") $*" >> "${log}"\n${body}\n`;
    await Deno.writeTextFile(join(bin, "apt-get"), stub(""));
    await Deno.writeTextFile(
      join(bin, "npm"),
      stub(
        `printf '#!/bin/sh\\necho "deno 2.9.6 (stable, release, x86_64-unknown-linux-gnu)"\\n' > "${bin}/deno"; chmod 755 "${bin}/deno"`,
      ),
    );
    for (const f of ["apt-get", "npm"]) await Deno.chmod(join(bin, f), 0o755);
    const { setupScript } = await import("../conformance/autograder.ts");
    await Deno.writeTextFile(join(dir, "setup.sh"), setupScript());
    const out = await new Deno.Command("bash", {
      args: [join(dir, "setup.sh")],
      env: { PATH: `${bin}:/usr/bin:/bin` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    const calls = await Deno.readTextFile(log);
    assert.match(calls, /^apt-get install -y -qq python3 iproute2 /m);
    assert.match(calls, /^npm install -g .*deno@2\.9\.6$/m);
    assert.match(text, /^deno 2\.9\.6 /m);
  });
});
