/**
 * `deno task starter`: the starter of every lab type-checks, its scripts answer `--help`, the kit
 * fails it and names what is left, the reference's regions put back pass the kit, no line of a
 * solution is in it, and one made from a fresh copy of the repository works on its own.
 */

import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { hasPython, ROOT, runProgram, type RunResult as Ran } from "../harness/process.ts";
import { DENO_VERSION } from "../conformance/autograder.ts";
import { xmlEscape } from "../conformance/junit.ts";
import {
  JUNIT_FILE,
  makeStarter,
  parseRegions,
  placeholder,
  type Region,
  STARTER_LABS,
  type StarterLab,
  starterLab,
  writeStarter,
} from "../tools/starter.ts";
import { parseYaml, type Yaml } from "./support/yaml_subset.ts";

/** The Deno running the tests first on PATH: the kit's templates say `deno`. */
const ENV = {
  PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`,
  NO_COLOR: "1",
};

/** Runs a program to its end (or a kill at `timeoutMs`), stdin closed. */
function exec(program: string, args: string[], cwd: string, timeoutMs = 120_000) {
  // INIT_CWD as a shell in `cwd` leaves it: `deno task` keeps an INIT_CWD it inherits, and
  // one from `deno task test` around this test would point the starter's task at the repository.
  return runProgram(program, args, { cwd, env: { ...ENV, INIT_CWD: cwd }, timeoutMs });
}

const deno = (args: string[], cwd: string) => exec(Deno.execPath(), args, cwd);

/** A new folder outside the repository; removed by the caller. */
async function scratch(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  assert.ok(relative(ROOT, dir).startsWith(".."), `${dir} must be outside ${ROOT}`);
  return dir;
}

/**
 * What a student who finished does: each `// YOUR CODE HERE` and its throw replaced with the
 * reference's region, except the exercises `left` names. Fails if a placeholder is missing.
 */
function fillIn(starter: string, reference: string, left: (what: string) => boolean): string {
  let text = starter;
  for (const region of parseRegions(reference)) {
    if (left(region.what)) continue;
    const gap = placeholder(region).join("\n");
    assert.ok(text.includes(gap), `no placeholder for "${region.what}" in the starter`);
    text = text.replace(gap, region.body.join("\n"));
  }
  return text;
}

/** The lab's starter in a new folder, its exercises done but those `left` names. */
async function starterIn(
  lab: StarterLab,
  left: (what: string) => boolean = () => true,
): Promise<string> {
  const dir = join(await scratch(`starter_${lab.name}_`), lab.name);
  await writeStarter(await makeStarter(lab), dir);
  await fillInFolder(dir, lab, left);
  return dir;
}

/** Fills in the lab's scripts of the starter in `dir` from the reference (see {@linkcode fillIn}). */
async function fillInFolder(dir: string, lab: StarterLab, left: (what: string) => boolean) {
  for (const entry of Deno.readDirSync(join(ROOT, lab.name))) {
    if (!entry.name.endsWith(".ts")) continue;
    const path = join(dir, lab.name, entry.name);
    const reference = await Deno.readTextFile(join(ROOT, lab.name, entry.name));
    await Deno.writeTextFile(path, fillIn(await Deno.readTextFile(path), reference, left));
  }
}

const removeScratch = (dir: string) => Deno.remove(dirname(dir), { recursive: true });

interface Report {
  checks: { name: string; level: string; status: string; reason: string }[];
  notes: string[];
}

/** `deno task grade` in the starter, with the report as JSON (and `extra` options for the kit). */
async function grade(dir: string, extra: string[] = []): Promise<Ran & { report: Report }> {
  const ran = await exec("deno", ["task", "-q", "grade", "--json", ...extra], dir, 300_000);
  let report: Report;
  try {
    report = JSON.parse(ran.stdout);
  } catch {
    throw new Error(`no JSON report (exit ${ran.code}): ${ran.stdout}\n${ran.stderr}`);
  }
  return { ...ran, report };
}

/** The report, a line per check, for assertion messages. */
const describe = (r: Report) =>
  [...r.checks.map((c) => `${c.status} ${c.level} ${c.name}: ${c.reason}`), ...r.notes].join("\n");

/** The exercises of the lab, as the starter numbers them. */
const exercisesOf = async (lab: StarterLab) => (await makeStarter(lab)).exercises;

/** Whether the kit shows an exercise's error: a client's stderr is in its checks' reasons. */
const named = (r: Report, what: string) => describe(r).includes(`not implemented: ${what}`);

for (const lab of STARTER_LABS) {
  Deno.test(`starter ${lab.name}: type-checks, and its scripts answer --help`, async () => {
    const dir = await starterIn(lab);
    try {
      // Every module, the kit's and the other labs' copies included, as a student's editor sees.
      const checked = await deno(["check", "--quiet", "."], dir);
      assert.equal(checked.code, 0, checked.stderr);
      for (const script of ["server.ts", "client.ts"]) {
        const help = await deno(["run", "--quiet", "-A", `${lab.name}/${script}`, "--help"], dir);
        assert.equal(help.code, 0, help.stderr);
        assert.match(help.stdout, new RegExp(`^usage: deno run \\.\\.\\. ${lab.name}/${script}`));
      }
    } finally {
      await removeScratch(dir);
    }
  });

  Deno.test(`starter ${lab.name}: the kit fails it, naming the client's unfinished exercise`, async () => {
    const dir = await starterIn(lab);
    try {
      const { code, report } = await grade(dir, ["--checks", "handout"]);
      assert.equal(code, 1, describe(report));
      assert.ok(report.checks.some((c) => c.level === "handout" && c.status === "FAIL"));
      // The client stops at the first of its exercises it reaches, and says which on stderr.
      const client = (await exercisesOf(lab)).filter((e) => e.file.endsWith("/client.ts"));
      const first = client.find((e) => named(report, e.what));
      assert.ok(first, `none of the client's exercises named:\n${describe(report)}`);
      // And so does the JUnit report a CI keeps.
      const junit = await Deno.readTextFile(join(dir, JUNIT_FILE));
      assert.match(junit, /<failure /);
      assert.ok(junit.includes(xmlEscape(`not implemented: ${first.what}`)), junit);
    } finally {
      await removeScratch(dir);
    }
  });

  Deno.test(`starter ${lab.name}: with the reference's regions put back, the kit passes it`, async () => {
    const dir = await starterIn(lab, () => false);
    try {
      const { code, report } = await grade(dir);
      const handout = report.checks.filter((c) => c.level === "handout");
      assert.ok(handout.length >= 3, describe(report));
      assert.deepEqual(handout.filter((c) => c.status !== "PASS"), [], describe(report));
      assert.deepEqual(report.checks.filter((c) => c.status === "FAIL"), [], describe(report));
      assert.equal(code, 0, describe(report));
    } finally {
      await removeScratch(dir);
    }
  });

  Deno.test(`starter ${lab.name}: each exercise left alone fails a handout check`, async () => {
    for (const exercise of await exercisesOf(lab)) {
      const dir = await starterIn(lab, (what) => what === exercise.what);
      try {
        const { code, report } = await grade(dir, ["--checks", "handout"]);
        const where = `${exercise.file}:${exercise.line} "${exercise.what}"`;
        assert.equal(code, 1, `${where} left undone, and the kit passes:\n${describe(report)}`);
        assert.ok(
          report.checks.some((c) => c.level === "handout" && c.status === "FAIL"),
          `${where}:\n${describe(report)}`,
        );
        // A client's unfinished part is named; a server's shows as what its clients saw.
        if (exercise.file.endsWith("/client.ts")) {
          assert.ok(named(report, exercise.what), `${where} not named:\n${describe(report)}`);
        }
      } finally {
        await removeScratch(dir);
      }
    }
  });
}

/** Every file of `dir`, as paths from it. */
function filesIn(dir: string, under = ""): string[] {
  return [...Deno.readDirSync(join(dir, under))].flatMap((e) =>
    e.isDirectory ? filesIn(dir, join(under, e.name)) : [join(under, e.name)]
  );
}

/** The reference's `.ts` files under the repository, with their regions. */
function referenceRegions(): { path: string; text: string; regions: Region[] }[] {
  return filesIn(ROOT).filter((p) => p.endsWith(".ts") && !p.startsWith("tests/"))
    .filter((p) => !p.startsWith("tools/") && !p.startsWith(".git"))
    .map((path) => {
      const text = Deno.readTextFileSync(join(ROOT, path));
      return { path, text, regions: parseRegions(text, path) };
    });
}

Deno.test("starter: no line of a solution region is in any starter, the kit's copy included", async () => {
  const reference = referenceRegions();
  const withRegions = reference.filter((r) => r.regions.length > 0);
  // Regions in every lab script, 1 to 3 each, and nowhere else.
  const scripts = STARTER_LABS.flatMap((l) => [`${l.name}/server.ts`, `${l.name}/client.ts`]);
  assert.deepEqual(withRegions.map((r) => r.path).sort(), scripts.sort());
  for (const { path, regions } of withRegions) {
    assert.ok(regions.length >= 1 && regions.length <= 3, `${path}: ${regions.length} regions`);
  }
  // The lines a solution has and the code around it has not: one of these in a starter is a leak.
  const trim = (line: string) => line.trim();
  const outside = new Set(reference.flatMap(({ text, regions }) => {
    const lines = text.split("\n");
    return lines.filter((_, i) => !regions.some((r) => i >= r.begin && i <= r.end)).map(trim);
  }));
  const solutionLines = new Map<string, string>();
  for (const { path, regions } of withRegions) {
    for (const region of regions) {
      const own = region.body.map(trim).filter((l) => l.length > 0 && !outside.has(l));
      // Else a leak of this region could go unseen.
      assert.ok(own.length > 0, `${path}: "${region.what}" has no line of its own`);
      for (const line of own) solutionLines.set(line, `${path}: "${region.what}"`);
    }
  }
  const leaks = (files: Map<string, Uint8Array>) =>
    [...files].flatMap(([file, data]) =>
      new TextDecoder().decode(data).split("\n").map(trim)
        .filter((line) => solutionLines.has(line) || /(BEGIN|END) SOLUTION/.test(line))
        .map((line) => `${file}: ${line} (from ${solutionLines.get(line)})`)
    );
  for (const lab of STARTER_LABS) {
    const starter = await makeStarter(lab);
    assert.deepEqual(leaks(starter.files), [], lab.name);
    // Every exercise of the lab is in it, as its placeholder.
    const own = withRegions.filter((r) => r.path.startsWith(`${lab.name}/`));
    assert.equal(starter.exercises.length, own.flatMap((r) => r.regions).length);
  }
  // The check sees a leak: the reference itself is full of them.
  const lab1 = await makeStarter(starterLab("lab1")!);
  lab1.files.set("lab1_echo/server.ts", Deno.readFileSync(join(ROOT, "lab1_echo/server.ts")));
  assert.ok(leaks(lab1.files).length > 0);
});

Deno.test("starter: outside the regions, each file is the reference's, byte for byte", async () => {
  for (const lab of STARTER_LABS) {
    for (const [path, data] of (await makeStarter(lab)).files) {
      // The starter's own: the rest is the reference's.
      if (["README.md", "deno.json", ".github/workflows/grade.yml"].includes(path)) continue;
      const text = Deno.readTextFileSync(join(ROOT, path));
      const regions = parseRegions(text, path);
      const lines = text.split("\n");
      const expected: string[] = [];
      let at = 0;
      for (const region of regions) {
        const why = `new Error("not implemented: ${region.what}")`;
        // A gap that returns the function's value throws; any other awaits a rejection, so the
        // code after it still type-checks.
        const returns = region.body.some((line) => /return [^;]/.test(line));
        expected.push(
          ...lines.slice(at, region.begin),
          `${region.indent}// YOUR CODE HERE: ${region.what}`,
          returns
            ? `${region.indent}throw ${why};`
            : `${region.indent}await Promise.reject(${why});`,
        );
        at = region.end + 1;
      }
      expected.push(...lines.slice(at));
      assert.equal(new TextDecoder().decode(data), expected.join("\n"), `${lab.name}: ${path}`);
    }
  }
});

Deno.test("starter: region markers that cannot be cut are refused, naming the line", () => {
  const cases: [string, RegExp][] = [
    ["a();\n// BEGIN SOLUTION do it\nb();\n", /x\.ts:2: BEGIN SOLUTION without its END/],
    ["a();\n// END SOLUTION\n", /x\.ts:2: END SOLUTION without a BEGIN/],
    ["// BEGIN SOLUTION one\n// BEGIN SOLUTION two\n// END SOLUTION\n", /x\.ts:2: .*inside/],
    ["// BEGIN SOLUTION\nb();\n// END SOLUTION\n", /x\.ts:1: BEGIN SOLUTION must say what/],
    ["b(); // BEGIN SOLUTION do it\n// END SOLUTION\n", /x\.ts:1: .*a comment line of its own/],
  ];
  for (const [text, error] of cases) assert.throws(() => parseRegions(text, "x.ts"), error);
});

/** The steps of the starter's workflow, parsed. */
function workflowSteps(text: string): { [key: string]: Yaml }[] {
  const doc = parseYaml(text) as { [key: string]: Yaml };
  const jobs = doc.jobs as { [job: string]: { [key: string]: Yaml } };
  assert.deepEqual(Object.keys(jobs), ["grade"]);
  return jobs.grade.steps as { [key: string]: Yaml }[];
}

Deno.test("starter: the workflow is YAML that grades every push and keeps the JUnit report", async () => {
  const { files } = await makeStarter(starterLab("lab1")!);
  const text = new TextDecoder().decode(files.get(".github/workflows/grade.yml"));
  const doc = parseYaml(text) as { [key: string]: Yaml };
  assert.ok(Object.hasOwn(doc.on as object, "push"), "runs on every push");
  assert.equal((doc.jobs as { grade: { "runs-on": string } }).grade["runs-on"], "ubuntu-latest");
  const steps = workflowSteps(text);
  const uses = steps.map((s) => String(s.uses ?? "").split("@")[0]);
  assert.deepEqual(uses, [
    "actions/checkout",
    "denoland/setup-deno",
    "",
    "actions/upload-artifact",
  ]);
  assert.deepEqual(steps[1].with, { "deno-version": DENO_VERSION });
  assert.equal(DENO_VERSION, Deno.version.deno, "the workflow's Deno is the one tested here");
  assert.equal(steps[2].run, "deno task grade");
  // The report is kept above all when grading failed, and it is the file the task writes.
  assert.equal(steps[3].if, "always()");
  const path = (steps[3].with as { path: string }).path;
  const task = JSON.parse(new TextDecoder().decode(files.get("deno.json"))).tasks.grade;
  assert.match(task, new RegExp(`--junit ${path}$`));
  // A YAML library reads it the same way, where one is installed (PyYAML, all values as text).
  if (!(await hasPython())) return;
  const file = await Deno.makeTempFile({ suffix: ".yml" });
  await Deno.writeTextFile(file, text);
  const py = await exec("python3", [
    "-c",
    "import json, sys, yaml; print(json.dumps(yaml.load(open(sys.argv[1]), Loader=yaml.BaseLoader)))",
    file,
  ], ROOT);
  await Deno.remove(file);
  if (py.code !== 0) return; // No PyYAML.
  const asText = (v: Yaml): unknown =>
    v === null
      ? ""
      : Array.isArray(v)
      ? v.map(asText)
      : typeof v === "object"
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asText(x)]))
      : String(v);
  assert.deepEqual(JSON.parse(py.stdout), asText(doc));
});

/**
 * Plays the workflow's steps in `dir` as a runner would, without GitHub: the checkout is the
 * folder itself, setup-deno the Deno on PATH (which must be the version it pins), each `run`
 * through `sh`, and the upload reads the file it would keep. After a failed step only `always()`
 * steps run. Returns the `run` steps' results and the kept file's text.
 */
async function playWorkflow(dir: string): Promise<{ runs: Ran[]; artifact?: string }> {
  const steps = workflowSteps(await Deno.readTextFile(join(dir, ".github/workflows/grade.yml")));
  const runs: Ran[] = [];
  let artifact: string | undefined;
  let failed = false;
  for (const step of steps) {
    if (failed && step.if !== "always()") continue;
    const uses = String(step.uses ?? "");
    const inputs = (step.with ?? {}) as { [key: string]: string };
    if (uses.startsWith("actions/checkout@")) {
      await Deno.stat(join(dir, "deno.json"));
    } else if (uses.startsWith("denoland/setup-deno@")) {
      const version = await exec("deno", ["--version"], dir);
      assert.match(version.stdout, new RegExp(`^deno ${inputs["deno-version"]} `));
    } else if (typeof step.run === "string") {
      const ran = await exec("sh", ["-c", step.run], dir, 300_000);
      runs.push(ran);
      failed ||= ran.code !== 0;
    } else if (uses.startsWith("actions/upload-artifact@")) {
      artifact = await Deno.readTextFile(join(dir, inputs.path));
    } else {
      assert.fail(`a step the dry run cannot play: ${JSON.stringify(step)}`);
    }
  }
  return { runs, artifact };
}

Deno.test("starter: made from a fresh copy of the repository, it grades on its own, as its workflow does", async () => {
  const tmp = await scratch("starter_clone_");
  try {
    // The repository as a clone has it (tracked files, and new ones not ignored), elsewhere.
    const clone = join(tmp, "labs");
    const listed = await exec("git", ["ls-files", "-z", "-co", "--exclude-standard"], ROOT);
    assert.equal(listed.code, 0, listed.stderr);
    for (const path of listed.stdout.split("\0").filter((p) => p !== "")) {
      const from = join(ROOT, path);
      if (!(await Deno.lstat(from).then((s) => s.isFile, () => false))) continue;
      await Deno.mkdir(dirname(join(clone, path)), { recursive: true });
      await Deno.copyFile(from, join(clone, path));
    }
    const dir = join(tmp, "course", "lab3");
    const made = await exec("deno", ["task", "-q", "starter", "lab3", dir], clone);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /lab3_file starter in .*: 6 exercises/);
    await Deno.remove(clone, { recursive: true });
    // No deno.json of ours (or anyone's) above it: its own is the one that counts.
    for (let up = dirname(dir); up !== dirname(up); up = dirname(up)) {
      for (const name of ["deno.json", "deno.jsonc", "package.json"]) {
        assert.equal(await Deno.stat(join(up, name)).then(() => true, () => false), false);
      }
    }

    const fresh = await playWorkflow(dir);
    assert.equal(fresh.runs.length, 1);
    assert.equal(fresh.runs[0].code, 1, fresh.runs[0].stdout + fresh.runs[0].stderr);
    assert.match(fresh.runs[0].stdout, /FAIL +handout/);
    assert.match(fresh.artifact!, /<failure [^>]*message="[^"]*not implemented: /);

    await fillInFolder(dir, starterLab("lab3")!, () => false);
    const done = await playWorkflow(dir);
    assert.equal(done.runs[0].code, 0, done.runs[0].stdout + done.runs[0].stderr);
    assert.match(done.artifact!, /<testsuite /);
    assert.doesNotMatch(done.artifact!, /<failure /);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("deno task starter LAB DIR --zip FILE: the folder, and a zip of it under its name; a folder not empty and an unknown lab refused", async () => {
  const tmp = await scratch("starter_cli_");
  const task = (args: string[]) =>
    exec("deno", ["task", "-q", "--config", join(ROOT, "deno.json"), "starter", ...args], tmp);
  try {
    // Relative to the folder the task was run in, not the repository.
    const made = await task(["lab2", "handout", "--zip", "handout.zip"]);
    assert.equal(made.code, 0, made.stderr);
    const { files } = await makeStarter(starterLab("lab2")!);
    const written = filesIn(join(tmp, "handout")).sort();
    assert.deepEqual(written, [...files.keys()].sort());
    for (const path of written) {
      assert.deepEqual(await Deno.readFile(join(tmp, "handout", path)), files.get(path), path);
    }
    const archive = await Deno.readFile(join(tmp, "handout.zip"));
    assert.deepEqual([...archive.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04]);
    if (await hasPython()) {
      // Another implementation reads it back: CRCs checked, then every file the same.
      const tested = await exec("python3", ["-m", "zipfile", "-t", "handout.zip"], tmp);
      assert.equal(tested.code, 0, tested.stdout + tested.stderr);
      const unpacked = await exec("python3", ["-m", "zipfile", "-e", "handout.zip", "out"], tmp);
      assert.equal(unpacked.code, 0, unpacked.stderr);
      assert.deepEqual(filesIn(join(tmp, "out")).sort(), written.map((p) => `handout/${p}`));
      for (const path of written) {
        assert.deepEqual(await Deno.readFile(join(tmp, "out/handout", path)), files.get(path));
      }
    }

    const again = await task(["lab2", "handout"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: .*handout is not empty: give a new folder$/m);
    const unknown = await task(["lab9", "elsewhere"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error: unknown lab 'lab9'/m);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
