// The access log of the floor programs with duties, in the plain form lab servers use: lines are
// collected and written to stdout together, at most every 25 ms; a write error is ignored.

const encoder = new TextEncoder();
let lines: string[] = [];

/** Queues one log line; the first line of a batch schedules its write. */
export function log(line: string): void {
  if (lines.push(line) > 1) return;
  setTimeout(() => {
    const text = lines.join("\n") + "\n";
    lines = [];
    Deno.stdout.write(encoder.encode(text)).catch(() => {});
  }, 25);
}
