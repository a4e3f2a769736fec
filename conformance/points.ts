/**
 * Points: what each check is worth (by level, or by check id or name from a
 * weights file), and what each outcome earns. One table for every writer:
 * Gradescope, CSV, HTML.
 *
 * @module
 */

import type { CheckSpec, Level, Report, Status } from "./report.ts";

/** Points per check: by level, and by check id (which wins). */
export interface Weights {
  handout: number;
  beyond: number;
  /** Points by check id (or, for a check the kit could not name in advance, by name). */
  checks: Record<string, number>;
}

/**
 * The default weights: a handout check is worth 2 points, a beyond check 1.
 *
 * @example
 * ```ts
 * const weights: Weights = { ...DEFAULT_WEIGHTS, checks: { "lab1.64k": 3 } };
 * ```
 */
export const DEFAULT_WEIGHTS: Weights = { handout: 2, beyond: 1, checks: {} };

/** A check as a lab declares it, before anything runs (see `checkSpecs`). */
export type KnownCheck = Pick<CheckSpec, "id" | "name" | "level">;

/**
 * A check's stable key: its id, or its name where the report has no id.
 *
 * @example
 * ```ts
 * checkKey({ name: "64 KB sentence" }); // "64 KB sentence"
 * checkKey({ id: "lab1.64k", name: "64 KB sentence" }); // "lab1.64k"
 * ```
 */
export function checkKey(check: { name: string; id?: string }): string {
  return check.id ?? check.name;
}

/**
 * The share of a check's points an outcome earns: all for a PASS, half for a
 * WARN, none for a FAIL or a check that did not run.
 *
 * @example
 * ```ts
 * share("WARN"); // 0.5
 * ```
 */
export function share(status: Status): number {
  return status === "PASS" ? 1 : status === "WARN" ? 0.5 : 0;
}

/**
 * Reads weights from JSON text: `{"handout": 2, "beyond": 1, "lab1.64k": 0}`.
 * Any key other than the two levels names a check, by id (or by name). With
 * `known`, a key that names none of them throws, listing the valid keys: a
 * misspelt key would otherwise leave a check at its default silently.
 *
 * @example
 * ```ts
 * parseWeights('{"beyond": 0, "20 MB file": 5}').checks["20 MB file"]; // 5
 * ```
 */
export function parseWeights(text: string, known?: KnownCheck[]): Weights {
  const data = JSON.parse(text);
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new Error("expected a JSON object of check ids (or handout, beyond) to points");
  }
  const weights: Weights = { ...DEFAULT_WEIGHTS, checks: {} };
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== "number" || !(value >= 0)) {
      throw new Error(`the weight of "${key}" is not a number >= 0`);
    }
    if (key === "handout" || key === "beyond") {
      weights[key as Level] = value;
      continue;
    }
    const check = known?.find((c) => c.id === key) ?? known?.find((c) => c.name === key);
    if (known && !check) unknown.push(key);
    weights.checks[check?.id ?? key] = value;
  }
  if (unknown.length > 0) {
    throw new Error(
      `unknown ${unknown.length === 1 ? "key" : "keys"} ${
        unknown.map((k) => JSON.stringify(k)).join(", ")
      }: valid keys are handout, beyond, and the check ids ${
        known!.map((c) => c.id).join(", ")
      } (or the checks' names)`,
    );
  }
  return weights;
}

/**
 * A check's full points, by id, then name, then level. A check reported as
 * INFO is not scored: 0. A NOT_RUN check keeps its points, earning none, so
 * a program that crashes early is not scored on the few checks it reached.
 *
 * @example
 * ```ts
 * const check = { name: "client: prompt", level: "handout" as const };
 * weightOf(check, { handout: 2, beyond: 1, checks: { "client: prompt": 0 } }); // 0
 * ```
 */
export function weightOf(
  check: { name: string; id?: string; level: Level; status?: Status },
  weights: Weights = DEFAULT_WEIGHTS,
): number {
  // INFO says something the kit cannot say the same way every run: never scored.
  if (check.status === "INFO") return 0;
  return weights.checks[checkKey(check)] ?? weights.checks[check.name] ?? weights[check.level];
}

/** What one check earned, out of what it is worth. */
export interface Points {
  earned: number;
  max: number;
}

/**
 * Rounds to hundredths, so sums of halves print as 1.5, not 1.4999999.
 *
 * @example
 * ```ts
 * round(0.1 + 0.2); // 0.3
 * ```
 */
export const round = (n: number): number => Math.round(n * 100) / 100;

/**
 * A check's points: its weight times its outcome's share.
 *
 * @example
 * ```ts
 * pointsOf({ name: "64 KB sentence", level: "beyond", status: "WARN" }); // { earned: 0.5, max: 1 }
 * ```
 */
export function pointsOf(
  check: { name: string; id?: string; level: Level; status: Status },
  weights: Weights = DEFAULT_WEIGHTS,
): Points {
  const max = weightOf(check, weights);
  return { earned: round(max * share(check.status)), max };
}

/**
 * A report's total: the sum over its checks.
 *
 * @example
 * ```ts
 * import type { Report } from "./report.ts";
 * declare const report: Report;
 * const { earned, max } = totalOf(report);
 * ```
 */
export function totalOf(report: Report, weights: Weights = DEFAULT_WEIGHTS): Points {
  let earned = 0;
  let max = 0;
  for (const c of report.checks) {
    const p = pointsOf(c, weights);
    earned += p.earned;
    max += p.max;
  }
  return { earned: round(earned), max: round(max) };
}
