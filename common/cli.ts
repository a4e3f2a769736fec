/**
 * One command-line parser for every script, over `node:util` `parseArgs`
 * (strict), with usage text generated from the option table.
 *
 * Bad arguments throw {@linkcode UsageError}; `runMain` in `errors.ts`
 * prints `error: ...` and the usage on stderr and exits 2.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** One option in a script's option table. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** Shown in the usage, e.g. `PORT`. */
  arg?: string;
  /** One line for the usage. */
  help: string;
  default?: string | boolean;
}

/** A script's command-line description. */
export interface CommandSpec<O extends Record<string, OptionSpec>> {
  /** How to run it, e.g. `lab1_echo/server.ts`. */
  name: string;
  /** Positional part of the synopsis, e.g. `[SENTENCE...]`. */
  synopsis?: string;
  /** What the script does, one or two lines. */
  summary: string;
  options: O;
  /** Lines added after the option table (examples, notes). */
  epilog?: string;
  /** How many positional arguments are allowed (default 0). */
  maxPositionals?: number;
}

/** The parsed values: strings for string options, booleans for flags. */
export type Values<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K]["type"] extends "boolean" ? boolean
    : O[K]["default"] extends string ? string
    : string | undefined;
};

/** The result of {@linkcode parseCli}. */
export interface Parsed<O extends Record<string, OptionSpec>> {
  values: Values<O>;
  positionals: string[];
  usage: string;
}

/** Bad command-line arguments: exit 2 with the usage. */
export class UsageError extends Error {
  override name = "UsageError";
  /** The usage text printed after the error line. */
  usage: string;
  constructor(message: string, usage = "") {
    super(message);
    this.usage = usage;
  }
}

/** `-h/--help`, accepted by every script. */
export const helpOption = {
  type: "boolean",
  short: "h",
  help: "show this help and exit",
} as const satisfies OptionSpec;

/** `--trace`, accepted by every script. */
export const traceOption = {
  type: "boolean",
  help: "print every socket read and write to stderr",
} as const satisfies OptionSpec;

/** `-a/--address` with a default host. */
export function addressOption<D extends string>(defaultHost: D, help: string) {
  return { type: "string", short: "a", arg: "ADDR", default: defaultHost, help } as const;
}

/** `-p/--port` with a default port. */
export function portOption<D extends string>(defaultPort: D, help = "port") {
  return { type: "string", short: "p", arg: "PORT", default: defaultPort, help } as const;
}

/** `-p/--port` of a server, which also takes its port as the handout's positional `PORT`. */
export function serverPortOption(defaultPort: number) {
  const help = `port to listen on, also as PORT (default ${defaultPort}); 0 picks a free one`;
  return { type: "string", short: "p", arg: "PORT", help } as const;
}

/**
 * A server's port from its positional `PORT` or `-p PORT` (two different
 * ones are a usage error), else `defaultPort`.
 *
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

/** `--timeout SECONDS` with a default. */
export function timeoutOption<D extends string>(defaultSeconds: D, help: string) {
  return { type: "string", arg: "SECONDS", default: defaultSeconds, help } as const;
}

/**
 * Builds the usage text from a command spec.
 *
 * @example
 * ```ts
 * formatUsage({ name: "x.ts", summary: "demo", options: { help: helpOption } });
 * ```
 */
export function formatUsage<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>): string {
  const rows = Object.entries(spec.options).map(([long, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${long}${o.arg ? ` ${o.arg}` : ""}`;
    const dflt = o.type === "string" && o.default !== undefined ? ` (default: ${o.default})` : "";
    return [flag, `${o.help}${dflt}`];
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  const lines = [
    `usage: deno run ... ${spec.name} [options]${spec.synopsis ? ` ${spec.synopsis}` : ""}`,
    "",
    spec.summary,
    "",
    "options:",
    ...rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`),
  ];
  if (spec.epilog) lines.push("", spec.epilog);
  return lines.join("\n");
}

/**
 * Parses `args` (default `Deno.args`) against the spec. `--help` prints the
 * usage to stdout and exits 0; anything unknown or malformed throws
 * {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * const { values } = parseCli({
 *   name: "client.ts",
 *   summary: "demo",
 *   options: { port: portOption("12000"), help: helpOption },
 * }, ["-p", "8080"]);
 * values.port; // "8080"
 * ```
 */
export function parseCli<const O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  args: string[] = Deno.args,
): Parsed<O> {
  const usage = formatUsage(spec);
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [long, o] of Object.entries(spec.options)) {
    options[long] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(cleanParseError(error, spec.options), usage);
  }
  if (parsed.values.help) {
    console.log(usage);
    Deno.exit(0);
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const [long, o] of Object.entries(spec.options)) {
    values[long] = parsed.values[long] ?? o.default ?? (o.type === "boolean" ? false : undefined);
  }
  const max = spec.maxPositionals ?? 0;
  if (parsed.positionals.length > max) {
    throw new UsageError(`unexpected argument '${parsed.positionals[max]}'`, usage);
  }
  return { values: values as Values<O>, positionals: parsed.positionals, usage };
}

/** One short line for a `parseArgs` error, told apart by its `code`. */
function cleanParseError(error: unknown, options: Record<string, OptionSpec>): string {
  const message = error instanceof Error ? error.message : String(error);
  // The option as the user wrote it; Node's message names it, in quotes.
  const option = message.match(/'(?:-\w, )?(--?[\w-]+)/)?.[1] ?? "";
  switch ((error as { code?: string }).code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option '${option}'`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return options[option.replace(/^--/, "")]?.type === "boolean"
        ? `option '${option}' takes no value`
        : `option '${option}' needs a value (write ${option}=VALUE for one starting with '-')`;
    default:
      return message.split("\n")[0];
  }
}

/** Port rules: servers take 0 (any free port) or 1024..65535; clients 1..65535. */
export type PortRole = "server" | "client";

/**
 * Parses a port number, throwing {@linkcode UsageError} when out of range.
 *
 * @example
 * ```ts
 * parsePort("12000", "server", usage); // 12000
 * ```
 */
export function parsePort(text: string, role: PortRole, usage = ""): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  const ok = role === "server"
    ? port === 0 || (port >= 1024 && port <= 65535)
    : port >= 1 && port <= 65535;
  if (!ok) {
    const range = role === "server" ? "0 (any free port) or 1024..65535" : "1..65535";
    throw new UsageError(`invalid port '${text}': expected ${range}`, usage);
  }
  return port;
}

/**
 * Parses a decimal number within `[min, max]` (integers only unless `fraction`).
 *
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
  if (!(value >= limits.min && value <= limits.max)) {
    const kind = limits.fraction ? "a number" : "an integer";
    throw new UsageError(
      `invalid ${what} '${text}': expected ${kind} from ${limits.min} to ${limits.max}`,
      usage,
    );
  }
  return value;
}

/** Parses `--timeout SECONDS` into milliseconds (0.001 s .. 1 day). */
export function parseTimeoutMs(text: string, usage = ""): number {
  return Math.round(
    parseNumber(text, "timeout", { min: 0.001, max: 86400, fraction: true }, usage) * 1000,
  );
}
