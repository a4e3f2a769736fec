/**
 * Headless Chromium driven over the DevTools protocol (a WebSocket), for the
 * end-to-end browser test. Debian's `chromium` package; no npm dependency.
 *
 * @module
 */

/** The Chromium binary, if installed. */
export function findChromium(): string | undefined {
  for (const path of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

/** One page of a running browser. */
export interface Page extends AsyncDisposable {
  /** Sends a DevTools command and returns its result. */
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Navigates and waits for the load event. */
  goto(url: string): Promise<void>;
  /** Evaluates an expression in the page (awaiting promises) and returns its value. */
  evaluate<T>(expression: string): Promise<T>;
  /** Runs `action` (e.g. a click) and waits for the navigation it causes to load. */
  waitForLoad(action: () => Promise<unknown>): Promise<void>;
}

/** Starts headless Chromium and opens one page. */
export async function openPage(binary: string): Promise<Page> {
  const profile = await Deno.makeTempDir({ prefix: "chromium_" });
  const child = new Deno.Command(binary, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--window-size=1000,700",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let browserUrl: string | undefined;
  const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
  while (!browserUrl) {
    const { value, done } = await stderr.read();
    if (done) break;
    seen += value;
    browserUrl = seen.match(/DevTools listening on (ws:\/\/\S+)/)?.[1];
  }
  clearTimeout(deadline);
  // Keep draining stderr so Chromium never blocks on a full pipe.
  const draining = (async () => {
    while (!(await stderr.read()).done) { /* discard */ }
  })();
  const cleanup = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await draining;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  if (!browserUrl) {
    await cleanup();
    throw new Error(`chromium did not start: ${seen.slice(0, 500)}`);
  }
  const port = new URL(browserUrl).port;
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
    type: string;
    webSocketDebuggerUrl: string;
  }[];
  const target = list.find((t) => t.type === "page");
  if (!target) {
    await cleanup();
    throw new Error("no page target");
  }
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let nextId = 1;
  const pending = new Map<
    number,
    { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  const listeners = new Set<(method: string) => void>();
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.id && pending.has(msg.id)) {
      const p = pending.get(msg.id)!;
      pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    } else if (msg.method) {
      for (const l of listeners) l(msg.method);
    }
  };
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  const waitForLoad = async (action: () => Promise<unknown>) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let listener: (m: string) => void = () => {};
    const loaded = new Promise<void>((resolve, reject) => {
      listener = (m) => m === "Page.loadEventFired" && resolve();
      listeners.add(listener);
      timer = setTimeout(() => reject(new Error("page did not load in 15 s")), 15_000);
    });
    try {
      await action();
      await loaded;
    } finally {
      clearTimeout(timer);
      listeners.delete(listener);
    }
  };
  await send("Page.enable");
  return {
    send,
    waitForLoad,
    goto: (url) => waitForLoad(() => send("Page.navigate", { url })),
    async evaluate<T>(expression: string) {
      const r = await send("Runtime.evaluate", {
        expression,
        awaitPromise: true,
        returnByValue: true,
      });
      if (r.exceptionDetails) {
        throw new Error(`evaluate failed: ${JSON.stringify(r.exceptionDetails)}`);
      }
      return (r.result as { value: T }).value;
    },
    async [Symbol.asyncDispose]() {
      const closed = new Promise((resolve) => (ws.onclose = resolve));
      ws.close();
      await closed;
      await cleanup();
    },
  };
}
