/**
 * Check results: PASS / FAIL / WARN (and INFO, NOT_RUN) with a one-line
 * reason, each check named by a stable id and labelled `handout` (what the
 * handout asks) or `beyond` (what a robust program does), printed as a
 * table or as JSON for grading scripts. The checks themselves are declared
 * in `specs.ts`.
 *
 * @module
 */

/**
 * A check's outcome. `INFO` says something without scoring it (a check the
 * kit cannot make give the same verdict every run); `NOT_RUN` is a check
 * the kit could not reach (the program crashed earlier, a check it needs
 * failed, a fixed port rules it out). Neither earns points, and neither
 * counts as a pass or a failure.
 */
export type Status = "PASS" | "FAIL" | "WARN" | "INFO" | "NOT_RUN";

/** Whether the handout asks for it, or only a robust program does it. */
export type Level = "handout" | "beyond";

import { checkSpecs, specOf } from "./specs.ts";

export { type CheckSpec, checkSpecs, labOf, type LabSpec, type Role, specOf } from "./specs.ts";

/** One check's outcome. */
export interface Check {
  /** Stable key (`lab1.64k`): see `checkSpecs`. */
  id: string;
  name: string;
  level: Level;
  status: Status;
  reason: string;
}

/** All checks of one run of the kit. */
export interface Report {
  lab: string;
  server?: string;
  client?: string;
  checks: Check[];
  /** What the kit could not run, and why. */
  notes: string[];
  /** Counts by status (`info` and `notRun` are left out by older writers). */
  summary: { pass: number; fail: number; warn: number; info?: number; notRun?: number };
}

/** The longest reason kept: room for what was sent, what came back, the cause and stderr lines. */
const MAX_REASON = 1000;

/**
 * The outcome for a miss: a `handout` miss is a FAIL; a `beyond` miss is a
 * WARN, unless it lets a request name a file outside the served folder.
 *
 * @example
 * ```ts
 * missStatus("beyond"); // "WARN"
 * missStatus("beyond", { hole: true }); // "FAIL"
 * ```
 */
export function missStatus(level: Level, options: { hole?: boolean } = {}): Status {
  return level === "handout" || options.hole ? "FAIL" : "WARN";
}

/** What a check's function returns: a status (`MISS`: FAIL or WARN by level) and the reason. */
export type Verdict = [Status | "MISS", string];

/**
 * Collects a run's checks, each named by its id in the lab's table
 * (`specs.ts`); a check that throws is a miss with the error as its reason.
 * Every outcome goes through {@linkcode Checks.add} and every note through
 * {@linkcode Checks.note}, so an observer may wrap those two.
 *
 * @example
 * ```ts
 * const checks = new Checks();
 * await checks.run("lab1.upper", () => ["PASS", "11 bytes came back upper-cased"]);
 * checks.list[0].name; // "upper-case reply"
 * ```
 */
export class Checks {
  readonly list: Check[] = [];
  readonly notes: string[] = [];

  /**
   * @param only Words choosing the checks to run: a level (`handout`,
   * `beyond`), an id, or part of a check's name; every check when empty.
   */
  constructor(readonly only: string[] = []) {}

  /** Whether a check is chosen to run ("server starts" always is). */
  wants(id: string): boolean {
    const spec = specFor(id);
    if (this.only.length === 0 || spec.id.endsWith(".starts")) return true;
    const lower = spec.name.toLowerCase();
    return this.only.some((w) =>
      w === spec.level || w === spec.id || lower.includes(w.toLowerCase())
    );
  }

  /** The status recorded for a check, if it ran. */
  statusOf(id: string): Status | undefined {
    return this.list.find((c) => c.id === id)?.status;
  }

  /** Records an outcome directly. */
  add(id: string, status: Status, reason: string): void {
    const { name, level } = specFor(id);
    let text = reason.replace(/\s+/g, " ").trim();
    if (text.length > MAX_REASON) text = text.slice(0, MAX_REASON - 3) + "...";
    this.list.push({ id, name, level, status, reason: text });
  }

  /** Records a check the kit could not reach, and why (only if chosen and not yet recorded). */
  notRun(id: string, reason: string): void {
    if (this.wants(id) && !this.statusOf(id)) this.add(id, "NOT_RUN", reason);
  }

  /** Records something the kit did not run, and why. */
  note(text: string): void {
    this.notes.push(text);
  }

  /**
   * The reason a check cannot run because one it needs did not pass, or
   * `undefined` when it can.
   */
  unmet(id: string): string | undefined {
    for (const need of specFor(id).needs ?? []) {
      const status = this.statusOf(need);
      if (status && status !== "PASS" && status !== "WARN" && status !== "INFO") {
        return `not run: it needs "${specFor(need).name}", which ${
          status === "NOT_RUN" ? "did not run" : "failed"
        }`;
      }
    }
    return undefined;
  }

  /**
   * Runs `fn`, which returns `[status, reason]` or throws (a miss). A miss
   * may be given as `"MISS"`, which becomes FAIL or WARN by the check's
   * level. A check not chosen (see `only`) is not run: `undefined`; one
   * whose `needs` did not pass is NOT_RUN.
   */
  async run(id: string, fn: () => Verdict | Promise<Verdict>): Promise<Status | undefined> {
    if (!this.wants(id)) return undefined;
    const { level } = specFor(id);
    const unmet = this.unmet(id);
    if (unmet) {
      this.add(id, "NOT_RUN", unmet);
      return "NOT_RUN";
    }
    let status: Status;
    let reason: string;
    const begin = performance.now();
    try {
      const [s, r] = await fn();
      status = s === "MISS" ? missStatus(level) : s;
      reason = r;
    } catch (error) {
      status = missStatus(level);
      reason = error instanceof Error ? error.message : String(error);
    }
    if (Deno.env.get("KIT_DEBUG_TIMES")) {
      console.error(`${id}: ${Math.round(performance.now() - begin)} ms`);
    }
    this.add(id, status, reason);
    return status;
  }
}

/** The spec of a check id; an unknown id is the kit's own bug. */
function specFor(id: string) {
  const spec = specOf(id);
  if (!spec) throw new Error(`the kit has no check ${id}`);
  return spec;
}

/**
 * Builds the report for a lab: the checks in the lab's order; each check
 * of the given roles that was chosen but never recorded is NOT_RUN.
 */
export function makeReport(
  lab: string,
  roles: { server?: string; client?: string },
  checks: Checks,
): Report {
  const specs = checkSpecs(lab, roles);
  for (const spec of specs) {
    if (checks.wants(spec.id) && !checks.statusOf(spec.id)) {
      checks.add(spec.id, "NOT_RUN", "not reached: an earlier problem stopped this role's checks");
    }
  }
  const order = (c: Check) => {
    const i = specs.findIndex((s) => s.id === c.id);
    return i < 0 ? specs.length : i;
  };
  const list = [...checks.list].sort((a, b) => order(a) - order(b));
  const count = (s: Status) => list.filter((c) => c.status === s).length;
  return {
    lab,
    ...roles,
    checks: list,
    notes: checks.notes,
    summary: {
      pass: count("PASS"),
      fail: count("FAIL"),
      warn: count("WARN"),
      info: count("INFO"),
      notRun: count("NOT_RUN"),
    },
  };
}

/**
 * The summary line: `5 passed, 1 failed, 2 warnings`, then `, 1 info, 3 not
 * run` when there are any.
 *
 * @example
 * ```ts
 * summaryLine({ pass: 5, fail: 1, warn: 2, notRun: 3 }); // "5 passed, 1 failed, 2 warnings, 3 not run"
 * ```
 */
export function summaryLine(summary: Report["summary"]): string {
  return `${summary.pass} passed, ${summary.fail} failed, ${summary.warn} warnings` +
    (summary.info ? `, ${summary.info} info` : "") +
    (summary.notRun ? `, ${summary.notRun} not run` : "");
}

/**
 * The report as a readable table.
 *
 * @example
 * ```ts
 * const checks = new Checks();
 * checks.add("lab1.starts", "PASS", "TCP port 12000 bound");
 * console.log(formatReport(makeReport("lab1_echo", { server: "python3 s.py {port}" }, checks)));
 * ```
 */
export function formatReport(report: Report): string {
  const width = Math.max(...report.checks.map((c) => c.name.length), 5);
  // As wide as the longest status shown: NOT_RUN only widens the column when there is one.
  const statusWidth = Math.max(4, ...report.checks.map((c) => c.status.length));
  const lines = [
    `conformance: ${report.lab}`,
    ...(report.server ? [`  server under test: ${report.server}`] : []),
    ...(report.client ? [`  client under test: ${report.client}`] : []),
    "",
    ...report.checks.map((c) =>
      `  ${c.status.padEnd(statusWidth)}  ${c.level.padEnd(7)}  ${
        c.name.padEnd(width)
      }  ${c.reason}`
    ),
    ...(report.notes.length ? ["", ...report.notes.map((n) => `  note: ${n}`)] : []),
    "",
    summaryLine(report.summary),
  ];
  return lines.join("\n");
}
