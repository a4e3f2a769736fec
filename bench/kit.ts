/**
 * `deno task bench kit [JOBS] [SIZE]`: the conformance kit grading a class. A class of SIZE (200)
 * lab1 submissions is made from the five kinds in tests/class/lab1 (correct, one recv, never
 * closes, crashes, hangs: the kinds a real course hands in), graded with `--jobs JOBS` (default
 * eight per core: grading is mostly waiting for programs that hang or never close, 5,292 s of
 * submissions took 132 s of CPU; on 2 cores, 8 jobs took 709 s and 16 took 388 s), then a sample of two
 * per kind is graded again one at a time and the verdicts compared: every check's status, and
 * how each run ended. Issue 30's bound: 200 in at most 10 minutes on a 2-core machine (one at a
 * time it took about 51).
 *
 * @module
 */

import { join } from "node:path";
import type { BatchRow } from "../conformance/batch.ts";
import { runClass } from "../conformance/main.ts";
import { copyDir, pythonPath, script } from "../harness/process.ts";

const KINDS = ["correct", "one_recv", "never_closes", "crashes", "hangs"];
/** A backstop only: today's slowest kind (hangs) finishes well inside it. */
const CAP_MS = 180_000;

/** Each student's verdict as one comparable line. */
function verdict(row: BatchRow): string {
  return [row.end ?? "graded", ...row.report.checks.map((c) => `${c.id}=${c.status}`)].join(" ");
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/**
 * Grades a generated class of `size` lab1 submissions `jobs` at a time, then a sample one at a
 * time, and prints the figures as tables.
 *
 * @example
 * ```ts
 * await benchKit(16, 200);
 * ```
 */
export async function benchKit(
  jobs = 8 * navigator.hardwareConcurrency,
  size = 200,
): Promise<void> {
  console.log(`\n## conformance kit: a class of ${size} lab1 submissions\n`);
  const python = await pythonPath();
  if (!python) {
    console.log("python3 is not installed: skipped");
    return;
  }
  const root = await Deno.makeTempDir({ prefix: "bench_kit_" });
  try {
    const course = join(root, "class");
    const sample = join(root, "sample");
    await Deno.mkdir(sample, { recursive: true });
    for (let i = 0; i < size; i++) {
      const kind = KINDS[i % KINDS.length];
      const name = `s${String(i + 1).padStart(3, "0")}_${kind}`;
      await copyDir(script(`tests/class/lab1/${kind}`), join(course, name));
      // The first two of each kind are graded again, one at a time.
      if (i < 2 * KINDS.length) await Deno.symlink(join(course, name), join(sample, name));
    }
    const options = {
      server: `"${python}" {dir}/server.py {port}`,
      client: `"${python}" {dir}/client.py {host} {port}`,
    };
    let done = 0;
    const started = performance.now();
    const rows = await runClass("lab1", course, options, {
      jobs,
      submissionTimeoutMs: CAP_MS,
      onEach: () => {
        if (++done % 20 === 0) {
          console.error(`  ${done}/${size} graded after ${seconds(performance.now() - started)} s`);
        }
      },
    });
    const wall = performance.now() - started;
    const serialStarted = performance.now();
    const serial = await runClass("lab1", sample, options, {
      jobs: 1,
      submissionTimeoutMs: CAP_MS,
    });
    const serialWall = performance.now() - serialStarted;

    console.log(
      "| kind | submissions | mean s each | slowest s | ended | passed/failed/warned/not run |",
    );
    console.log("|---|---:|---:|---:|---|---|");
    for (const kind of KINDS) {
      const mine = rows.filter((r) => r.student.endsWith(`_${kind}`));
      const ms = mine.map((r) => r.ms ?? 0);
      const ends = [...new Set(mine.map((r) => r.end ?? "graded"))].join(", ");
      const counts = [
        ...new Set(
          mine.map(({ report: { summary: s } }) =>
            `${s.pass}/${s.fail}/${s.warn}/${s.notRun ?? 0}`
          ),
        ),
      ].join(", ");
      console.log(
        `| ${kind} | ${mine.length} | ${seconds(ms.reduce((a, b) => a + b, 0) / ms.length)} | ${
          seconds(Math.max(...ms))
        } | ${ends} | ${counts} |`,
      );
    }
    const differ = serial.filter((s) => {
      const parallel = rows.find((r) => r.student === s.student)!;
      return verdict(parallel) !== verdict(s);
    });
    const sum = rows.reduce((a, r) => a + (r.ms ?? 0), 0);
    console.log(
      `\n${size} submissions, --jobs ${jobs} on ${navigator.hardwareConcurrency} cores: ` +
        `**${seconds(wall)} s** (${(wall / 60_000).toFixed(1)} min; ${seconds(sum)} s ` +
        `of submissions one after another; issue 30's bound: 600 s).`,
    );
    console.log(
      `Serial sample (${serial.length} submissions, two of each kind, --jobs 1): ${
        seconds(serialWall)
      } s; verdicts identical to the parallel run: ${
        differ.length === 0 ? "**yes**" : `**no**, ${differ.length} differ`
      }.`,
    );
    for (const s of differ) {
      const parallel = rows.find((r) => r.student === s.student)!;
      console.log(
        `- ${s.student}\n  - serial:   ${verdict(s)}\n  - parallel: ${verdict(parallel)}`,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
