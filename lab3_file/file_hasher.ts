/**
 * SHA-256 of a file computed on a worker thread, so a large file is hashed
 * on the second core while the server's own thread sends it. Sending 1 KiB
 * blocks keeps one core busy; hashing on that same core too is what made the
 * first download of a file slower than a blocking server's.
 *
 * @module
 */

interface HashJob {
  id: number;
  path: string;
  size: number;
}

interface HashResult {
  id: number;
  hex?: string;
  error?: string;
}

/**
 * The worker's whole program. It is started from this function's source
 * rather than from a module file, so the server needs read permission for
 * its root folder only. Plain JavaScript inside: no `using`, no imports at
 * the top, nothing that needs a helper the worker would not have.
 */
function workerMain(): void {
  const scope = globalThis as unknown as {
    onmessage: (event: MessageEvent<HashJob>) => void;
    postMessage: (result: HashResult) => void;
  };
  const crypto = import("node:crypto");
  scope.onmessage = async ({ data }) => {
    const { createHash } = await crypto;
    let file: Deno.FsFile | undefined;
    try {
      file = Deno.openSync(data.path, { read: true });
      const hash = createHash("sha256");
      // Synchronous reads: this thread has nothing else to do, and one sync
      // read of 256 KiB costs a fraction of an awaited one.
      const buffer = new Uint8Array(256 * 1024);
      let left = data.size;
      while (left > 0) {
        const n = file.readSync(buffer.subarray(0, Math.min(buffer.length, left)));
        if (n === null) throw new Error("file shrank while being hashed");
        hash.update(buffer.subarray(0, n));
        left -= n;
      }
      scope.postMessage({ id: data.id, hex: hash.digest("hex") });
    } catch (error) {
      scope.postMessage({
        id: data.id,
        error: error instanceof Error ? error.message : `${error}`,
      });
    } finally {
      file?.close();
    }
  };
}

/**
 * Hashes files on one worker thread, started on first use. Requests for the
 * same file version while one is being hashed share its result.
 *
 * @example
 * ```ts
 * const hasher = new FileHasher();
 * const info = await Deno.stat("notes.txt");
 * console.log(await hasher.hash("notes.txt", info.size, "notes.txt@1"));
 * hasher.close();
 * ```
 */
export class FileHasher implements Disposable {
  #worker?: Worker;
  #url?: string;
  #nextId = 0;
  readonly #waiting = new Map<
    number,
    { resolve: (hex: string) => void; reject: (error: Error) => void }
  >();
  readonly #inFlight = new Map<string, Promise<string>>();

  /** SHA-256 hex of the first `size` bytes of `path`; `key` identifies this file version. */
  hash(path: string, size: number, key?: string): Promise<string> {
    const shared = key === undefined ? undefined : this.#inFlight.get(key);
    if (shared) return shared;
    const id = this.#nextId++;
    const result = new Promise<string>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
    });
    this.#start().postMessage({ id, path, size } satisfies HashJob);
    if (key !== undefined) {
      this.#inFlight.set(key, result);
      const forget = () => this.#inFlight.delete(key);
      result.then(forget, forget);
    }
    return result;
  }

  /** Stops the worker; hashes still pending reject. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    if (this.#url) URL.revokeObjectURL(this.#url);
    this.#url = undefined;
    for (const { reject } of this.#waiting.values()) reject(new Error("file hasher closed"));
    this.#waiting.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    this.#url = URL.createObjectURL(
      new Blob([`(${workerMain})();`], { type: "text/javascript" }),
    );
    const worker = new Worker(this.#url, { type: "module", name: "lab3 file hasher" });
    worker.onmessage = ({ data }: MessageEvent<HashResult>) => {
      const waiter = this.#waiting.get(data.id);
      this.#waiting.delete(data.id);
      if (data.hex !== undefined) waiter?.resolve(data.hex);
      else waiter?.reject(new Error(data.error ?? "hashing failed"));
    };
    worker.onerror = (event) => {
      // A worker that dies takes every pending hash with it; the next request starts a new one.
      event.preventDefault();
      this.close();
    };
    this.#worker = worker;
    return worker;
  }
}
