/**
 * What the benchmarks share: medians, tables, fixed-point figures, peak memory.
 *
 * @module
 */

// The q-quantile (0..1) of sorted values.
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The median of values (sorts them in place). */
export function median(values: number[]): number {
  return quantile(values.sort((a, b) => a - b), 0.5);
}

/** The lowest, lower quartile, median, upper quartile and highest of values (sorts them in place). */
export function fiveNumbers(values: number[]): number[] {
  const sorted = values.sort((a, b) => a - b);
  return [0, 0.25, 0.5, 0.75, 1].map((q) => quantile(sorted, q));
}

/** Prints rows as an aligned table. */
export function printTable(header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  for (const [i, r] of cells.entries()) {
    console.log(
      r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  "),
    );
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

/** Formats a number with a fixed number of decimals. */
export const fixed = (
  n: number,
  digits = 1,
): string => (Number.isFinite(n) ? n.toFixed(digits) : "-");

/** The lowest and highest of `values`, divided by `scale`, as `min-max` in whole numbers. */
export const range = (values: number[], scale = 1): string =>
  `${fixed(Math.min(...values) / scale, 0)}-${fixed(Math.max(...values) / scale, 0)}`;

/** Peak resident memory of a process so far, in MB (Linux), polled until `done` settles. */
export async function peakRss(pid: number, done: Promise<unknown>): Promise<number> {
  let peak = 0;
  let finished = false;
  done.finally(() => (finished = true));
  while (!finished) {
    try {
      const status = await Deno.readTextFile(`/proc/${pid}/status`);
      peak = Math.max(peak, Number(status.match(/VmHWM:\s+(\d+) kB/)?.[1] ?? 0) / 1024);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return peak;
}
