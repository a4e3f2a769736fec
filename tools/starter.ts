/**
 * `deno task starter LAB DIR [--zip FILE]`: the folder a student starts a lab from, cut from the
 * reference. In the lab's scripts each region between `// BEGIN SOLUTION <what to do>` and
 * `// END SOLUTION` becomes `// YOUR CODE HERE: <what to do>` and a line that throws
 * `not implemented: <what to do>`, so the starter type-checks and fails loudly where work is left.
 * Beside the scripts: `common/` as it is, the conformance kit with what it imports, a README for
 * the student, a `deno.json` whose `deno task grade` runs the kit on the student's scripts, and a
 * GitHub Actions workflow that runs the same on every push and keeps the kit's JUnit report.
 *
 * The kit tests a lone client against its own copy of the lab's server (`lab1_echo`, `lab_udp`)
 * and imports the other labs' servers. Those copies cannot be the reference, or the starter would
 * hand out the solution: every module of the starter is cut, so in it the kit's peer is the
 * student's own server, and other labs' modules come with their gaps.
 *
 * Run: `deno task starter lab1_echo /tmp/lab1-starter --zip /tmp/lab1-starter.zip`
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCli, UsageError } from "../common/cli.ts";
import { Failure, runMain } from "../common/errors.ts";
import { DENO_VERSION, kitFiles } from "../conformance/autograder.ts";
import { zip } from "../conformance/zip.ts";

/** The repository root, where the reference is read from. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/** The file the kit's JUnit report goes to, in the starter (the workflow uploads it). */
export const JUNIT_FILE = "conformance.xml";

/** One lab a starter can be made for: its folder and how the kit runs the student's scripts. */
export interface StarterLab {
  /** The lab's folder, also the kit's name for it. */
  name: string;
  aliases: string[];
  /** `--server` and `--client` for the kit, relative to the starter's root. */
  server: string;
  client: string;
}

const run = (flags: string, args: string) => `deno run --quiet ${flags} ${args}`;

/** The labs, with the least-privilege flags their READMEs give. */
export const STARTER_LABS: StarterLab[] = [
  {
    name: "lab1_echo",
    aliases: ["lab1", "echo"],
    server: run("--allow-net", "lab1_echo/server.ts -p {port}"),
    client: run("--allow-net=127.0.0.1", "lab1_echo/client.ts -a {host} -p {port}"),
  },
  {
    name: "lab2_sum",
    aliases: ["lab2", "sum"],
    server: run("--allow-net", "lab2_sum/server.ts -p {port}"),
    client: run(
      "--allow-net=127.0.0.1",
      "lab2_sum/client.ts -a {host} -p {port} --name {name} --number {number}",
    ),
  },
  {
    name: "lab3_file",
    aliases: ["lab3", "file"],
    server: run("--allow-net --allow-read=.", "lab3_file/server.ts -p {port}"),
    client: run(
      "--allow-net=127.0.0.1 --allow-read=. --allow-write=.",
      "lab3_file/client.ts {host}:{port}:{remote} {local}",
    ),
  },
  {
    name: "lab_udp",
    aliases: ["udp"],
    server: run("--unstable-net --allow-net", "lab_udp/server.ts -p {port}"),
    client: run(
      "--unstable-net --allow-net=0.0.0.0:0,127.0.0.1",
      "lab_udp/client.ts -a {host} -p {port}",
    ),
  },
  {
    name: "lab_http",
    aliases: ["http"],
    server: run("--allow-net --allow-read=.", "lab_http/server.ts -p {port}"),
    client: run(
      "--allow-net=127.0.0.1 --allow-read=. --allow-write=.",
      "lab_http/client.ts {url} -o {local}",
    ),
  },
];

/**
 * The lab for a name or alias (`lab1`, `echo`, `lab1_echo`), or `undefined`.
 *
 * @example
 * ```ts
 * starterLab("udp")?.name; // "lab_udp"
 * ```
 */
export function starterLab(name: string): StarterLab | undefined {
  return STARTER_LABS.find((lab) => lab.name === name || lab.aliases.includes(name));
}

/** One `// BEGIN SOLUTION` ... `// END SOLUTION` region of a script. */
export interface Region {
  /** What the student is to do, as the BEGIN line says it. */
  what: string;
  /** The BEGIN line's indentation, given to the placeholder. */
  indent: string;
  /** 0-based line numbers of the BEGIN and END markers. */
  begin: number;
  end: number;
  /** The lines between the markers: the solution. */
  body: string[];
}

const BEGIN = /^(\s*)\/\/ BEGIN SOLUTION\b ?(.*?)\s*$/;
const END = /^\s*\/\/ END SOLUTION\s*$/;
// Anything that looks like a marker: one that is not on a line of its own would be missed.
const MARKER = /\/\/\s*(BEGIN|END)\s+SOLUTION/;

/**
 * The solution regions of a script, in order. Throws an `Error` naming the file and line for a
 * BEGIN without its END (or the reverse), a region inside another, a BEGIN that says nothing to
 * do, or a marker that is not a line of its own.
 *
 * @example
 * ```ts
 * const text = "f();\n// BEGIN SOLUTION say hi\nhi();\n// END SOLUTION\n";
 * parseRegions(text)[0].what; // "say hi"
 * ```
 */
export function parseRegions(text: string, file = "<text>"): Region[] {
  const regions: Region[] = [];
  let open: Region | undefined;
  text.split("\n").forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    const begin = line.match(BEGIN);
    if (begin) {
      if (open) {
        throw new Error(`${where}: BEGIN SOLUTION inside the region of line ${open.begin + 1}`);
      }
      if (!begin[2]) throw new Error(`${where}: BEGIN SOLUTION must say what to do`);
      open = { what: begin[2], indent: begin[1], begin: i, end: -1, body: [] };
    } else if (END.test(line)) {
      if (!open) throw new Error(`${where}: END SOLUTION without a BEGIN SOLUTION`);
      open.end = i;
      regions.push(open);
      open = undefined;
    } else if (MARKER.test(line)) {
      throw new Error(`${where}: a SOLUTION marker must be a comment line of its own`);
    } else {
      open?.body.push(line);
    }
  });
  if (open) throw new Error(`${file}:${open.begin + 1}: BEGIN SOLUTION without its END SOLUTION`);
  return regions;
}

/**
 * The two lines that stand for a region in the starter.
 *
 * @example
 * ```ts
 * placeholder({ what: "say hi", indent: "  ", begin: 0, end: 2, body: ["  await hi();"] });
 * // ["  // YOUR CODE HERE: say hi", '  await Promise.reject(new Error("not implemented: say hi"));']
 * placeholder({ what: "answer", indent: "  ", begin: 0, end: 2, body: ["  return 42;"] });
 * // ["  // YOUR CODE HERE: answer", '  throw new Error("not implemented: answer");']
 * ```
 */
export function placeholder(region: Region): string[] {
  const message = JSON.stringify(`not implemented: ${region.what}`);
  // A region that returns the function's value (`return x`) becomes a `throw`. Any other becomes a rejected
  // promise awaited: after a `throw` statement the type checker narrows nothing (the rest of the
  // function is unreachable to it), so the code after lab3's gaps would not type-check, and
  // editors would grey it out. Such gaps are all in async functions.
  const returns = region.body.some((line) => /\breturn\s+[^\s;]/.test(line));
  return [
    `${region.indent}// YOUR CODE HERE: ${region.what}`,
    returns
      ? `${region.indent}throw new Error(${message});`
      : `${region.indent}await Promise.reject(new Error(${message}));`,
  ];
}

/**
 * A script with its regions cut: each becomes its {@linkcode placeholder}, except those `keep`
 * chooses, which stay as the solution without their markers.
 *
 * @example
 * ```ts
 * const text = "f();\n// BEGIN SOLUTION say hi\nhi();\n// END SOLUTION\n";
 * cutRegions(text); // "f();\n// YOUR CODE HERE: say hi\nthrow new Error(...);\n"
 * cutRegions(text, "f.ts", () => true); // "f();\nhi();\n"
 * ```
 */
export function cutRegions(
  text: string,
  file = "<text>",
  keep: (region: Region, index: number) => boolean = () => false,
): string {
  const lines = text.split("\n");
  const out: string[] = [];
  let at = 0;
  parseRegions(text, file).forEach((region, i) => {
    out.push(...lines.slice(at, region.begin));
    out.push(...(keep(region, i) ? region.body : placeholder(region)));
    at = region.end + 1;
  });
  out.push(...lines.slice(at));
  return out.join("\n");
}

/** An exercise of a starter: a region of one of the lab's own files. */
export interface Exercise {
  /** The file in the starter, from its root. */
  file: string;
  /** 1-based line of the `// YOUR CODE HERE` line in the starter. */
  line: number;
  what: string;
}

/** What {@linkcode makeStarter} returns: every file, by its path in the starter, and the tasks. */
export interface Starter {
  lab: StarterLab;
  files: Map<string, Uint8Array>;
  exercises: Exercise[];
}

/** Every file under `dir` (a path from the repository's root), in name order. */
function filesUnder(dir: string): string[] {
  const entries = [...Deno.readDirSync(join(ROOT, dir))].sort((a, b) => a.name < b.name ? -1 : 1);
  return entries.flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    return entry.isDirectory ? filesUnder(path) : entry.isFile ? [path] : [];
  });
}

/**
 * Builds a lab's starter from the reference (nothing is written): the lab's folder (its README
 * aside) with every region cut, `common/`, the kit with every file it imports or runs
 * (`kitFiles`, as the Gradescope bundle takes it), the lab modules among them cut as well (in
 * the starter they are the student's own scripts, or another lab's starter), and the README,
 * `deno.json` and workflow {@linkcode starterReadme}, {@linkcode starterConfig} and
 * {@linkcode gradeWorkflow} make.
 *
 * @example
 * ```ts
 * const { files, exercises } = await makeStarter(starterLab("lab1_echo")!);
 * console.log([...files.keys()], exercises);
 * ```
 */
export async function makeStarter(lab: StarterLab): Promise<Starter> {
  // The starter has a deno.json of its own, and nothing to lock.
  const kit = (await kitFiles()).filter((path) => path !== "deno.json" && path !== "deno.lock");
  const paths = new Set([...filesUnder(lab.name), ...filesUnder("common"), ...kit]);
  paths.delete(`${lab.name}/README.md`);
  const files = new Map<string, Uint8Array>();
  const exercises: Exercise[] = [];
  const encoder = new TextEncoder();
  for (const path of [...paths].sort()) {
    const bytes = Deno.readFileSync(join(ROOT, path));
    if (!path.endsWith(".ts")) {
      files.set(path, bytes);
      continue;
    }
    const text = new TextDecoder().decode(bytes);
    const cut = cutRegions(text, path);
    files.set(path, encoder.encode(cut));
    if (!path.startsWith(`${lab.name}/`)) continue;
    cut.split("\n").forEach((line, i) => {
      const what = line.match(/^\s*\/\/ YOUR CODE HERE: (.*)$/)?.[1];
      if (what !== undefined) exercises.push({ file: path, line: i + 1, what });
    });
  }
  // The kit runs the server before the client, and lab 1's and UDP's client checks use the
  // student's server as their peer: the server's exercises come first.
  exercises.sort((a, b) =>
    Number(a.file.endsWith("/client.ts")) - Number(b.file.endsWith("/client.ts")) ||
    (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line)
  );
  const seen = new Set<string>();
  for (const { file, what } of exercises) {
    if (seen.has(what)) {
      throw new Error(`${file}: two exercises say "${what}": each needs its own words`);
    }
    seen.add(what);
  }
  const others = STARTER_LABS.map((l) => l.name)
    .filter((name) => name !== lab.name && [...paths].some((p) => p.startsWith(`${name}/`)));
  files.set("README.md", encoder.encode(starterReadme(lab, exercises, others)));
  files.set("deno.json", encoder.encode(starterConfig(lab)));
  files.set(".github/workflows/grade.yml", encoder.encode(gradeWorkflow()));
  return { lab, files, exercises };
}

/**
 * The `deno task grade` command line: the kit on the student's scripts, its JUnit report to
 * {@linkcode JUNIT_FILE}.
 *
 * @example
 * ```ts
 * gradeCommand(starterLab("lab1")!); // "deno run --allow-all conformance/main.ts lab1_echo ..."
 * ```
 */
export function gradeCommand(lab: StarterLab): string {
  return `deno run --allow-all conformance/main.ts ${lab.name} --server '${lab.server}' ` +
    `--client '${lab.client}' --junit ${JUNIT_FILE}`;
}

/**
 * The starter's `deno.json`: `deno task grade`, and `--unstable-net` for the kit's UDP sockets.
 *
 * @example
 * ```ts
 * JSON.parse(starterConfig(starterLab("udp")!)).tasks.grade;
 * ```
 */
export function starterConfig(lab: StarterLab): string {
  const config = { unstable: ["net"], lock: false, tasks: { grade: gradeCommand(lab) } };
  return JSON.stringify(config, null, 2) + "\n";
}

/**
 * The GitHub Actions workflow of the starter, GitHub Classroom's way: on every push, check out,
 * install Deno, `deno task grade`, and keep the kit's JUnit report as an artifact, also (above
 * all) when a check failed.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("grade.yml", gradeWorkflow());
 * ```
 */
export function gradeWorkflow(): string {
  return `# Grades every push with the conformance kit, as \`deno task grade\` does on your machine.
# The report is the run's "conformance-report" artifact (Actions tab, the run, Artifacts).
name: grade
on:
  push:
  workflow_dispatch:
permissions:
  contents: read
jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
      - name: Check out the code
        uses: actions/checkout@v4
      - name: Install Deno ${DENO_VERSION}
        uses: denoland/setup-deno@v2
        with:
          deno-version: ${DENO_VERSION}
      - name: Grade with the conformance kit
        run: deno task grade
      - name: Keep the kit's JUnit report
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: conformance-report
          path: ${JUNIT_FILE}
`;
}

/** The sections of a markdown text by their `## ` heading (outside code blocks); "" is the top. */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  let heading = "";
  let fenced = false;
  let lines: string[] = [];
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    if (!fenced && line.startsWith("## ")) {
      out.set(heading, lines.join("\n").trim());
      heading = line.slice(3).trim();
      lines = [];
    } else {
      lines.push(line);
    }
  }
  out.set(heading, lines.join("\n").trim());
  return out;
}

/**
 * The student's README: the task in the lab README's words, the exercises numbered with where
 * they are, the protocol and run lines from the lab README, and how to check the work.
 *
 * @example
 * ```ts
 * const { exercises } = await makeStarter(starterLab("lab1")!);
 * console.log(starterReadme(starterLab("lab1")!, exercises, ["lab_udp"]));
 * ```
 */
export function starterReadme(lab: StarterLab, exercises: Exercise[], others: string[]): string {
  const readme = sections(Deno.readTextFileSync(join(ROOT, lab.name, "README.md")));
  const [title, ...intro] = readme.get("")!.split("\n");
  const peer = lab.name === "lab1_echo"
    ? "\n\nThe kit has no server of its own here: it tests your client against your server,\n" +
      'and its "our client against it" check runs your client. Finish the server first.'
    : lab.name === "lab_udp"
    ? "\n\nThe kit has no server of its own here: it tests your client against your server.\n" +
      "Finish the server first."
    : "";
  const list = exercises.map((e, i) => `${i + 1}. \`${e.file}\`, line ${e.line}: ${e.what}.`);
  const other = others.length === 0
    ? ""
    : `\n- ${others.map((d) => `\`${d}/\``).join(", ")}: not part of this lab; the kit loads ${
      others.length === 1 ? "it" : "them"
    } (another lab's starter, with its gaps).`;
  return `${title}

${intro.join("\n").trim()}

## Your task

The scripts in \`${lab.name}/\` already run: they parse their options, open and close their
sockets and report errors. What the lab is about is left to you: each part is marked
\`// YOUR CODE HERE: ...\`, followed by a line that throws \`not implemented: ...\` until you replace
both with your code. What a part may use is declared above it; the code below it shows what it
must leave done.

${list.join("\n")}

Keep the names other files use (the exported functions and their options): the conformance kit
imports them.${peer}

## Protocol

${readme.get("Protocol") ?? ""}

## Run

${readme.get("Run") ?? ""}

## Check your work

\`\`\`sh
deno task grade
\`\`\`

runs the conformance kit (\`conformance/\`) on your scripts, with the checks your instructor grades
with: each is labelled \`handout\` (what the assignment asks) or \`beyond\` (what a robust program
does), and a \`handout\` check that does not pass is a \`FAIL\`. It prints one line per check with
what it expected and what came back, writes the same as JUnit XML to \`${JUNIT_FILE}\`, and exits 0
when no check failed. A program that fails says so in the report: a part still to do shows as
\`not implemented: ...\`, from its error message. A server keeps serving when one client fails, so
an unfinished server part shows in the report as what the client saw (no reply, a closed
connection) and in the server's own log; \`grep -rn "not implemented" ${lab.name}/\` lists what is
left.

\`deno check ${lab.name}/*.ts\` type-checks your scripts.

On GitHub, \`.github/workflows/grade.yml\` runs \`deno task grade\` on every push: the run's page
(Actions tab) shows the report, and its \`conformance-report\` artifact holds \`${JUNIT_FILE}\`.

## What is in this folder

- \`${lab.name}/\`: the lab's scripts, which you complete, and its other modules, complete;
- \`common/\`: what every lab uses (arguments, exact reads and writes, errors, the log), about ten
  minutes of reading;
- \`conformance/\`, \`harness/\`: the conformance kit that \`deno task grade\` runs; leave them as
  they are;${other}
- \`deno.json\` (the \`grade\` task) and \`.github/workflows/grade.yml\`.
`;
}

/**
 * Writes a starter into `dir`, which must not exist or be empty; with `zipFile`, also packs it
 * there, every path under the folder's name.
 *
 * @example
 * ```ts
 * await writeStarter(await makeStarter(starterLab("lab1")!), "/tmp/lab1", "/tmp/lab1.zip");
 * ```
 */
export async function writeStarter(starter: Starter, dir: string, zipFile?: string): Promise<void> {
  const existing = await Array.fromAsync(Deno.readDir(dir)).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  });
  if (existing.length > 0) throw new Failure(`${dir} is not empty: give a new folder`);
  for (const [path, data] of starter.files) {
    await Deno.mkdir(join(dir, dirname(path)), { recursive: true });
    await Deno.writeFile(join(dir, path), data);
  }
  if (zipFile === undefined) return;
  const folder = basename(resolve(dir));
  const entries = [...starter.files].map(([path, data]) => ({ name: `${folder}/${path}`, data }));
  await Deno.writeFile(zipFile, zip(entries));
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "tools/starter.ts",
      synopsis: "LAB DIR",
      maxPositionals: 2,
      summary: "Writes the folder a student starts LAB from into DIR (new or empty): the lab's\n" +
        "scripts with their solution regions cut, common/, the conformance kit, a README, a\n" +
        "deno.json whose `deno task grade` runs the kit, and a GitHub Actions workflow.",
      options: { zip: { type: "string", arg: "FILE", help: "also pack the folder into FILE" } },
      epilog: "LAB: " + STARTER_LABS.map((l) => l.name).join(", ") +
        "\nexample: deno task starter lab1_echo /tmp/lab1-starter --zip /tmp/lab1-starter.zip",
    });
    if (positionals.length < 2) throw new UsageError("give LAB and DIR", usage);
    const lab = starterLab(positionals[0]);
    if (!lab) throw new UsageError(`unknown lab '${positionals[0]}'`, usage);
    // `deno task` runs in the repository; paths are the user's, from where they ran it.
    const base = Deno.env.get("INIT_CWD") ?? Deno.cwd();
    const dir = resolve(base, positionals[1]);
    const zipFile = values.zip === undefined ? undefined : resolve(base, values.zip);
    const starter = await makeStarter(lab);
    await writeStarter(starter, dir, zipFile);
    console.log(
      `${lab.name} starter in ${dir}: ${starter.exercises.length} exercises, ` +
        `${starter.files.size} files` + (zipFile ? `; packed into ${zipFile}` : ""),
    );
    console.log(`then: cd ${dir} && deno task grade`);
  });
}
