/**
 * A Gradescope autograder for one lab: `deno task autograder LAB --server
 * CMD --client CMD --out autograder.zip`. The zip holds `setup.sh` (Deno
 * 2.9.6, python3 and iproute2 on Gradescope's Ubuntu image), `run_autograder`
 * (grades `/autograder/submission` and writes
 * `/autograder/results/results.json`) and the kit with every file it
 * imports or runs, at the paths it has here. `AUTOGRADER_ROOT` stands for
 * `/autograder` when `run_autograder` runs anywhere else (the tests).
 *
 * @module
 */

import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCli, parseNumber, parseTimeoutMs, UsageError } from "../common/cli.ts";
import { Failure, runMain } from "../common/errors.ts";
import { VISIBILITIES, type Visibility } from "./gradescope.ts";
import { userFolder, validate } from "./main.ts";
import { checkSpecs } from "./report.ts";
import { parseWeights } from "./points.ts";
import { zip, type ZipEntry } from "./zip.ts";

/** The repository root: the kit's files are taken from here. */
const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The Deno the bundle installs: the one this repository is tested with. */
export const DENO_VERSION = "2.9.6";

/** What `run_autograder` runs. */
export interface BundleOptions {
  lab: string;
  server?: string;
  client?: string;
  port?: number;
  /** Limit for each command (`--timeout`), in milliseconds. */
  timeoutMs?: number;
  /** Cap on the whole submission, in milliseconds. */
  submissionTimeoutMs: number;
  only?: string[];
  visibility: Visibility;
  /** A weights file's text, checked, shipped as `weights.json`. */
  weights?: string;
}

/**
 * Quotes a word for a POSIX shell: as it is when plain, else in single quotes.
 *
 * @example
 * ```ts
 * shellQuote("python3 server.py {port}"); // "'python3 server.py {port}'"
 * shellQuote("it's"); // "'it'\\''s'"
 * ```
 */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * `setup.sh`: what Gradescope runs once, as root, when it builds the image.
 * Deno from npm (as `.ci/run` installs it), else from Deno's release zip.
 *
 * @example
 * ```ts
 * setupScript().startsWith("#!/usr/bin/env bash"); // true
 * ```
 */
export function setupScript(): string {
  return `#!/usr/bin/env bash
# Gradescope runs this once, as root, on its Ubuntu image when it builds the autograder.
# Written by deno task autograder (conformance/autograder.ts).
set -euo pipefail
DENO_VERSION=${DENO_VERSION}
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# python3 for the students' programs; iproute2 for ip, which brings up a private loopback.
apt-get install -y -qq python3 iproute2 nodejs npm curl unzip ca-certificates
has_deno() { command -v deno >/dev/null 2>&1 && deno --version | grep -q "^deno $DENO_VERSION "; }
# npm's deno package puts the real binary in place of its bin entry (a postinstall step).
npm install -g --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION" || true
hash -r
if ! has_deno; then
  echo "deno $DENO_VERSION not installed by npm: taking Deno's release zip"
  tmp="$(mktemp -d)"
  curl -fsSL -o "$tmp/deno.zip" \\
    "https://github.com/denoland/deno/releases/download/v$DENO_VERSION/deno-x86_64-unknown-linux-gnu.zip"
  unzip -q -o "$tmp/deno.zip" -d /usr/local/bin
  chmod 755 /usr/local/bin/deno
  rm -rf "$tmp"
  hash -r
fi
has_deno || { echo "could not install deno $DENO_VERSION" >&2; exit 1; }
deno --version
`;
}

/**
 * `run_autograder`: grades the submission with the kit in `source/`, writes
 * `results/results.json`, and writes one saying so when the kit could not run.
 *
 * @example
 * ```ts
 * const script = runAutograderScript({
 *   lab: "lab1_echo",
 *   server: "python3 server.py {port}",
 *   submissionTimeoutMs: 300_000,
 *   visibility: "visible",
 * });
 * ```
 */
export function runAutograderScript(options: BundleOptions): string {
  const args = [options.lab];
  if (options.server) args.push("--server", options.server);
  if (options.client) args.push("--client", options.client);
  if (options.port !== undefined) args.push("--port", `${options.port}`);
  if (options.timeoutMs !== undefined) args.push("--timeout", `${options.timeoutMs / 1000}`);
  if (options.only?.length) args.push("--checks", options.only.join(","));
  args.push(
    "--submission-timeout",
    `${options.submissionTimeoutMs / 1000}`,
    "--visibility",
    options.visibility,
  );
  const kit = args.map(shellQuote).join(" ");
  const weights = options.weights ? ` --weights "$source/weights.json"` : "";
  const fallback = JSON.stringify({
    score: 0,
    output: "The autograder itself could not run, so nothing was graded: WHY. " +
      "This says nothing about your submission; please tell your instructor.",
    tests: [],
    visibility: options.visibility,
    stdout_visibility: options.visibility,
  }).replace("WHY", "%s");
  return `#!/usr/bin/env bash
# Gradescope runs this for each submission. Written by deno task autograder
# (conformance/autograder.ts): it grades $root/submission with the conformance kit in
# $root/source and writes $root/results/results.json. AUTOGRADER_ROOT stands for
# /autograder where this runs elsewhere (a test, a dry run on your machine).
set -u
root="\${AUTOGRADER_ROOT:-/autograder}"
source="$root/source"
results="$root/results/results.json"
mkdir -p "$root/results"
rm -f "$results"
# An outer deno task's folder would be taken for the submission's.
unset INIT_CWD
export NO_COLOR=1 DENO_NO_UPDATE_CHECK=1
status=0
if ! cd "$root/submission" 2>/dev/null; then
  status=126
  why="there is no folder $root/submission"
elif ! command -v deno >/dev/null 2>&1; then
  status=127
  why="deno is not installed (setup.sh did not run, or failed)"
else
  deno run --quiet --no-prompt --allow-all --config "$source/deno.json" "$source/conformance/main.ts" \\
    ${kit}${weights} --gradescope "$results"
  status=$?
  why="the conformance kit exited with code $status"
fi
# 0: no check failed, 1: one did; results.json holds the grade either way. On 3 the kit wrote
# one saying it could not run. Anything else (or nothing written): say so here.
if [ ! -s "$results" ]; then
  why="\${why//\\\\/\\\\\\\\}"
  why="\${why//\\"/\\\\\\"}"
  printf '${fallback}\\n' "$why" > "$results"
fi
echo "run_autograder: kit exit $status; wrote $results"
exit 0
`;
}

/** The files the kit imports, from `deno info`, repository-relative. */
async function graphOf(file: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `--config=${join(ROOT, "deno.json")}`, join(ROOT, file)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Failure(`deno info ${file} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { local?: string }[];
  };
  return info.modules.flatMap((m) => (m.local ? [relative(ROOT, m.local)] : []))
    .filter((p) => !p.startsWith(".."));
}

/**
 * Every file the kit needs: what `main.ts` and the worker import, and the
 * scripts it runs as programs (`script("lab1_echo/client.ts")`) with theirs,
 * plus `deno.json` and `deno.lock`.
 *
 * @example
 * ```ts
 * const files = await kitFiles(); // ["conformance/main.ts", ..., "deno.json", "deno.lock"]
 * ```
 */
export async function kitFiles(): Promise<string[]> {
  const files = new Set<string>();
  const pending = ["conformance/main.ts", "conformance/worker.ts"];
  const seen = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const f of await graphOf(file)) {
      files.add(f);
      // Scripts the kit starts as programs are no imports: deno info cannot see them.
      const text = await Deno.readTextFile(join(ROOT, f));
      for (const [, run] of text.matchAll(/\bscript\("([^"]+\.ts)"\)/g)) pending.push(run);
    }
  }
  return [...files].sort().concat("deno.json", "deno.lock");
}

/**
 * The bundle as zip bytes.
 *
 * @example
 * ```ts
 * const bytes = await buildBundle({
 *   lab: "lab1_echo",
 *   server: "python3 server.py {port}",
 *   submissionTimeoutMs: 300_000,
 *   visibility: "after_published",
 * });
 * ```
 */
export async function buildBundle(options: BundleOptions): Promise<Uint8Array> {
  const encoder = new TextEncoder();
  const entries: ZipEntry[] = [
    { name: "setup.sh", data: encoder.encode(setupScript()), mode: 0o755 },
    { name: "run_autograder", data: encoder.encode(runAutograderScript(options)), mode: 0o755 },
  ];
  if (options.weights) {
    entries.push({ name: "weights.json", data: encoder.encode(options.weights) });
  }
  for (const file of await kitFiles()) {
    entries.push({ name: file, data: await Deno.readFile(join(ROOT, file)) });
  }
  return zip(entries);
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals, usage } = parseCli({
      name: "conformance/autograder.ts",
      synopsis: "LAB",
      summary: "Writes a Gradescope autograder (a zip) that grades each submission with the\n" +
        "conformance kit. Templates as for deno task conformance; relative paths are taken\n" +
        "from the submission's folder.",
      options: {
        server: { type: "string", arg: "CMD", help: 'e.g. "python3 TCPServer.py {port}"' },
        client: { type: "string", arg: "CMD", help: 'e.g. "python3 TCPClient.py {host} {port}"' },
        port: { type: "string", arg: "N", help: "for programs fixed on port N" },
        out: { type: "string", arg: "FILE", default: "autograder.zip", help: "the zip to write" },
        visibility: {
          type: "string",
          arg: "WHO",
          default: "visible",
          help: `who sees the tests and score: ${VISIBILITIES.join(", ")}`,
        },
        weights: { type: "string", arg: "FILE", help: "points per check, as for the kit" },
        checks: { type: "string", arg: "WORDS", help: "run only some checks, as for the kit" },
        timeout: { type: "string", arg: "SECONDS", default: "20", help: "limit for each command" },
        "submission-timeout": {
          type: "string",
          arg: "SECONDS",
          default: "300",
          help: "cap on one submission (then TIMEOUT, with the checks done so far)",
        },
      },
      maxPositionals: 1,
      epilog:
        'example: deno task autograder lab1_echo --server "python3 TCPServer.py {port}" --client "python3 TCPClient.py {host} {port}"',
    });
    try {
      if (positionals.length === 0) throw new UsageError("missing LAB");
      const base = userFolder();
      const options: BundleOptions = {
        lab: positionals[0],
        server: values.server,
        client: values.client,
        port: values.port === undefined
          ? undefined
          : parseNumber(values.port, "--port", { min: 1024, max: 65535 }),
        timeoutMs: parseTimeoutMs(values.timeout),
        submissionTimeoutMs: parseTimeoutMs(values["submission-timeout"]),
        only: values.checks?.split(",").map((w) => w.trim()).filter((w) => w !== ""),
        visibility: values.visibility as Visibility,
      };
      if (!VISIBILITIES.includes(options.visibility)) {
        throw new UsageError(
          `--visibility ${values.visibility}: one of ${VISIBILITIES.join(", ")}`,
        );
      }
      options.lab = validate(options.lab, options);
      if (values.weights !== undefined) {
        try {
          const text = await Deno.readTextFile(resolve(base, values.weights));
          parseWeights(text, checkSpecs(options.lab));
          options.weights = text;
        } catch (error) {
          throw new UsageError(
            `--weights ${values.weights}: ${error instanceof Error ? error.message : error}`,
          );
        }
      }
      const out = resolve(base, values.out);
      const bytes = await buildBundle(options);
      try {
        await Deno.writeFile(out, bytes);
      } catch (error) {
        throw new Failure(`cannot write ${out}: ${error instanceof Error ? error.message : error}`);
      }
      console.log(
        `wrote ${out} (${Math.round(bytes.length / 1024)} KiB): upload it as the autograder`,
      );
      return 0;
    } catch (error) {
      if (error instanceof UsageError && !error.usage) throw new UsageError(error.message, usage);
      throw error;
    }
  }, () => 3);
}
