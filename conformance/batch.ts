/**
 * Batch mode for a class: the same templates run in every subfolder of a
 * folder (one per student), with `{dir}` for the student's folder and
 * relative paths taken from it; one summary table, a CSV with points,
 * status and reason per check, and the columns the HTML page shares.
 *
 * @module
 */

import { join } from "node:path";
import { type Level, type Report, type Status, summaryLine } from "./report.ts";
import {
  checkKey,
  DEFAULT_WEIGHTS,
  type KnownCheck,
  pointsOf,
  round,
  type Weights,
} from "./points.ts";

/**
 * How one submission's run ended: graded to the end, stopped at its time
 * cap (`--submission-timeout`; the checks done by then are kept), or the
 * kit itself could not run.
 */
export type RunEnd = "graded" | "TIMEOUT" | "KIT_ERROR";

/** One student's result. */
export interface BatchRow {
  student: string;
  report: Report;
  /** How the run ended (graded when absent). */
  end?: RunEnd;
  /** For a TIMEOUT or KIT_ERROR: what happened, in a sentence. */
  detail?: string;
  /** Wall time of the submission's run, in milliseconds. */
  ms?: number;
}

/** The student folders under `dir`, by name (hidden folders left out). */
export async function studentFolders(dir: string): Promise<{ student: string; path: string }[]> {
  const found: { student: string; path: string }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    const isDir = entry.isDirectory ||
      (entry.isSymlink && (await Deno.stat(path).catch(() => undefined))?.isDirectory);
    if (isDir) found.push({ student: entry.name, path });
  }
  return found.sort((a, b) => (a.student < b.student ? -1 : a.student > b.student ? 1 : 0));
}

/**
 * The summary table: student, score out of the maximum, how many checks
 * passed, failed, warned or did not run, and how a run that was not graded
 * to the end stopped.
 *
 * @example
 * ```ts
 * const rows: BatchRow[] = [];
 * console.log(formatBatchTable(rows)); // just the header line
 * ```
 */
export function formatBatchTable(
  rows: BatchRow[],
  options: { weights?: Weights; known?: KnownCheck[] } = {},
): string {
  const columns = classColumns(rows, options.known);
  const scores = rows.map((row) => {
    const { earned, max } = rowTotal(row, columns, options.weights);
    return `${earned}/${max}`;
  });
  const width = Math.max(7, ...rows.map((r) => r.student.length));
  const scoreWidth = Math.max(5, ...scores.map((s) => s.length));
  const line = (s: string, sc: string, p: string, f: string, w: string, n: string) =>
    `${s.padEnd(width)}  ${sc.padStart(scoreWidth)}  ${p.padStart(6)}  ${f.padStart(6)}  ${
      w.padStart(8)
    }  ${n.padStart(7)}`;
  return [
    line("student", "score", "passed", "failed", "warnings", "not run"),
    ...rows.map(({ student, report: { summary: s }, end, detail }, i) =>
      line(student, scores[i], `${s.pass}`, `${s.fail}`, `${s.warn}`, `${s.notRun ?? 0}`) +
      (end && end !== "graded" ? `  ${end}: ${detail ?? ""}` : "")
    ),
  ].join("\n");
}

/**
 * The line printed as each student is done: `ann: 5 passed, 1 failed, 2
 * warnings`, and how the run stopped if it did not finish.
 *
 * @example
 * ```ts
 * import type { Report } from "./report.ts";
 * declare const report: Report;
 * console.error(progressLine({ student: "ann", report }));
 * ```
 */
export function progressLine({ student, report, end, detail }: BatchRow): string {
  const ended = end && end !== "graded" ? ` (${end}: ${detail})` : "";
  return `${student}: ${summaryLine(report.summary)}${ended}`;
}

/** One column of the class table: a check, as declared or as first seen in a report. */
export interface Column {
  key: string;
  name: string;
  level: Level;
}

/**
 * The class table's columns: the lab's checks in their declared order when
 * `known` is given, then any other check a report holds, in the order first
 * seen.
 *
 * @example
 * ```ts
 * classColumns([], [{ id: "lab1.64k", name: "64 KB sentence", level: "beyond" }]);
 * // [{ key: "lab1.64k", name: "64 KB sentence", level: "beyond" }]
 * ```
 */
export function classColumns(rows: BatchRow[], known: KnownCheck[] = []): Column[] {
  const columns: Column[] = known.map((c) => ({ key: c.id, name: c.name, level: c.level }));
  for (const { report } of rows) {
    for (const c of report.checks) {
      const key = checkKey(c);
      if (!columns.some((col) => col.key === key || col.name === c.name)) {
        columns.push({ key, name: c.name, level: c.level });
      }
    }
  }
  return columns;
}

/** One cell of the class table: a check's outcome, points and reason for one student. */
export interface Cell {
  status: Status;
  reason: string;
  earned: number;
  max: number;
}

/**
 * A student's cell for a column. A check missing from the report did not
 * run: NOT_RUN, earning nothing of its points, with the reason its run gave
 * (the time cap, the kit's failure) or the run's notes.
 *
 * @example
 * ```ts
 * const row: BatchRow = {
 *   student: "ann",
 *   report: { lab: "lab1_echo", checks: [], notes: [], summary: { pass: 0, fail: 0, warn: 0 } },
 * };
 * cellOf(row, { key: "lab1.64k", name: "64 KB sentence", level: "beyond" }).status; // "NOT_RUN"
 * ```
 */
export function cellOf(row: BatchRow, column: Column, weights: Weights = DEFAULT_WEIGHTS): Cell {
  const check = row.report.checks.find((c) => checkKey(c) === column.key) ??
    row.report.checks.find((c) => c.name === column.name);
  if (check) return { ...pointsOf(check, weights), status: check.status, reason: check.reason };
  const { max } = pointsOf({ ...column, status: "NOT_RUN" }, weights);
  return { status: "NOT_RUN", reason: notRunReason(row), earned: 0, max };
}

function notRunReason(row: BatchRow): string {
  if (row.end === "TIMEOUT") return `not reached: ${row.detail ?? "the submission's time ran out"}`;
  if (row.end === "KIT_ERROR") return `not run: ${row.detail ?? "the kit could not run"}`;
  const notes = row.report.notes.join("; ");
  return notes ? `not run (${notes})` : "not run: an earlier check it needs did not pass";
}

/**
 * A student's total over the columns: the same maximum for every student,
 * since a check that did not run still counts, earning nothing.
 *
 * @example
 * ```ts
 * const rows: BatchRow[] = [];
 * const columns = classColumns(rows);
 * rows.map((row) => rowTotal(row, columns));
 * ```
 */
export function rowTotal(
  row: BatchRow,
  columns: Column[],
  weights: Weights = DEFAULT_WEIGHTS,
): { earned: number; max: number } {
  let earned = 0;
  let max = 0;
  for (const column of columns) {
    const cell = cellOf(row, column, weights);
    earned += cell.earned;
    max += cell.max;
  }
  return { earned: round(earned), max: round(max) };
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The class as CSV: per student its run's end (`graded`, `TIMEOUT`,
 * `KIT_ERROR`), score, maximum and counts, then three columns per check (by id):
 * status, points earned, reason.
 *
 * @example
 * ```ts
 * const rows: BatchRow[] = [];
 * batchCsv(rows); // "student,end,score,max_score,passed,failed,warnings,not_run\n"
 * ```
 */
export function batchCsv(
  rows: BatchRow[],
  options: { weights?: Weights; known?: KnownCheck[] } = {},
): string {
  const weights = options.weights ?? DEFAULT_WEIGHTS;
  const columns = classColumns(rows, options.known);
  const header = [
    "student",
    "end",
    "score",
    "max_score",
    "passed",
    "failed",
    "warnings",
    "not_run",
  ];
  for (const c of columns) header.push(`${c.key} status`, `${c.key} points`, `${c.key} reason`);
  const body = rows.map((row) => {
    const s = row.report.summary;
    const total = rowTotal(row, columns, weights);
    const fields = [
      row.student,
      row.end ?? "graded",
      `${total.earned}`,
      `${total.max}`,
      `${s.pass}`,
      `${s.fail}`,
      `${s.warn}`,
      `${s.notRun ?? 0}`,
    ];
    for (const column of columns) {
      const cell = cellOf(row, column, weights);
      fields.push(cell.status, `${cell.earned}`, cell.reason);
    }
    return fields;
  });
  return [header, ...body].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
}
