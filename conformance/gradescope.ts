/**
 * Gradescope's `results.json` for a report: each check is a test with a
 * score. Weights: a `handout` check is worth 2 points and a `beyond` check
 * 1, unless a weights file says otherwise; a PASS earns the points, a WARN
 * half, a FAIL none.
 *
 * @module
 */

import type { Check, Level, Report, Status } from "./report.ts";
import { summaryLine } from "./report.ts";

/** Points per check: by level, and by check name (which wins). */
export interface Weights {
  handout: number;
  beyond: number;
  checks: Record<string, number>;
}

/** The default weights. */
export const DEFAULT_WEIGHTS: Weights = { handout: 2, beyond: 1, checks: {} };

/** The share of a check's points each outcome earns. */
export const EARNED: Record<Status, number> = { PASS: 1, WARN: 0.5, FAIL: 0 };

/**
 * Reads weights from JSON text: `{"handout": 2, "beyond": 1, "server: dotfile": 0}`;
 * any key other than the two levels names a check. Throws on anything else.
 *
 * @example
 * ```ts
 * parseWeights('{"beyond": 0, "20 MB file": 5}').checks["20 MB file"]; // 5
 * ```
 */
export function parseWeights(text: string): Weights {
  const data = JSON.parse(text);
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new Error("expected a JSON object of check names (or handout, beyond) to points");
  }
  const weights: Weights = { ...DEFAULT_WEIGHTS, checks: {} };
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== "number" || !(value >= 0)) {
      throw new Error(`the weight of "${key}" is not a number >= 0`);
    }
    if (key === "handout" || key === "beyond") weights[key as Level] = value;
    else weights.checks[key] = value;
  }
  return weights;
}

/** A check's points. */
export function weightOf(check: Check, weights: Weights = DEFAULT_WEIGHTS): number {
  return weights.checks[check.name] ?? weights[check.level];
}

/** One test in Gradescope's format. */
export interface GradescopeTest {
  name: string;
  score: number;
  max_score: number;
  status: "passed" | "failed";
  output: string;
  tags: string[];
}

/** Gradescope's `results.json`. */
export interface GradescopeResults {
  score: number;
  output: string;
  tests: GradescopeTest[];
}

const round = (n: number) => Math.round(n * 100) / 100;

/**
 * The report as Gradescope's results.
 *
 * @example
 * ```ts
 * import type { Report } from "./report.ts";
 * declare const report: Report;
 * const results = gradescopeResults(report);
 * await Deno.writeTextFile("/autograder/results/results.json", JSON.stringify(results));
 * ```
 */
export function gradescopeResults(
  report: Report,
  weights: Weights = DEFAULT_WEIGHTS,
): GradescopeResults {
  const tests = report.checks.map((c): GradescopeTest => {
    const max = weightOf(c, weights);
    return {
      name: c.name,
      score: round(max * EARNED[c.status]),
      max_score: max,
      status: c.status === "PASS" ? "passed" : "failed",
      output: `${c.status} (${c.level}): ${c.reason}`,
      tags: [c.level],
    };
  });
  const notes = report.notes.map((n) => `\nnote: ${n}`).join("");
  return {
    score: round(tests.reduce((sum, t) => sum + t.score, 0)),
    output: `conformance ${report.lab}: ${summaryLine(report.summary)}${notes}`,
    tests,
  };
}
