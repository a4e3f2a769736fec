/**
 * The conformance kit: checks anyone's implementation of the labs against
 * the handouts. `deno task conformance LAB --server CMD --client CMD`.
 *
 * @module
 */

import { helpOption, parseCli, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { runMain } from "../common/errors.ts";
import type { Context } from "./context.ts";
import { checkLab1 } from "./lab1_echo.ts";
import { checkLab2 } from "./lab2_sum.ts";
import { checkLab3 } from "./lab3_file.ts";
import { checkHttp } from "./lab_http.ts";
import { checkUdp } from "./lab_udp.ts";
import { Checks, formatReport, makeReport, type Report } from "./report.ts";

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

/** Options for {@linkcode runConformance}. */
export interface ConformanceOptions {
  server?: string;
  client?: string;
  /** Limit for each command (default 20 s). */
  timeoutMs?: number;
  /** Where relative paths in the templates are resolved (default: the current folder). */
  base?: string;
}

/** The canonical lab name for a name or alias, or undefined. */
export function labName(name: string): string | undefined {
  return Object.keys(LABS).find((k) => k === name || LABS[k].aliases.includes(name));
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
  const name = labName(lab);
  if (!name) throw new UsageError(`unknown lab '${lab}': one of ${Object.keys(LABS).join(", ")}`);
  const spec = LABS[name];
  if (!options.server && !options.client) throw new UsageError("give --server, --client, or both");
  if (spec.pairOnly && !(options.server && options.client)) {
    throw new UsageError(
      `${name}: each student designs its protocol, so give both --server and --client`,
    );
  }
  const serverDir = await Deno.makeTempDir({ prefix: "conformance_server_" });
  const clientDir = await Deno.makeTempDir({ prefix: "conformance_client_" });
  const checks = new Checks();
  try {
    await spec.run({
      server: options.server,
      client: options.client,
      timeoutMs: options.timeoutMs ?? 20_000,
      base: options.base ?? Deno.cwd(),
      serverDir,
      clientDir,
    }, checks);
  } finally {
    await Deno.remove(serverDir, { recursive: true }).catch(() => {});
    await Deno.remove(clientDir, { recursive: true }).catch(() => {});
  }
  return makeReport(name, { server: options.server, client: options.client }, checks.list);
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "conformance/main.ts",
      synopsis: "LAB",
      summary:
        "Checks an implementation of a lab against the handout. LAB is lab1_echo, lab2_sum, lab3_file,\n" +
        "lab_udp or lab_http. Commands are templates with {host} {port} {remote} {local} ({url} {name}\n" +
        "{number} too); keyboard input is fed on stdin. Exit 0 when no check failed.",
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
        json: { type: "boolean", help: "print the report as JSON" },
        timeout: { type: "string", arg: "SECONDS", default: "20", help: "limit for each command" },
        help: helpOption,
      },
      maxPositionals: 1,
      epilog: 'example: deno task conformance lab1_echo --server "python3 TCPServer.py {port}"',
    });
    if (positionals.length === 0) throw new UsageError("missing LAB", usage);
    let report: Report;
    try {
      report = await runConformance(positionals[0], {
        server: values.server,
        client: values.client,
        timeoutMs: parseTimeoutMs(values.timeout, usage),
      });
    } catch (error) {
      if (error instanceof UsageError && !error.usage) throw new UsageError(error.message, usage);
      throw error;
    }
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.summary.fail === 0 ? 0 : 1;
  });
}
