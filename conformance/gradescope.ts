/**
 * Gradescope's `results.json` for a report: each check is a test with a
 * score (see `points.ts`: a `handout` check is worth 2 points and a
 * `beyond` check 1 unless a weights file says otherwise; a PASS earns the
 * points, a WARN half, anything else none), plus the whole score and who
 * may see it.
 *
 * @module
 */

import type { Report } from "./report.ts";
import { summaryLine } from "./report.ts";
import {
  checkKey,
  DEFAULT_WEIGHTS,
  type KnownCheck,
  pointsOf,
  round,
  type Weights,
} from "./points.ts";
import type { RunEnd } from "./batch.ts";

/** Who sees a result on Gradescope, and when. */
export type Visibility = "visible" | "hidden" | "after_due_date" | "after_published";

/**
 * Gradescope's visibility values, for checking `--visibility`.
 *
 * @example
 * ```ts
 * VISIBILITIES.includes("hidden"); // true
 * ```
 */
export const VISIBILITIES: Visibility[] = [
  "visible",
  "hidden",
  "after_due_date",
  "after_published",
];

/** One test in Gradescope's format. */
export interface GradescopeTest {
  name: string;
  score: number;
  max_score: number;
  status: "passed" | "failed";
  output: string;
  tags: string[];
  visibility?: Visibility;
}

/** Gradescope's `results.json`. */
export interface GradescopeResults {
  score: number;
  output: string;
  tests: GradescopeTest[];
  visibility?: Visibility;
  stdout_visibility?: Visibility;
}

/** Options for {@linkcode gradescopeResults}. */
export interface GradescopeOptions {
  /** Who sees the tests and the score (Gradescope's default when absent: visible). */
  visibility?: Visibility;
  /** The lab's checks: any the run did not reach is listed as a test worth its points, earning none. */
  known?: KnownCheck[];
  /** How the run ended, when it was not graded to the end, and why. */
  end?: RunEnd;
  detail?: string;
}

/**
 * The report as Gradescope's results.
 *
 * @example
 * ```ts
 * import type { Report } from "./report.ts";
 * declare const report: Report;
 * const results = gradescopeResults(report, undefined, { visibility: "after_published" });
 * await Deno.writeTextFile("/autograder/results/results.json", JSON.stringify(results));
 * ```
 */
export function gradescopeResults(
  report: Report,
  weights: Weights = DEFAULT_WEIGHTS,
  options: GradescopeOptions = {},
): GradescopeResults {
  const visibility = options.visibility ? { visibility: options.visibility } : {};
  const tests = report.checks.map((c): GradescopeTest => {
    const { earned, max } = pointsOf(c, weights);
    return {
      name: c.name,
      score: earned,
      max_score: max,
      status: c.status === "PASS" ? "passed" : "failed",
      output: `${c.status} (${c.level}): ${c.reason}`,
      tags: [c.level],
      ...visibility,
    };
  });
  const ran = new Set(report.checks.map((c) => checkKey(c)));
  const notReached = options.end === "TIMEOUT" || options.end === "KIT_ERROR"
    ? `not reached: ${options.detail ?? "the run stopped early"}`
    : "not run";
  for (const k of options.known ?? []) {
    if (ran.has(k.id) || report.checks.some((c) => c.name === k.name)) continue;
    const { max } = pointsOf({ ...k, status: "NOT_RUN" }, weights);
    tests.push({
      name: k.name,
      score: 0,
      max_score: max,
      status: "failed",
      output: `NOT_RUN (${k.level}): ${notReached}`,
      tags: [k.level],
      ...visibility,
    });
  }
  const notes = report.notes.map((n) => `\nnote: ${n}`).join("");
  const ended = options.end && options.end !== "graded"
    ? ` (${options.end}: ${options.detail})`
    : "";
  return {
    score: round(tests.reduce((sum, t) => sum + t.score, 0)),
    output: `conformance ${report.lab}: ${summaryLine(report.summary)}${ended}${notes}`,
    tests,
    ...visibility,
    ...(options.visibility ? { stdout_visibility: options.visibility } : {}),
  };
}

/**
 * The results.json for a run in which the kit itself failed: no score the
 * student earned or lost, and words saying so.
 *
 * @example
 * ```ts
 * kitFailureResults("cannot create a temporary folder").score; // 0
 * ```
 */
export function kitFailureResults(why: string, visibility?: Visibility): GradescopeResults {
  return {
    score: 0,
    output: `The autograder itself could not run, so nothing was graded: ${why}. ` +
      "This says nothing about your submission; please tell your instructor.",
    tests: [],
    ...(visibility ? { visibility, stdout_visibility: visibility } : {}),
  };
}
