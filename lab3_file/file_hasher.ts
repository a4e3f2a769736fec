/**
 * SHA-256 of a large file computed on a worker thread, so it is hashed on the second core while
 * the server's own thread sends it. A speed module: the server reads as if every hash were made
 * inline.
 *
 * What it buys: sending 1 KiB blocks keeps one core busy on its own, and hashing on that core too
 * made the first download of a file slower than a blocking server's. Measured on 2026-11-25
 * (first download of a 256 MiB file with 1 KiB blocks, received into tmpfs, medians of 5, this
 * worker against hashing inline, interleaved, on a shared and busy 2-core machine): 241 MB/s
 * against 224, and 196 against 170 in a noisier run. With 1 MiB blocks the main thread has time
 * to spare and hashing inline was faster (764 MB/s against 604): the worker reads the file a
 * second time, on the core the client needs; so only files of 8 MiB and more come here.
 *
 * Why a request that reads nothing cannot hold it: the worker keeps every job it is given and
 * hashes them 256 KiB at a time, always the job with the fewest bytes left (shortest remaining
 * first); it takes new jobs and cancels every 20 ms. When jobs ran one after another to their
 * end, four clients that asked for the end of a 10 GB file (nothing to send but its hash) and
 * then read nothing held a 20 MB download's hash for 15-37 s; with these turns the download took
 * 0.26-0.65 s, as long as without them (2026-12-06, client start to exit). The turns cost the
 * worker about a tenth of its speed (a 256 MiB file alone: 187-193 ms against 168-180 ms), which
 * a download does not see: the hash is done long before the data is sent.
 *
 * Why it stays correct:
 * - The worker opens the file by name, so it checks that what it opened is the file the server
 *   checked and sends (same device and inode, looked at before and after its open); if not, the
 *   server hashes its own open handle instead. It never hashes a file the server did not check: a
 *   hash of a file outside the root would tell a client something about it.
 * - Requests for one file version (the same `hash_cache.ts` key) share one job; when every
 *   transfer waiting for it has ended (its client went away), the job is cancelled, so abandoned
 *   downloads of a huge file do not keep the worker busy.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import type { Opened } from "./confine.ts";
import { hashPrefix } from "./protocol.ts";

/**
 * The worker's whole program, started from this function's source as a `data:` URL rather than
 * from a module file, so the server needs read permission for its root folder only. `scope` is
 * the worker's `self`, whose `onmessage` and `postMessage` are the `Worker`'s turned around. It
 * is asked `{ id, path, size, dev, ino }` (a file to hash) or `{ cancel: id }`, and answers
 * `{ id, hex }`, `{ id, changed: true }` (another file is under the name) or `{ id, error }`.
 */
function workerMain(scope: Pick<Worker, "onmessage" | "postMessage">, sha256: () => Hash): void {
  const buffer = new Uint8Array(256 * 1024);
  const jobs = new Map<number, { file: Deno.FsFile; hash: Hash; left: number }>();
  let slicing = false;
  const end = (id: number, answer: { hex?: string; changed?: true; error?: string }) => {
    jobs.get(id)?.file.close();
    jobs.delete(id);
    scope.postMessage({ id, ...answer });
  };
  // 256 KiB of the job with the fewest bytes left, again and again for 20 ms; then a timer (not a
  // message to itself: the server's messages waited half a second behind those) lets the jobs
  // and cancels posted meanwhile in. Each pause costs about 2.5 ms.
  const slice = () => {
    for (const until = performance.now() + 20; jobs.size > 0 && performance.now() < until;) {
      let id = -1;
      for (const [other, job] of jobs) if (id < 0 || job.left < jobs.get(id)!.left) id = other;
      const job = jobs.get(id)!;
      try {
        // Synchronous: a 256 KiB read costs a fraction of an awaited one.
        const n = job.file.readSync(buffer.subarray(0, Math.min(buffer.length, job.left))) ?? 0;
        if (n === 0 && job.left > 0) throw new Error("the file shrank while it was hashed");
        job.hash.update(buffer.subarray(0, n));
        job.left -= n;
        if (job.left === 0) end(id, { hex: job.hash.digest("hex") });
      } catch (error) {
        end(id, { error: String(error) });
      }
    }
    slicing = jobs.size > 0;
    if (slicing) setTimeout(slice, 0);
  };
  scope.onmessage = ({ data: { id, path, size, dev, ino, cancel } }) => {
    if (cancel !== undefined) return jobs.has(cancel) && end(cancel, { error: "cancelled" });
    const same = (info: Deno.FileInfo) => info.isFile && info.dev === dev && info.ino === ino;
    try {
      // Looked at before the open (a FIFO would block this thread) and after it.
      if (!same(Deno.lstatSync(path))) return end(id, { changed: true });
      jobs.set(id, { file: Deno.openSync(path), hash: sha256(), left: size });
      if (!same(jobs.get(id)!.file.statSync())) return end(id, { changed: true });
      if (!slicing) setTimeout(slice, 0);
      slicing = true;
    } catch (error) {
      end(id, { error: String(error) });
    }
  };
}

const WORKER_URL = "data:text/javascript," + encodeURIComponent(
  `import { createHash } from "node:crypto"; (${workerMain})(self, () => createHash("sha256"));`,
);
/** The worker found another file under the name than the one the server opened. */
const CHANGED = new Error("another file is under that name now");

/** A job posted to the worker: the file version it is for, and how many transfers wait for it. */
type Job = PromiseWithResolvers<string> & { id: number; key?: string; waiting: number };

/**
 * Hashes files on one worker thread, started on first use: every pending file by turns, the one
 * with the fewest bytes left first.
 *
 * @example
 * ```ts
 * const hasher = new FileHasher();
 * const path = await Deno.realPath("notes.txt");
 * const file = await Deno.open(path);
 * const opened = { path, file, info: await file.stat() };
 * console.log(await hasher.hash(opened, undefined, AbortSignal.timeout(10_000)));
 * file.close();
 * hasher.close();
 * ```
 */
export class FileHasher {
  #worker?: Worker;
  #nextId = 0;
  /** Posted to the worker, not answered yet. */
  readonly jobs = new Map<number, Job>();
  /** How many jobs the worker stopped because nobody waited for them any more. */
  cancelled = 0;

  /**
   * SHA-256 hex of the open `file` that `path` named when it was checked (`info` is its
   * `stat()`). The worker opens `path` again; if another file is there now, `file` is hashed here
   * instead. Requests with the same `key` (one file version) share a job; `signal` aborts when
   * the transfer that asked ends, and a job nobody waits for is cancelled.
   */
  hash(opened: Opened, key: string | undefined, signal: AbortSignal): Promise<string> {
    const { path, file, info } = opened;
    let job = [...this.jobs.values()].find((job) => key && job.key === key && job.waiting > 0);
    if (!job) {
      job = { id: this.#nextId++, key, waiting: 0, ...Promise.withResolvers<string>() };
      this.jobs.set(job.id, job);
      const { size, dev, ino } = info;
      (this.#worker ??= this.#start()).postMessage({ id: job.id, path, size, dev, ino });
    }
    job.waiting++;
    signal.addEventListener("abort", () => {
      if (--job.waiting === 0) this.#worker?.postMessage({ cancel: job.id });
    }, { once: true });
    const mine = job.promise.catch(async (error) => {
      if (error !== CHANGED) throw error;
      const hash = createHash("sha256");
      await file.seek(0, Deno.SeekMode.Start);
      await hashPrefix(file, info.size, hash);
      return hash.digest("hex");
    });
    mine.catch(() => {}); // Awaited once the data is sent, if the transfer gets that far.
    return mine;
  }

  /** Stops the worker; the hashes it was making are never answered. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.jobs.clear();
  }

  #start(): Worker {
    const worker = new Worker(WORKER_URL, { type: "module", name: "lab3 file hasher" });
    worker.onmessage = ({ data: { id, hex, changed, error } }) => {
      const job = this.jobs.get(id);
      this.jobs.delete(id);
      if (error === "cancelled") this.cancelled++;
      if (hex) job?.resolve(hex);
      else job?.reject(changed ? CHANGED : new Error(error));
    };
    // A worker that dies takes its jobs with it; the next request starts a new one.
    worker.onerror = (event) => {
      event.preventDefault();
      for (const job of this.jobs.values()) job.reject(new Error("the hasher failed"));
      this.close();
    };
    return worker;
  }
}
