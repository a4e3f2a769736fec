/**
 * The conformance kit: checks anyone's implementation of the labs against
 * the handouts. `deno task conformance LAB --server CMD --client CMD`, for
 * one submission or (`--each DIR`) a whole class, `--jobs N` at a time;
 * reports as a table, JSON, Gradescope's results.json, JUnit XML, CSV, or
 * (for a class) one HTML page. Exit 0 when no check failed, 1 when one did
 * (or a submission ran out of its time), 2 for bad usage, 3 when the kit
 * itself could not run.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { parseCli, parseNumber, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { Failure, runMain } from "../common/errors.ts";
import {
  batchCsv,
  type BatchRow,
  formatBatchTable,
  progressLine,
  studentFolders,
} from "./batch.ts";
import { placeholders, type Vars } from "./command.ts";
import type { Context } from "./context.ts";
import {
  gradescopeResults,
  kitFailureResults,
  VISIBILITIES,
  type Visibility,
} from "./gradescope.ts";
import { classHtml } from "./html.ts";
import { availableIsolation, gradeClass, gradeSubmission, type WorkerJob } from "./jobs.ts";
import { junitXml } from "./junit.ts";
import { DEFAULT_WEIGHTS, type KnownCheck, parseWeights, type Weights } from "./points.ts";
import { checkLab1 } from "./lab1_echo.ts";
import { checkLab2 } from "./lab2_sum.ts";
import { checkLab3 } from "./lab3_file.ts";
import { checkHttp } from "./lab_http.ts";
import { checkUdp } from "./lab_udp.ts";
import { type Check, Checks, checkSpecs, formatReport, makeReport, type Report } from "./report.ts";

/**
 * The exit code when the kit itself could not run (not a check that failed).
 *
 * @example
 * ```ts
 * if (EXIT_KIT === 3) console.log("the kit could not run");
 * ```
 */
export const EXIT_KIT = 3;

/** The labs, their aliases, and whether both roles must be given. */
const LABS: Record<
  string,
  { aliases: string[]; pairOnly: boolean; run: (ctx: Context, checks: Checks) => Promise<void> }
> = {
  lab1_echo: { aliases: ["lab1", "echo"], pairOnly: false, run: checkLab1 },
  lab2_sum: { aliases: ["lab2", "sum"], pairOnly: true, run: checkLab2 },
  lab3_file: { aliases: ["lab3", "file"], pairOnly: true, run: checkLab3 },
  lab_udp: { aliases: ["udp"], pairOnly: false, run: checkUdp },
  lab_http: { aliases: ["http"], pairOnly: false, run: checkHttp },
};

/** Every placeholder the kit fills (`{dir}` only in batch mode). */
const KNOWN = ["host", "port", "remote", "local", "url", "name", "number", "sentence", "dir"];

/** Options for {@linkcode runConformance}. */
export interface ConformanceOptions {
  server?: string;
  client?: string;
  /** Limit for each command (default 20 s). */
  timeoutMs?: number;
  /** Where relative paths in the templates are resolved (default: the current folder). */
  base?: string;
  /** A fixed port, for programs that do not take `{port}`. */
  port?: number;
  /** Extra placeholder values (`{dir}` in batch mode). */
  vars?: Vars;
  /** Run only these checks: levels (`handout`, `beyond`) or parts of check names. */
  only?: string[];
  /** Told of each check as it is recorded (a worker streams them, so a cap keeps them). */
  onCheck?: (check: Check) => void;
  /** Told of each note as it is recorded. */
  onNote?: (note: string) => void;
}

/** The canonical lab name for a name or alias, or undefined. */
export function labName(name: string): string | undefined {
  return Object.keys(LABS).find((k) => k === name || LABS[k].aliases.includes(name));
}

/**
 * Checks the roles and templates before anything runs: unknown labs and
 * placeholders, a missing `{port}` without `--port`. Throws `UsageError`.
 * Returns the canonical lab name.
 *
 * @example
 * ```ts
 * validate("lab1", { server: "python3 server.py" }); // throws: no {port}
 * ```
 */
export function validate(lab: string, options: ConformanceOptions): string {
  const name = labName(lab);
  if (!name) throw new UsageError(`unknown lab '${lab}': one of ${Object.keys(LABS).join(", ")}`);
  if (!options.server && !options.client) throw new UsageError("give --server, --client, or both");
  if (LABS[name].pairOnly && !(options.server && options.client)) {
    throw new UsageError(
      `${name}: each student designs its protocol, so give both --server and --client`,
    );
  }
  for (const [role, template] of [["server", options.server], ["client", options.client]]) {
    if (!template) continue;
    const used = placeholders(template);
    for (const p of used) {
      if (!KNOWN.includes(p)) {
        throw new UsageError(
          `the --${role} command has an unknown placeholder {${p}}: the kit fills ${
            KNOWN.map((k) => `{${k}}`).join(" ")
          }`,
        );
      }
    }
    if (used.has("dir") && options.vars?.dir === undefined) {
      throw new UsageError(`{dir} in --${role} is the student's folder: it needs --each DIR`);
    }
    // An HTTP client may read its URL from stdin, as the handout's does.
    const followsPort = used.has("port") ||
      (role === "client" && (used.has("url") || name === "lab_http"));
    if (!followsPort && options.port === undefined) {
      throw new UsageError(
        `the --${role} command has no {port}: put {port} where the program takes its port, ` +
          `or give --port N for a program that always ${
            role === "server" ? "listens on" : "connects to"
          } port N`,
      );
    }
  }
  return name;
}

/**
 * Runs every check for `lab` and returns the report.
 *
 * @example
 * ```ts
 * const report = await runConformance("lab1_echo", { server: "python3 TCPServer.py {port}" });
 * ```
 */
export async function runConformance(lab: string, options: ConformanceOptions): Promise<Report> {
  const name = validate(lab, options);
  const workDir = await Deno.makeTempDir({ prefix: "conformance_" });
  const serverDir = join(workDir, "server");
  const clientDir = join(workDir, "client");
  await Deno.mkdir(serverDir);
  await Deno.mkdir(clientDir);
  const checks = new Checks(options.only);
  observe(checks, options);
  try {
    await LABS[name].run({
      server: options.server,
      client: options.client,
      timeoutMs: options.timeoutMs ?? 20_000,
      base: options.base ?? Deno.cwd(),
      workDir,
      serverDir,
      clientDir,
      port: options.port,
      vars: options.vars ?? {},
    }, checks);
  } finally {
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
  return makeReport(name, { server: options.server, client: options.client }, checks);
}

/** Passes each check and note on to `onCheck` and `onNote` as it is recorded. */
function observe(checks: Checks, options: ConformanceOptions): void {
  const { onCheck, onNote } = options;
  if (onCheck) {
    const add = checks.add.bind(checks);
    checks.add = (...args: Parameters<Checks["add"]>) => {
      add(...args);
      onCheck(checks.list[checks.list.length - 1]);
    };
  }
  if (onNote) {
    const note = checks.note.bind(checks);
    checks.note = (text: string) => {
      note(text);
      onNote(checks.notes[checks.notes.length - 1]);
    };
  }
}

/**
 * The folder the user ran the kit in: `deno task` runs it in the
 * repository root and says where it was started in `INIT_CWD`.
 */
export function userFolder(): string {
  const init = Deno.env.get("INIT_CWD");
  try {
    if (init && Deno.statSync(init).isDirectory) return init;
  } catch {
    // Gone or unreadable: the current folder.
  }
  return Deno.cwd();
}

/** Options for {@linkcode runClass}. */
export interface RunClassOptions {
  /** Submissions graded at once (default: the number of cores). */
  jobs?: number;
  /** Cap on each submission's wall time (default 300 s). */
  submissionTimeoutMs?: number;
  /** Called as each submission is done, in the order they finish. */
  onEach?: (row: BatchRow) => void;
  /** Told why fewer jobs run than asked. */
  onNote?: (note: string) => void;
}

/** The job a worker runs for one submission: the options that survive JSON. */
function jobOf(lab: string, options: ConformanceOptions): WorkerJob {
  const { server, client, timeoutMs, base, port, vars, only } = options;
  return { lab, options: { server, client, timeoutMs, base, port, vars, only } };
}

/**
 * Runs the kit in every student folder under `dir`, each in a worker
 * process of its own, `jobs` at a time; the rows come back in the folders'
 * order, with the same verdicts as one at a time.
 *
 * @example
 * ```ts
 * const rows = await runClass("lab1", "/course/class_lab1", {
 *   client: "python3 {dir}/client.py {host} {port}",
 * }, { jobs: 4 });
 * ```
 */
export async function runClass(
  lab: string,
  dir: string,
  options: ConformanceOptions,
  classOptions: RunClassOptions = {},
): Promise<BatchRow[]> {
  const folders = await studentFolders(dir);
  if (folders.length === 0) throw new UsageError(`no student folders in ${dir}`);
  const name = validate(lab, { ...options, vars: { dir } });
  return await gradeClass(
    folders.map(({ student, path }) => ({
      student,
      job: jobOf(name, { ...options, base: path, vars: { ...options.vars, dir: path } }),
    })),
    {
      jobs: classOptions.jobs ?? navigator.hardwareConcurrency,
      submissionTimeoutMs: classOptions.submissionTimeoutMs ?? DEFAULT_SUBMISSION_TIMEOUT_MS,
      onEach: classOptions.onEach,
      onNote: classOptions.onNote,
    },
  );
}

/** A class's default cap per submission: far above a slow one (about a minute), below a hung one's hours. */
const DEFAULT_SUBMISSION_TIMEOUT_MS = 300_000;

if (import.meta.main) {
  // Usage errors exit 2 (runMain); anything else that escapes is the kit failing: 3.
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "conformance/main.ts",
      synopsis: "LAB",
      summary:
        "Checks an implementation of a lab against the handout. LAB is lab1_echo, lab2_sum, lab3_file,\n" +
        "lab_udp or lab_http. Commands are templates with {host} {port} {remote} {local} ({url} {name}\n" +
        "{number} {sentence} {dir} too); keyboard input is fed on stdin; relative paths are taken from\n" +
        "the folder you run the kit in. Exit 0 when no check failed, 1 when one did (or a submission\n" +
        "ran out of its time), 2 for bad usage, 3 when the kit itself could not run.",
      options: {
        server: {
          type: "string",
          arg: "CMD",
          help: 'how to start their server, e.g. "python3 TCPServer.py {port}"',
        },
        client: {
          type: "string",
          arg: "CMD",
          help: 'how to run their client, e.g. "python3 TCPClient.py {host} {port}"',
        },
        port: {
          type: "string",
          arg: "N",
          help: "the port for programs that do not take {port} (they always use N)",
        },
        json: { type: "boolean", help: "print the report as JSON" },
        gradescope: {
          type: "string",
          arg: "FILE",
          help: "also write Gradescope's results.json to FILE",
        },
        visibility: {
          type: "string",
          arg: "WHO",
          help: `who sees --gradescope's tests and score: ${VISIBILITIES.join(", ")}`,
        },
        junit: { type: "string", arg: "FILE", help: "also write JUnit XML to FILE" },
        weights: {
          type: "string",
          arg: "FILE",
          help:
            'points per check (by id, or handout and beyond), as JSON (default {"handout": 2, "beyond": 1})',
        },
        each: {
          type: "string",
          arg: "DIR",
          help: "batch mode: run in every subfolder of DIR (one per student; {dir} is its path)",
        },
        jobs: {
          type: "string",
          arg: "N",
          help:
            `with --each: submissions graded at once (default: the cores, ${navigator.hardwareConcurrency})`,
        },
        "submission-timeout": {
          type: "string",
          arg: "SECONDS",
          help:
            "cap on one submission's time; then its programs are killed, it is reported as TIMEOUT\n" +
            "                                 and the checks done so far are kept (default with --each: 300)",
        },
        csv: {
          type: "string",
          arg: "FILE",
          help: "with --each: also write points, status and reason per check as CSV to FILE",
        },
        html: {
          type: "string",
          arg: "FILE",
          help: "with --each: also write the class as one HTML page to FILE",
        },
        checks: {
          type: "string",
          arg: "WORDS",
          help: "run only some checks: handout, beyond, or words from their names, comma-separated",
        },
        timeout: { type: "string", arg: "SECONDS", default: "20", help: "limit for each command" },
      },
      maxPositionals: 1,
      epilog: 'example: deno task conformance lab1_echo --server "python3 TCPServer.py {port}"\n' +
        '         deno task conformance lab1_echo --each submissions --server "python3 {dir}/TCPServer.py {port}" --html class.html',
    });
    try {
      return await main(values, positionals);
    } catch (error) {
      if (error instanceof UsageError && !error.usage) throw new UsageError(error.message, usage);
      throw error;
    }
  }, () => EXIT_KIT);
}

interface Values {
  server?: string;
  client?: string;
  port?: string;
  json?: boolean;
  gradescope?: string;
  visibility?: string;
  junit?: string;
  weights?: string;
  each?: string;
  jobs?: string;
  "submission-timeout"?: string;
  csv?: string;
  html?: string;
  checks?: string;
  timeout: string;
}

async function main(values: Values, positionals: string[]): Promise<number> {
  if (positionals.length === 0) throw new UsageError("missing LAB");
  const base = userFolder();
  const output = (file: string) => resolve(base, file);
  const options: ConformanceOptions = {
    server: values.server,
    client: values.client,
    timeoutMs: parseTimeoutMs(values.timeout),
    base,
    port: values.port === undefined
      ? undefined
      : parseNumber(values.port, "--port", { min: 1024, max: 65535 }),
    only: values.checks?.split(",").map((w) => w.trim()).filter((w) => w !== ""),
  };
  // Every check of the lab is a valid --weights key; the columns are the checks chosen to run.
  const allChecks = checkSpecs(positionals[0]);
  const chosen = new Checks(options.only);
  const known = checkSpecs(positionals[0], { server: values.server, client: values.client })
    .filter((spec) => chosen.wants(spec.id));
  let weights: Weights = DEFAULT_WEIGHTS;
  if (values.weights !== undefined) {
    try {
      weights = parseWeights(
        await Deno.readTextFile(output(values.weights)),
        allChecks.length ? allChecks : undefined,
      );
    } catch (error) {
      throw new UsageError(
        `--weights ${values.weights}: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
  const visibility = values.visibility as Visibility | undefined;
  if (visibility !== undefined && !VISIBILITIES.includes(visibility)) {
    throw new UsageError(
      `--visibility ${visibility}: one of ${VISIBILITIES.join(", ")}`,
    );
  }
  const capMs = values["submission-timeout"] === undefined
    ? undefined
    : parseTimeoutMs(values["submission-timeout"]);
  if (values.each === undefined) {
    for (const flag of ["csv", "html", "jobs"] as const) {
      if (values[flag] !== undefined) {
        throw new UsageError(`--${flag} is for batch mode: give --each DIR`);
      }
    }
    return await single(positionals[0], options, { capMs, weights, known, visibility }, values);
  }
  if (values.gradescope !== undefined) {
    throw new UsageError("--gradescope grades one submission: run it without --each");
  }
  const jobs = values.jobs === undefined
    ? undefined
    : parseNumber(values.jobs, "--jobs", { min: 1, max: 1024 });
  const dir = output(values.each);
  if (!(await Deno.stat(dir).catch(() => undefined))?.isDirectory) {
    throw new UsageError(`--each ${values.each}: no such folder`);
  }
  const rows = await runClass(positionals[0], dir, options, {
    jobs,
    submissionTimeoutMs: capMs,
    onEach: (row) => console.error(progressLine(row)),
    onNote: (note) => console.error(`note: ${note}`),
  });
  console.log(
    values.json ? JSON.stringify(rows, null, 2) : formatBatchTable(rows, { weights, known }),
  );
  const lab = labName(positionals[0])!;
  if (values.csv !== undefined) {
    await writeFile(output(values.csv), batchCsv(rows, { weights, known }));
  }
  if (values.html !== undefined) {
    await writeFile(
      output(values.html),
      classHtml(rows, { lab, server: values.server, client: values.client, weights, known }),
    );
  }
  if (values.junit !== undefined) {
    await writeFile(output(values.junit), junitXml(rows.map((r) => ({ ...r, name: r.student }))));
  }
  if (rows.some((r) => r.end === "KIT_ERROR")) return EXIT_KIT;
  return rows.every((r) => r.report.summary.fail === 0 && r.end !== "TIMEOUT") ? 0 : 1;
}

/** One submission: in this process, or in a worker under `--submission-timeout`. */
async function single(
  lab: string,
  options: ConformanceOptions,
  how: { capMs?: number; weights: Weights; known: KnownCheck[]; visibility?: Visibility },
  values: Values,
): Promise<number> {
  const output = (file: string) => resolve(options.base!, file);
  let run: Omit<BatchRow, "student">;
  try {
    if (how.capMs === undefined) {
      run = { report: await runConformance(lab, options), end: "graded" };
    } else {
      const name = validate(lab, options);
      run = await gradeSubmission(jobOf(name, options), {
        isolation: await availableIsolation(),
        submissionTimeoutMs: how.capMs,
      });
      if (run.end === "KIT_ERROR") throw new Failure(run.detail!);
    }
  } catch (error) {
    // Gradescope shows a results.json or nothing: say that the kit failed, not the student.
    if (!(error instanceof UsageError) && values.gradescope !== undefined) {
      const why = error instanceof Error ? error.message : String(error);
      await writeFile(
        output(values.gradescope),
        JSON.stringify(kitFailureResults(why, how.visibility), null, 2) + "\n",
      );
    }
    throw error;
  }
  const { report, end, detail } = run;
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (end === "TIMEOUT" && !values.json) console.log(`TIMEOUT: ${detail}`);
  if (values.gradescope !== undefined) {
    const results = gradescopeResults(report, how.weights, {
      visibility: how.visibility,
      known: how.known,
      end,
      detail,
    });
    await writeFile(output(values.gradescope), JSON.stringify(results, null, 2) + "\n");
  }
  if (values.junit !== undefined) {
    await writeFile(output(values.junit), junitXml([{ name: report.lab, report, end, detail }]));
  }
  return report.summary.fail === 0 && end !== "TIMEOUT" ? 0 : 1;
}

async function writeFile(path: string, text: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text);
  } catch (error) {
    throw new Failure(`cannot write ${path}: ${error instanceof Error ? error.message : error}`);
  }
}
