/**
 * Check results: PASS / FAIL / WARN with a one-line reason, printed as a
 * table or as JSON for grading scripts.
 *
 * @module
 */

/** A check's outcome. */
export type Status = "PASS" | "FAIL" | "WARN";

/** One named check. */
export interface Check {
  name: string;
  status: Status;
  reason: string;
}

/** All checks of one run of the kit. */
export interface Report {
  lab: string;
  server?: string;
  client?: string;
  checks: Check[];
  summary: { pass: number; fail: number; warn: number };
}

/** Collects checks; a check that throws is a FAIL with the error as its reason. */
export class Checks {
  readonly list: Check[] = [];

  /** Records an outcome directly. */
  add(name: string, status: Status, reason: string): void {
    this.list.push({ name, status, reason: reason.replace(/\s+/g, " ").trim().slice(0, 200) });
  }

  /** Runs `fn`; it returns `[status, reason]`, or throws for a FAIL. */
  async run(name: string, fn: () => [Status, string] | Promise<[Status, string]>): Promise<Status> {
    try {
      const [status, reason] = await fn();
      this.add(name, status, reason);
      return status;
    } catch (error) {
      this.add(name, "FAIL", error instanceof Error ? error.message : String(error));
      return "FAIL";
    }
  }
}

/** Builds the report for a lab. */
export function makeReport(
  lab: string,
  roles: { server?: string; client?: string },
  checks: Check[],
): Report {
  const count = (s: Status) => checks.filter((c) => c.status === s).length;
  return {
    lab,
    ...roles,
    checks,
    summary: { pass: count("PASS"), fail: count("FAIL"), warn: count("WARN") },
  };
}

/** The report as a readable table. */
export function formatReport(report: Report): string {
  const width = Math.max(...report.checks.map((c) => c.name.length), 5);
  const lines = [
    `conformance: ${report.lab}`,
    ...(report.server ? [`  server under test: ${report.server}`] : []),
    ...(report.client ? [`  client under test: ${report.client}`] : []),
    "",
    ...report.checks.map((c) => `  ${c.status}  ${c.name.padEnd(width)}  ${c.reason}`),
    "",
    `${report.summary.pass} passed, ${report.summary.fail} failed, ${report.summary.warn} warnings`,
  ];
  return lines.join("\n");
}
