/**
 * A one-line progress display for stderr: bytes, percent, rate, ETA, redrawn
 * at most 10 times a second, and only on a terminal.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Formats a byte count with a binary unit: `1.5 MiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** Progress for one download. */
export class Progress {
  readonly #total: number;
  readonly #enabled: boolean;
  readonly #started = performance.now();
  #lastDraw = 0;
  #drawn = false;

  /** `total` bytes expected; draws only when `enabled` (a terminal, no `--quiet`). */
  constructor(total: number, enabled: boolean) {
    this.#total = total;
    this.#enabled = enabled;
  }

  /** Reports `done` bytes so far. */
  update(done: number): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#lastDraw < 100 && done < this.#total) return;
    this.#lastDraw = now;
    const seconds = (now - this.#started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const percent = this.#total > 0 ? Math.floor((100 * done) / this.#total) : 100;
    const eta = rate > 0 ? Math.round((this.#total - done) / rate) : 0;
    const line = `\r${formatBytes(done)} / ${formatBytes(this.#total)}  ${percent}%  ${
      (rate / 1e6).toFixed(1)
    } MB/s  ETA ${Math.floor(eta / 60)}:${String(eta % 60).padStart(2, "0")}\x1b[K`;
    Deno.stderr.writeSync(encoder.encode(line));
    this.#drawn = true;
  }

  /** Clears the line before the final message. */
  done(): void {
    if (this.#drawn) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
  }
}
