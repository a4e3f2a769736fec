/**
 * The conformance kit: checks anyone's implementation of the labs against
 * the handouts. `deno task conformance LAB --server CMD --client CMD`, for
 * one submission or (`--each DIR`) a whole class; reports as a table, JSON,
 * Gradescope's results.json, JUnit XML, or CSV.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { parseCli, parseNumber, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { Failure, runMain } from "../common/errors.ts";
import { batchCsv, type BatchRow, formatBatchTable, studentFolders } from "./batch.ts";
import { placeholders, type Vars } from "./command.ts";
import type { Context } from "./context.ts";
import { DEFAULT_WEIGHTS, gradescopeResults, parseWeights, type Weights } from "./gradescope.ts";
import { junitXml } from "./junit.ts";
import { checkLab1 } from "./lab1_echo.ts";
import { checkLab2 } from "./lab2_sum.ts";
import { checkLab3 } from "./lab3_file.ts";
import { checkHttp } from "./lab_http.ts";
import { checkUdp } from "./lab_udp.ts";
import { Checks, formatReport, makeReport, type Report, summaryLine } from "./report.ts";

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

/** Runs the kit in every student folder under `dir`, one after another. */
export async function runBatch(
  lab: string,
  dir: string,
  options: ConformanceOptions,
  onEach: (row: BatchRow) => void = () => {},
): Promise<BatchRow[]> {
  const folders = await studentFolders(dir);
  if (folders.length === 0) throw new UsageError(`no student folders in ${dir}`);
  validate(lab, { ...options, vars: { dir } });
  const rows: BatchRow[] = [];
  for (const { student, path } of folders) {
    const report = await runConformance(lab, { ...options, base: path, vars: { dir: path } });
    rows.push({ student, report });
    onEach({ student, report });
  }
  return rows;
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "conformance/main.ts",
      synopsis: "LAB",
      summary:
        "Checks an implementation of a lab against the handout. LAB is lab1_echo, lab2_sum, lab3_file,\n" +
        "lab_udp or lab_http. Commands are templates with {host} {port} {remote} {local} ({url} {name}\n" +
        "{number} {sentence} {dir} too); keyboard input is fed on stdin; relative paths are taken from\n" +
        "the folder you run the kit in. Exit 0 when no check failed.",
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
        junit: { type: "string", arg: "FILE", help: "also write JUnit XML to FILE" },
        weights: {
          type: "string",
          arg: "FILE",
          help: 'points per check for --gradescope, as JSON (default {"handout": 2, "beyond": 1})',
        },
        each: {
          type: "string",
          arg: "DIR",
          help: "batch mode: run in every subfolder of DIR (one per student; {dir} is its path)",
        },
        csv: {
          type: "string",
          arg: "FILE",
          help: "with --each: also write the table as CSV to FILE",
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
        '         deno task conformance lab1_echo --each submissions --server "python3 {dir}/TCPServer.py {port}" --csv class.csv',
    });
    try {
      return await main(values, positionals);
    } catch (error) {
      if (error instanceof UsageError && !error.usage) throw new UsageError(error.message, usage);
      throw error;
    }
  });
}

async function main(
  values: {
    server?: string;
    client?: string;
    port?: string;
    json?: boolean;
    gradescope?: string;
    junit?: string;
    weights?: string;
    each?: string;
    csv?: string;
    checks?: string;
    timeout: string;
  },
  positionals: string[],
): Promise<number> {
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
  let weights: Weights = DEFAULT_WEIGHTS;
  if (values.weights !== undefined) {
    try {
      weights = parseWeights(await Deno.readTextFile(output(values.weights)));
    } catch (error) {
      throw new UsageError(
        `--weights ${values.weights}: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
  if (values.each === undefined) {
    if (values.csv !== undefined) throw new UsageError("--csv is for batch mode: give --each DIR");
    const report = await runConformance(positionals[0], options);
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    if (values.gradescope !== undefined) {
      await writeFile(
        output(values.gradescope),
        JSON.stringify(gradescopeResults(report, weights), null, 2) + "\n",
      );
    }
    if (values.junit !== undefined) {
      await writeFile(output(values.junit), junitXml([{ name: report.lab, report }]));
    }
    return report.summary.fail === 0 ? 0 : 1;
  }
  if (values.gradescope !== undefined) {
    throw new UsageError("--gradescope grades one submission: run it without --each");
  }
  const dir = output(values.each);
  if (!(await Deno.stat(dir).catch(() => undefined))?.isDirectory) {
    throw new UsageError(`--each ${values.each}: no such folder`);
  }
  const rows = await runBatch(positionals[0], dir, options, ({ student, report }) => {
    console.error(`${student}: ${summaryLine(report.summary)}`);
  });
  console.log(values.json ? JSON.stringify(rows, null, 2) : formatBatchTable(rows));
  if (values.csv !== undefined) await writeFile(output(values.csv), batchCsv(rows));
  if (values.junit !== undefined) {
    await writeFile(
      output(values.junit),
      junitXml(rows.map((r) => ({ name: r.student, report: r.report }))),
    );
  }
  return rows.every((r) => r.report.summary.fail === 0) ? 0 : 1;
}

async function writeFile(path: string, text: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text);
  } catch (error) {
    throw new Failure(`cannot write ${path}: ${error instanceof Error ? error.message : error}`);
  }
}
