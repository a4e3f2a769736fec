/**
 * One command-line parser for every script, over `node:util` `parseArgs` (strict), with the usage
 * made from the option table. Bad arguments throw {@linkcode UsageError}, which `runMain` prints.
 * @module
 */

import { parseArgs } from "node:util";

interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** The value's name in the usage, as in `--port PORT`. */
  arg?: string;
  help: string;
  default?: string | boolean;
}

interface CommandSpec<O extends Record<string, OptionSpec>> {
  name: string;
  /** The positional arguments in the usage line. */
  synopsis?: string;
  summary: string;
  options: O;
  epilog?: string;
  /** How many positional arguments are allowed (default 0). */
  maxPositionals?: number;
}

type Values<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K]["type"] extends "boolean" ? boolean
    : O[K]["default"] extends string ? string
    : string | undefined;
};

/** Bad command-line arguments; `usage` is printed after the error line. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(message: string, readonly usage = "") {
    super(message);
  }
}

/**
 * The option rows the scripts share, for {@linkcode parseCli}'s table. A server's `-p` has no
 * default: the port may come as the handout's positional `PORT` instead ({@linkcode serverPort}).
 * @example
 * ```ts
 * const options = { address: option.address("127.0.0.1", "server address"), trace: option.trace };
 * ```
 */
export const option = {
  trace: { type: "boolean", help: "print every socket read and write to stderr" } as const,
  address: (defaultHost: string, help: string) =>
    ({ type: "string", short: "a", arg: "ADDR", default: defaultHost, help }) as const,
  port: (defaultPort: string, help: string) =>
    ({ type: "string", short: "p", arg: "PORT", default: defaultPort, help }) as const,
  serverPort: (defaultPort: number) =>
    ({
      type: "string",
      short: "p",
      arg: "PORT",
      help: `port to listen on, also as PORT (default ${defaultPort}); 0 picks a free one`,
    }) as const,
  timeout: (defaultSeconds: string, help: string) =>
    ({ type: "string", arg: "SECONDS", default: defaultSeconds, help }) as const,
};

const HELP: OptionSpec = { type: "boolean", short: "h", help: "show this help and exit" };

/**
 * Parses `args` (default `Deno.args`): `-h/--help`, which every script takes, prints the usage and
 * exits 0; anything unknown or malformed throws {@linkcode UsageError}.
 * @example
 * ```ts
 * const options = { port: option.port("12000", "server port") };
 * parseCli({ name: "client.ts", summary: "demo", options }, ["-p", "8080"]).values.port; // "8080"
 * ```
 */
export function parseCli<const O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  args: string[] = Deno.args,
): { values: Values<O>; positionals: string[]; usage: string } {
  const options: Record<string, OptionSpec> = { ...spec.options, help: HELP };
  const usage = formatUsage({ ...spec, options });
  let parsed;
  try {
    // parseArgs takes the table as it is: it fills in the defaults and ignores `arg` and `help`.
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(parseErrorLine(error, options), usage);
  }
  if (parsed.values.help) {
    console.log(usage);
    Deno.exit(0);
  }
  const max = spec.maxPositionals ?? 0;
  if (parsed.positionals.length > max) {
    throw new UsageError(`unexpected argument '${parsed.positionals[max]}'`, usage);
  }
  const values: Record<string, unknown> = { ...parsed.values };
  for (const [long, o] of Object.entries(spec.options)) {
    if (o.type === "boolean") values[long] ??= false;
  }
  return { values: values as Values<O>, positionals: parsed.positionals, usage };
}

function formatUsage(spec: CommandSpec<Record<string, OptionSpec>>): string {
  const rows = Object.entries(spec.options).map(([long, o]) => [
    `${o.short ? `-${o.short}, ` : "    "}--${long}${o.arg ? ` ${o.arg}` : ""}`,
    o.type === "string" && o.default !== undefined ? `${o.help} (default: ${o.default})` : o.help,
  ]);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  const synopsis = spec.synopsis ? ` ${spec.synopsis}` : "";
  return [
    `usage: deno run ... ${spec.name} [options]${synopsis}`,
    "",
    spec.summary,
    "",
    "options:",
    ...rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`),
    ...(spec.epilog ? ["", spec.epilog] : []),
  ].join("\n");
}

/** One short line for a `parseArgs` error, told apart by its `code`. */
function parseErrorLine(error: unknown, options: Record<string, OptionSpec>): string {
  const message = error instanceof Error ? error.message : String(error);
  // The option as the user wrote it; Node's message names it, in quotes.
  const written = message.match(/'(?:-\w, )?(--?[\w-]+)/)?.[1] ?? "";
  const long = Object.entries(options).find(([name, o]) =>
    written === `--${name}` || written === `-${o.short}`
  )?.[0];
  switch ((error as { code?: string }).code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option '${written}'`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return long && options[long].type === "boolean"
        ? `option '--${long}' takes no value`
        : `option '--${long}' needs a value (write --${long}=VALUE for one starting with '-')`;
    default:
      return message.split("\n")[0];
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
  const min = role === "server" ? 1024 : 1;
  if ((port >= min && port <= 65535) || (role === "server" && port === 0)) return port;
  const range = role === "server" ? "0 (any free port) or 1024..65535" : "1..65535";
  throw new UsageError(`invalid port '${text}': expected ${range}`, usage);
}

/**
 * A server's port: its positional `PORT` or `-p PORT` (not two different ones), else the default.
 * @example
 * ```ts
 * serverPort(["8081"], undefined, 8080); // 8081
 * ```
 */
export function serverPort(
  positionals: string[],
  option: string | undefined,
  defaultPort: number,
  usage = "",
): number {
  const [positional] = positionals;
  if (positional !== undefined && option !== undefined && positional !== option) {
    throw new UsageError("give the port once: as PORT or as -p PORT", usage);
  }
  return parsePort(positional ?? option ?? `${defaultPort}`, "server", usage);
}

/**
 * Parses a decimal number within `[min, max]` (integers only unless `fraction`).
 * @example
 * ```ts
 * parseNumber("2.5", "--timeout", { min: 0.001, max: 3600, fraction: true }); // 2.5
 * ```
 */
export function parseNumber(
  text: string,
  what: string,
  limits: { min: number; max: number; fraction?: boolean },
  usage = "",
): number {
  const pattern = limits.fraction ? /^-?(\d+(\.\d*)?|\.\d+)$/ : /^-?\d+$/;
  const value = pattern.test(text.trim()) ? Number(text) : NaN;
  if (value >= limits.min && value <= limits.max) return value;
  const kind = limits.fraction ? "a number" : "an integer";
  const expected = `expected ${kind} from ${limits.min} to ${limits.max}`;
  throw new UsageError(`invalid ${what} '${text}': ${expected}`, usage);
}

/**
 * Parses `--timeout SECONDS` (0.001 s to one day) into milliseconds.
 * @example
 * ```ts
 * parseTimeoutMs("2.5"); // 2500
 * ```
 */
export function parseTimeoutMs(text: string, usage = ""): number {
  const limits = { min: 0.001, max: 86400, fraction: true };
  return Math.round(parseNumber(text, "timeout", limits, usage) * 1000);
}
