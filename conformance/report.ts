/**
 * Check results: PASS / FAIL / WARN with a one-line reason, each labelled
 * `handout` (what the handout asks) or `beyond` (what a robust program
 * does), printed as a table or as JSON for grading scripts.
 *
 * @module
 */

/** A check's outcome. */
export type Status = "PASS" | "FAIL" | "WARN";

/** Whether the handout asks for it, or only a robust program does it. */
export type Level = "handout" | "beyond";

/** One named check. */
export interface Check {
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
  summary: { pass: number; fail: number; warn: number };
}

/** The longest reason kept: room for what was expected, what came back, and a few stderr lines. */
const MAX_REASON = 800;

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

/** Collects checks; a check that throws is a miss with the error as its reason. */
export class Checks {
  readonly list: Check[] = [];
  readonly notes: string[] = [];
  /**
   * Called after a check that did not pass; its text (e.g. "the server had
   * exited ...") is added to the reason.
   */
  explain?: () => string | undefined;

  /**
   * @param only Words choosing the checks to run: a level (`handout`,
   * `beyond`) or part of a check's name; every check when empty.
   */
  constructor(readonly only: string[] = []) {}

  /** Whether a check is chosen to run ("server starts" always is). */
  wants(name: string, level: Level): boolean {
    if (this.only.length === 0 || name === "server starts") return true;
    const lower = name.toLowerCase();
    return this.only.some((w) => w === level || lower.includes(w.toLowerCase()));
  }

  /** Records an outcome directly. */
  add(name: string, level: Level, status: Status, reason: string): void {
    let text = reason.replace(/\s+/g, " ").trim();
    if (text.length > MAX_REASON) text = text.slice(0, MAX_REASON - 3) + "...";
    this.list.push({ name, level, status, reason: text });
  }

  /** Records something the kit did not run, and why. */
  note(text: string): void {
    this.notes.push(text);
  }

  /**
   * Runs `fn`, which returns `[status, reason]` or throws (a miss). A miss
   * may be given as `"MISS"`, which becomes FAIL or WARN by the check's
   * level. A check not chosen (see `only`) is not run: `undefined`.
   */
  async run(
    name: string,
    level: Level,
    fn: () => [Status | "MISS", string] | Promise<[Status | "MISS", string]>,
  ): Promise<Status | undefined> {
    if (!this.wants(name, level)) return undefined;
    let status: Status;
    let reason: string;
    try {
      const [s, r] = await fn();
      status = s === "MISS" ? missStatus(level) : s;
      reason = r;
    } catch (error) {
      status = missStatus(level);
      reason = error instanceof Error ? error.message : String(error);
    }
    if (status !== "PASS") {
      const extra = this.explain?.();
      if (extra && !reason.includes(extra)) reason = `${reason}; ${extra}`;
    }
    this.add(name, level, status, reason);
    return status;
  }
}

/** Builds the report for a lab. */
export function makeReport(
  lab: string,
  roles: { server?: string; client?: string },
  checks: Checks,
): Report {
  const count = (s: Status) => checks.list.filter((c) => c.status === s).length;
  return {
    lab,
    ...roles,
    checks: checks.list,
    notes: checks.notes,
    summary: { pass: count("PASS"), fail: count("FAIL"), warn: count("WARN") },
  };
}

/** The summary line: `5 passed, 1 failed, 2 warnings`. */
export function summaryLine(summary: Report["summary"]): string {
  return `${summary.pass} passed, ${summary.fail} failed, ${summary.warn} warnings`;
}

/** The report as a readable table. */
export function formatReport(report: Report): string {
  const width = Math.max(...report.checks.map((c) => c.name.length), 5);
  const lines = [
    `conformance: ${report.lab}`,
    ...(report.server ? [`  server under test: ${report.server}`] : []),
    ...(report.client ? [`  client under test: ${report.client}`] : []),
    "",
    ...report.checks.map((c) =>
      `  ${c.status}  ${c.level.padEnd(7)}  ${c.name.padEnd(width)}  ${c.reason}`
    ),
    ...(report.notes.length ? ["", ...report.notes.map((n) => `  note: ${n}`)] : []),
    "",
    summaryLine(report.summary),
  ];
  return lines.join("\n");
}
