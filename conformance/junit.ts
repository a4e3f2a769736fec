/**
 * JUnit XML for CI systems: one `testsuite` per report (per student in
 * batch mode), one `testcase` per check, a `failure` for each FAIL; a WARN
 * passes, with its reason in `system-out` (as does an INFO); a NOT_RUN is
 * `skipped`, with the reason it was not run. A run stopped at its time cap,
 * or one in which the kit failed, gets a testcase with an `error`.
 *
 * @module
 */

import type { Report } from "./report.ts";
import type { RunEnd } from "./batch.ts";

/**
 * Escapes text for XML, dropping the control characters XML 1.0 cannot hold.
 *
 * @example
 * ```ts
 * xmlEscape('a <b> & "c"'); // "a &lt;b&gt; &amp; &quot;c&quot;"
 * ```
 */
export function xmlEscape(text: string): string {
  return text
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/**
 * The reports as one JUnit XML document. `name` names each suite (the lab,
 * or the student in batch mode).
 *
 * @example
 * ```ts
 * import type { Report } from "./report.ts";
 * declare const report: Report;
 * const xml = junitXml([{ name: "lab1_echo", report }]);
 * ```
 */
export function junitXml(
  suites: { name: string; report: Report; end?: RunEnd; detail?: string }[],
): string {
  const a = xmlEscape;
  const stopped = (s: { end?: RunEnd }) => s.end !== undefined && s.end !== "graded";
  const total = (key: "pass" | "fail" | "warn") =>
    suites.reduce((n, s) => n + s.report.summary[key], 0);
  const tests = suites.reduce((n, s) => n + s.report.checks.length + (stopped(s) ? 1 : 0), 0);
  const errors = suites.filter(stopped).length;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="conformance" tests="${tests}" failures="${
      total("fail")
    }" errors="${errors}">`,
  ];
  for (const suite of suites) {
    const { name, report } = suite;
    const error = stopped(suite) ? 1 : 0;
    out.push(
      `  <testsuite name="${a(name)}" tests="${
        report.checks.length + error
      }" failures="${report.summary.fail}" errors="${error}" skipped="${
        report.summary.notRun ?? 0
      }">`,
      "    <properties>",
      `      <property name="lab" value="${a(report.lab)}"/>`,
      ...(report.server ? [`      <property name="server" value="${a(report.server)}"/>`] : []),
      ...(report.client ? [`      <property name="client" value="${a(report.client)}"/>`] : []),
      ...report.notes.map((n) => `      <property name="note" value="${a(n)}"/>`),
      "    </properties>",
    );
    const classname = a(`conformance.${report.lab}${name === report.lab ? "" : `.${name}`}`);
    for (const c of report.checks) {
      const open = `    <testcase classname="${classname}" name="${a(c.name)}"`;
      const text = `${c.status} (${c.level}): ${c.reason}`;
      if (c.status === "FAIL") {
        out.push(
          `${open}>`,
          `      <failure message="${a(c.reason)}" type="${c.level}">${a(text)}</failure>`,
          "    </testcase>",
        );
      } else if (c.status === "NOT_RUN") {
        out.push(`${open}>`, `      <skipped message="${a(c.reason)}"/>`, "    </testcase>");
      } else if (c.status === "WARN" || c.status === "INFO") {
        out.push(`${open}>`, `      <system-out>${a(text)}</system-out>`, "    </testcase>");
      } else {
        out.push(`${open}/>`);
      }
    }
    if (error) {
      out.push(
        `    <testcase classname="${classname}" name="the whole run">`,
        `      <error message="${a(suite.detail ?? "")}" type="${suite.end}">${
          a(`${suite.end}: ${suite.detail ?? ""}`)
        }</error>`,
        "    </testcase>",
      );
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>", "");
  return out.join("\n");
}
