/**
 * One command-line parser for every script, over `node:util` `parseArgs` (strict), with the usage
 * made from the option table. Bad arguments throw {@linkcode UsageError}, which `runMain` prints.
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** One option: `parseArgs`'s fields, the value's name in the usage (`--port PORT`), its help. */
type OptionSpec = NonNullable<ParseArgsConfig["options"]>[string] & { arg?: string; help: string };

/** Bad command-line arguments; `usage` is printed after the error line. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(message: string, readonly usage = "") {
    super(message);
  }
}

const HELP = { type: "boolean", short: "h", help: "show this help and exit" } as const;

/**
 * Parses `args` (default `Deno.args`): `-h/--help`, which every script takes, prints the usage and
 * exits 0; anything unknown or malformed throws {@linkcode UsageError}. A string option's value is
 * named by its `arg`, else by its name in capitals.
 * @example
 * ```ts
 * const options = { port: { type: "string", short: "p", default: "12000", help: "port" } } as const;
 * parseCli({ name: "client.ts", summary: "demo", options }, ["-p", "8080"]).values.port; // "8080"
 * ```
 */
export function parseCli<const O extends Record<string, OptionSpec>>(
  spec: {
    name: string;
    /** The positional arguments in the usage line; at most `maxPositionals` (default 0). */
    synopsis?: string;
    maxPositionals?: number;
    summary: string;
    options: O;
    epilog?: string;
  },
  args: string[] = Deno.args,
) {
  const options = { ...spec.options, help: HELP };
  const rows = Object.entries(options as Record<string, OptionSpec>).map(([long, o]) => [
    `${o.short ? `-${o.short}, ` : "    "}--${long}` +
    (o.type === "string" ? ` ${o.arg ?? long.toUpperCase()}` : ""),
    typeof o.default === "string" ? `${o.help} (default: ${o.default})` : o.help,
  ]);
  const usage = [
    `usage: deno run ... ${spec.name} [options]${spec.synopsis ? ` ${spec.synopsis}` : ""}`,
    `\n${spec.summary}\n\noptions:`,
    ...rows.map(([flag, help]) => `  ${flag.padEnd(22)}  ${help}`),
    ...(spec.epilog ? ["", spec.epilog] : []),
  ].join("\n");
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
    if ((parsed.values as { help?: boolean }).help) {
      console.log(usage);
      Deno.exit(0);
    }
    const extra = parsed.positionals[spec.maxPositionals ?? 0];
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`, usage);
    return { values: parsed.values, positionals: parsed.positionals, usage };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // parseArgs says what is wrong and how to write it, over a few lines: one line here.
    // Its advice on positional arguments that start with '-' is dropped: an option was mistyped.
    const { message } = error as Error;
    const why = message.replace(/\. To specify a positional.*/s, "").replaceAll("\n", " ");
    throw new UsageError(why[0].toLowerCase() + why.slice(1), usage);
  }
}

/**
 * Parses a port: 0 (any free port) or 1024..65535 for a server, 1..65535 for a client.
 * @example
 * ```ts
 * parsePort("12000", "server"); // 12000
 * ```
 */
export function parsePort(text: string, role: "server" | "client", usage = ""): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (port <= 65535 && (role === "server" ? port === 0 || port >= 1024 : port >= 1)) return port;
  const range = role === "server" ? "0 (any free port) or 1024..65535" : "1..65535";
  throw new UsageError(`invalid port '${text}': expected ${range}`, usage);
}

/** The range {@linkcode parseNumber} accepts, and whether a fraction is allowed. */
type Limits = { min: number; max: number; fraction?: boolean };

/**
 * Parses a decimal number within `[min, max]` (integers only unless `fraction`).
 * @example
 * ```ts
 * parseNumber("2.5", "--timeout", { min: 0.001, max: 3600, fraction: true }); // 2.5
 * ```
 */
export function parseNumber(text: string, what: string, limits: Limits, usage = ""): number {
  const { min, max, fraction } = limits;
  const value = (fraction ? /^-?(\d+(\.\d*)?|\.\d+)$/ : /^-?\d+$/).test(text.trim()) ? +text : NaN;
  if (value >= min && value <= max) return value;
  const kind = fraction ? "a number" : "an integer";
  throw new UsageError(`invalid ${what} '${text}': expected ${kind} from ${min} to ${max}`, usage);
}

/**
 * Parses `--timeout SECONDS` (0.001 s to one day) into milliseconds.
 * @example
 * ```ts
 * parseTimeoutMs("2.5"); // 2500
 * ```
 */
export function parseTimeoutMs(text: string, usage = ""): number {
  const seconds = parseNumber(text, "timeout", { min: 0.001, max: 86400, fraction: true }, usage);
  return Math.round(seconds * 1000);
}
