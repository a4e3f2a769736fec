/**
 * Batch mode for a class: the same templates run in every subfolder of a
 * folder (one per student), with `{dir}` for the student's folder and
 * relative paths taken from it; one summary table, and a CSV.
 *
 * @module
 */

import { join } from "node:path";
import type { Report, Status } from "./report.ts";

/** One student's result. */
export interface BatchRow {
  student: string;
  report: Report;
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
 * The summary table: student, passed, failed, warnings.
 *
 * @example
 * ```ts
 * const rows: BatchRow[] = [];
 * console.log(formatBatchTable(rows)); // just the header line
 * ```
 */
export function formatBatchTable(rows: BatchRow[]): string {
  const width = Math.max(7, ...rows.map((r) => r.student.length));
  const line = (s: string, p: string, f: string, w: string) =>
    `${s.padEnd(width)}  ${p.padStart(6)}  ${f.padStart(6)}  ${w.padStart(8)}`;
  return [
    line("student", "passed", "failed", "warnings"),
    ...rows.map(({ student, report: { summary: s } }) =>
      line(student, `${s.pass}`, `${s.fail}`, `${s.warn}`)
    ),
  ].join("\n");
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The table as CSV, plus one column per check (its PASS, FAIL or WARN; empty
 * where a student's run did not get that far).
 *
 * @example
 * ```ts
 * const rows: BatchRow[] = [];
 * batchCsv(rows); // "student,passed,failed,warnings\n"
 * ```
 */
export function batchCsv(rows: BatchRow[]): string {
  const names: string[] = [];
  for (const { report } of rows) {
    for (const c of report.checks) if (!names.includes(c.name)) names.push(c.name);
  }
  const header = ["student", "passed", "failed", "warnings", ...names];
  const body = rows.map(({ student, report }) => {
    const status = new Map<string, Status>(report.checks.map((c) => [c.name, c.status]));
    const s = report.summary;
    return [
      student,
      `${s.pass}`,
      `${s.fail}`,
      `${s.warn}`,
      ...names.map((n) => status.get(n) ?? ""),
    ];
  });
  return [header, ...body].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
}
