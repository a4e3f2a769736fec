/**
 * The class as one self-contained HTML page (`--html FILE`): students by
 * checks, a colour per status, each cell's reason as its tooltip and in a
 * row under the student (a click on the name), totals per student and per
 * check, and sorting by name or score. No file besides it: the style and
 * the few lines of script are inline, so it can be mailed or opened from disk.
 *
 * @module
 */

import { type BatchRow, cellOf, classColumns, rowTotal } from "./batch.ts";
import { DEFAULT_WEIGHTS, type KnownCheck, type Weights } from "./points.ts";

/** Options for {@linkcode classHtml}. */
export interface ClassHtmlOptions {
  lab: string;
  server?: string;
  client?: string;
  weights?: Weights;
  /** The lab's checks, for columns in their declared order and checks no student reached. */
  known?: KnownCheck[];
}

/**
 * Escapes text for HTML text and attribute values.
 *
 * @example
 * ```ts
 * escapeHtml(`<a href="x">`); // "&lt;a href=&quot;x&quot;&gt;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #111; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
.roles code { background: #f3f4f6; padding: 0 .3em; }
.legend span { margin-right: .6em; padding: .1em .5em; border-radius: 3px; }
table { border-collapse: collapse; }
th, td { border: 1px solid #d1d5db; padding: .25em .45em; }
thead th { background: #f9fafb; vertical-align: bottom; }
thead th.check { font-weight: normal; max-width: 8.5em; font-size: .85em; text-align: left; }
th.level-beyond { font-style: italic; }
tbody th { text-align: left; white-space: nowrap; }
td.score { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.s { text-align: center; font-size: .8em; font-weight: 600; white-space: nowrap; cursor: help; }
td.s small { display: block; font-weight: normal; }
.PASS { background: #d1fadf; color: #14532d; }
.FAIL { background: #fecaca; color: #7f1d1d; }
.WARN { background: #fde68a; color: #713f12; }
.INFO { background: #dbeafe; color: #1e3a8a; }
.NOT_RUN { background: repeating-linear-gradient(45deg, #e5e7eb 0 6px, #f3f4f6 6px 12px); color: #374151; }
.badge { margin-left: .4em; padding: 0 .35em; border-radius: 3px; font-size: .75em; color: #fff; }
.badge.TIMEOUT { background: #6b21a8; }
.badge.KIT_ERROR { background: #111827; }
button { font: inherit; background: none; border: 0; padding: 0; cursor: pointer; text-align: left; }
thead button { font-weight: bold; text-decoration: underline dotted; }
th[aria-sort=ascending] button::after { content: " \\25B2"; }
th[aria-sort=descending] button::after { content: " \\25BC"; }
tbody th button { color: #1d4ed8; text-decoration: underline; }
tr.why td { background: #fafafa; font-size: .9em; }
tr.why ul { margin: .3em 0; padding-left: 1.2em; }
tr.why li { margin: .15em 0; }
tr.why .tag { padding: 0 .3em; border-radius: 3px; font-size: .85em; font-weight: 600; }
tfoot th, tfoot td { background: #f9fafb; font-size: .85em; text-align: center; }
#all { margin: .6em 0; text-decoration: underline; color: #1d4ed8; }
`;

// Sorting keeps each student's reasons row under it; a second click reverses.
const SCRIPT = `
const table = document.getElementById("class");
const body = table.tBodies[0];
function sortBy(th) {
  const key = th.dataset.sort;
  const first = key === "score" ? "descending" : "ascending";
  const dir = th.getAttribute("aria-sort") === first
    ? (first === "ascending" ? "descending" : "ascending") : first;
  for (const other of table.querySelectorAll("th[data-sort]")) other.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", dir);
  const pairs = [...body.querySelectorAll("tr.student")].map((row) => [row, row.nextElementSibling]);
  const sign = dir === "ascending" ? 1 : -1;
  pairs.sort(([a], [b]) => {
    const byName = a.dataset.name.localeCompare(b.dataset.name);
    const byKey = key === "score" ? Number(a.dataset.score) - Number(b.dataset.score) : byName;
    return sign * byKey || byName;
  });
  for (const [row, why] of pairs) body.append(row, why);
}
for (const th of table.querySelectorAll("th[data-sort]")) {
  th.querySelector("button").addEventListener("click", () => sortBy(th));
}
function show(button, open) {
  button.setAttribute("aria-expanded", String(open));
  button.closest("tr").nextElementSibling.hidden = !open;
}
for (const button of body.querySelectorAll("button.toggle")) {
  button.addEventListener("click", () => show(button, button.getAttribute("aria-expanded") !== "true"));
}
document.getElementById("all").addEventListener("click", (event) => {
  const open = event.target.dataset.open !== "true";
  event.target.dataset.open = String(open);
  event.target.textContent = open ? "Hide every reason" : "Show every reason";
  for (const button of body.querySelectorAll("button.toggle")) show(button, open);
});
`;

const points = (n: number) => `${n}`;

/**
 * The class as one HTML page.
 *
 * @example
 * ```ts
 * import type { BatchRow } from "./batch.ts";
 * declare const rows: BatchRow[];
 * await Deno.writeTextFile("class.html", classHtml(rows, { lab: "lab1_echo" }));
 * ```
 */
export function classHtml(rows: BatchRow[], options: ClassHtmlOptions): string {
  const e = escapeHtml;
  const weights = options.weights ?? DEFAULT_WEIGHTS;
  const columns = classColumns(rows, options.known);
  const width = 2 + columns.length;
  const totals = rows.map((row) => rowTotal(row, columns, weights));
  const max = totals[0]?.max ?? 0;
  const out: string[] = [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${e(options.lab)}: ${rows.length} ${
      rows.length === 1 ? "student" : "students"
    }</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    `<h1>Conformance: ${e(options.lab)}</h1>`,
  ];
  const roles = [
    ...(options.server ? [`server <code>${e(options.server)}</code>`] : []),
    ...(options.client ? [`client <code>${e(options.client)}</code>`] : []),
  ];
  if (roles.length) out.push(`<p class="roles">${roles.join(" &middot; ")}</p>`);
  out.push(
    '<p class="legend">' +
      '<span class="PASS">PASS all points</span><span class="WARN">WARN half</span>' +
      '<span class="FAIL">FAIL none</span><span class="NOT_RUN">NOT_RUN none</span>' +
      '<span class="INFO">INFO not scored</span>' +
      "Hover a cell for its reason; click a name for all of them. Checks in italics go beyond " +
      "the handout.</p>",
    '<button id="all" type="button">Show every reason</button>',
    '<table id="class">',
    "<thead><tr>",
    '<th data-sort="name" aria-sort="ascending"><button type="button">Student</button></th>',
    `<th data-sort="score"><button type="button">Score</button> <small>of ${
      points(max)
    }</small></th>`,
  );
  for (const c of columns) {
    const worth = weights.checks[c.key] ?? weights.checks[c.name] ?? weights[c.level];
    out.push(
      `<th class="check level-${c.level}" scope="col" title="${e(c.key)} (${c.level}, ${
        points(worth)
      } points)">${e(c.name)}</th>`,
    );
  }
  out.push("</tr></thead>", "<tbody>");
  rows.forEach((row, i) => {
    const total = totals[i];
    const cells = columns.map((c) => cellOf(row, c, weights));
    const end = row.end && row.end !== "graded"
      ? `<span class="badge ${row.end}" title="${e(row.detail ?? "")}">${row.end}</span>`
      : "";
    out.push(
      `<tr class="student" data-name="${e(row.student)}" data-score="${total.earned}">` +
        `<th scope="row"><button class="toggle" type="button" aria-expanded="false">${
          e(row.student)
        }</button>${end}</th>` +
        `<td class="score">${points(total.earned)}</td>` +
        cells.map((cell, j) =>
          `<td class="s ${cell.status}" title="${
            e(`${columns[j].name}: ${cell.status}, ${points(cell.earned)} of ${
              points(cell.max)
            }: ${cell.reason}`)
          }">${cell.status.replace("_", " ")}<small>${points(cell.earned)}/${
            points(cell.max)
          }</small></td>`
        ).join("") +
        "</tr>",
    );
    const items = cells.map((cell, j) =>
      `<li><span class="tag ${cell.status}">${cell.status}</span> <b>${e(columns[j].name)}</b> (${
        columns[j].level
      }, ${points(cell.earned)} of ${points(cell.max)}): ${e(cell.reason)}</li>`
    );
    const notes = row.report.notes.map((n) => `<li>note: ${e(n)}</li>`);
    out.push(
      `<tr class="why" hidden><td colspan="${width}"><ul>${
        [...items, ...notes].join("")
      }</ul></td></tr>`,
    );
  });
  out.push("</tbody>", "<tfoot><tr>", '<th scope="row">Passed by</th>');
  const mean = totals.length ? totals.reduce((s, t) => s + t.earned, 0) / totals.length : 0;
  out.push(
    `<td class="score" title="the class's mean score">mean ${Math.round(mean * 10) / 10}</td>`,
  );
  for (const c of columns) {
    const passed = rows.filter((row) => cellOf(row, c, weights).status === "PASS").length;
    out.push(`<td>${passed} of ${rows.length}</td>`);
  }
  out.push("</tr></tfoot>", "</table>", `<script>${SCRIPT}</script>`, "</body>", "</html>", "");
  return out.join("\n");
}
