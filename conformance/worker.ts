/**
 * One submission, graded in a process of its own, for `--jobs` and
 * `--submission-timeout` (see `jobs.ts`): `deno run -A conformance/worker.ts
 * JOB`, where JOB is a {@linkcode WorkerJob} as JSON. It prints one JSON
 * line per check and note as each is recorded, then the whole report;
 * exit 0. If the kit itself fails, an `error` line and exit 3.
 *
 * @module
 */

import type { WorkerJob, WorkerLine } from "./jobs.ts";
import { runConformance } from "./main.ts";

const encoder = new TextEncoder();

/**
 * Writes one line at once, so the parent has every check done before a kill.
 *
 * @example
 * ```ts
 * emit({ note: "the relay checks were not run" });
 * ```
 */
export function emit(line: WorkerLine): void {
  const bytes = encoder.encode(JSON.stringify(line) + "\n");
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}

/**
 * Grades `job`, printing its lines; the exit code the worker ends with.
 *
 * @example
 * ```ts
 * const code = await work({ lab: "lab1_echo", options: { server: "python3 s.py {port}" } });
 * ```
 */
export async function work(job: WorkerJob): Promise<number> {
  try {
    const report = await runConformance(job.lab, {
      ...job.options,
      onCheck: (check) => emit({ check }),
      onNote: (note) => emit({ note }),
    });
    emit({ report });
    return 0;
  } catch (error) {
    emit({ error: error instanceof Error ? error.message : String(error) });
    return 3;
  }
}

if (import.meta.main) {
  Deno.exit(await work(JSON.parse(Deno.args[0])));
}
