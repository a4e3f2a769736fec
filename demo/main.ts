/**
 * `deno task demo`: starts each lab's server on a free port, runs its client
 * as a user would, prints the transcript, and exits 0 only if every exchange
 * was right.
 *
 * @module
 */

import { type RunResult, runScript, script, startScript } from "../harness/process.ts";

/** One lab's demo: returns whether every exchange was right. */
type Demo = { lab: string; title: string; run: (t: Transcript) => Promise<boolean> };

/** Collects and prints what a user would see. */
class Transcript {
  command(flags: string[], file: string, args: string[]): void {
    console.log(`$ deno run ${[...flags, file, ...args].map(quote).join(" ")}`);
  }
  output(text: string): void {
    for (const line of text.replace(/\n$/, "").split("\n")) if (line) console.log(`  ${line}`);
  }
  /** Prints the server's log lines not shown yet. */
  server(server: { lines: string[] }): void {
    const fresh = server.lines.slice(this.#shown.get(server) ?? 1);
    this.#shown.set(server, server.lines.length);
    for (const line of fresh) console.log(`  [server] ${line}`);
  }
  #shown = new Map<object, number>();
  async client(
    flags: string[],
    file: string,
    args: string[],
    stdin?: string,
    cwd?: string,
  ): Promise<RunResult> {
    if (cwd) console.log(`$ cd ${cwd}`);
    this.command(flags, cwd ? `$REPO/${file}` : file, args);
    const r = await runScript(flags, script(file), args, { stdin, cwd });
    this.output(r.stdout);
    this.output(r.stderr);
    return r;
  }
}

function quote(arg: string): string {
  return /^[\w@%+=:,./$-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

const demos: Demo[] = [
  {
    lab: "lab1_echo",
    title: "TCP upper-case echo",
    async run(t) {
      const args = ["-a", "127.0.0.1", "0"];
      t.command(["--allow-net"], "lab1_echo/server.ts", args);
      await using server = await startScript(
        ["--allow-net"],
        script("lab1_echo/server.ts"),
        args,
        /, (\d+)\)$/,
      );
      t.output(server.lines.join("\n"));
      const port = server.match[1];
      const r = await t.client([`--allow-net=127.0.0.1:${port}`], "lab1_echo/client.ts", [
        "-p",
        port,
        "hello",
        "from",
        "the",
        "demo",
      ]);
      const typed = await t.client([`--allow-net=127.0.0.1:${port}`], "lab1_echo/client.ts", [
        "-p",
        port,
      ], "typed at the prompt\n");
      // The server logs a connection's sentence once it has ended: wait for that line.
      await server.waitFor(/^Data from connected user: typed at the prompt$/);
      t.server(server);
      return r.stdout === "Message received: HELLO FROM THE DEMO\n" &&
        typed.stdout.endsWith("Message received: TYPED AT THE PROMPT\n");
    },
  },
  {
    lab: "lab2_sum",
    title: "name and number exchange over TCP",
    async run(t) {
      const args = ["-a", "127.0.0.1", "-p", "0", "--number", "17"];
      t.command(["--allow-net"], "lab2_sum/server.ts", args);
      const server = await startScript(
        ["--allow-net"],
        script("lab2_sum/server.ts"),
        args,
        /, (\d+)\)$/,
      );
      t.output(server.lines.join("\n"));
      const port = server.match[1];
      // The README's run line: any port of 127.0.0.1.
      const net = ["--allow-net=127.0.0.1"];
      const flags = await t.client(net, "lab2_sum/client.ts", [
        "-p",
        port,
        "--name",
        "Ann",
        "--number",
        "42",
      ]);
      const typed = await t.client(net, "lab2_sum/client.ts", ["-p", port], "Bob\n7\n");
      const stop = await t.client(net, "lab2_sum/client.ts", [
        "-p",
        port,
        "--name",
        "Admin",
        "--number",
        "0",
      ]);
      const exit = await server.exited();
      t.server(server);
      return flags.stdout.endsWith("42 + 17 = 59\n") && typed.stdout.endsWith("7 + 17 = 24\n") &&
        stop.code === 1 && exit.code === 0;
    },
  },
  {
    lab: "lab_udp",
    title: "UDP upper-case echo and ping",
    async run(t) {
      const flags = ["--unstable-net", "--allow-net"];
      const args = ["-a", "127.0.0.1", "-p", "0", "--drop", "0.3"];
      t.command(flags, "lab_udp/server.ts", args);
      await using server = await startScript(
        flags,
        script("lab_udp/server.ts"),
        args,
        /, (\d+)\)$/,
      );
      t.output(server.lines.join("\n"));
      const port = server.match[1];
      // The README's run line: the client's own socket on any address, and any port of 127.0.0.1.
      const net = ["--unstable-net", "--allow-net=0.0.0.0:0,127.0.0.1"];
      const echo = await t.client(net, "lab_udp/client.ts", [
        "-p",
        port,
        "--timeout",
        "0.2",
        "--retries",
        "10",
        "hello",
        "over",
        "udp",
      ]);
      const ping = await t.client(net, "lab_udp/client.ts", [
        "-p",
        port,
        "--ping",
        "10",
        "--interval",
        "0.05",
        "--timeout",
        "0.2",
      ]);
      t.server(server);
      return echo.stdout === "HELLO OVER UDP\n" &&
        /^10 packets transmitted, \d+ received/m.test(ping.stdout);
    },
  },
  {
    lab: "lab3_file",
    title: "file transfer with size and SHA-256",
    async run(t) {
      const dir = await Deno.makeTempDir({ prefix: "demo_lab3_" });
      try {
        const root = `${dir}/served`;
        const out = `${dir}/downloads`;
        await Deno.mkdir(root);
        await Deno.mkdir(out);
        const data = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
        await Deno.writeFile(`${root}/photo.bin`, data);
        const flags = ["--allow-net", `--allow-read=${root}`];
        const args = ["0", "--root", root, "-a", "127.0.0.1"];
        t.command(flags, "lab3_file/server.ts", args);
        await using server = await startScript(
          flags,
          script("lab3_file/server.ts"),
          args,
          /, (\d+)\)/,
        );
        t.output(server.lines.join("\n"));
        const port = server.match[1];
        // The README's run line: any port of 127.0.0.1, so -p needs no change to it.
        const net = ["--allow-net=127.0.0.1", "--allow-read=.", "--allow-write=."];
        const get = (args: string[]) => t.client(net, "lab3_file/client.ts", args, undefined, out);
        const ok = await get([`127.0.0.1:${port}:photo.bin`, "copy.bin"]);
        const missing = await get([`127.0.0.1:${port}:nothing.txt`]);
        const escape = await get([`127.0.0.1:${port}:../../etc/passwd`]);
        await server.waitFor(/refused: '\.\.'/);
        t.server(server);
        const copy = await Deno.readFile(`${out}/copy.bin`);
        return ok.code === 0 && /sha256 OK/.test(ok.stdout) && copy.length === data.length &&
          copy.every((b, i) => b === data[i]) && missing.code === 1 && escape.code === 1;
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  },
  {
    lab: "lab_http",
    title: "static file server and raw-socket HTTP client",
    async run(t) {
      const dir = await Deno.makeTempDir({ prefix: "demo_http_" });
      try {
        await Deno.writeTextFile(`${dir}/index.txt`, "served by lab_http/server.ts\n");
        await Deno.mkdir(`${dir}/docs`);
        await Deno.writeTextFile(`${dir}/docs/notes.md`, "# notes\n");
        const flags = ["--allow-net", `--allow-read=${dir}`];
        const args = ["0", "-a", "127.0.0.1", "-d", dir];
        t.command(flags, "lab_http/server.ts", args);
        await using server = await startScript(
          flags,
          script("lab_http/server.ts"),
          args,
          /:(\d+)\/$/,
        );
        t.output(server.lines.join("\n"));
        const base = `http://127.0.0.1:${server.match[1]}`;
        const net = ["--allow-net=127.0.0.1"];
        const file = await t.client(net, "lab_http/client.ts", [`${base}/index.txt`]);
        const head = await t.client(net, "lab_http/client.ts", [`${base}/docs`, "-I"]);
        const follow = await t.client(net, "lab_http/client.ts", [`${base}/docs`, "-L", "-f"]);
        const missing = await t.client(net, "lab_http/client.ts", [`${base}/nothing`, "-f"]);
        await server.waitFor(/"GET \/nothing HTTP\/1\.1" 404/);
        t.server(server);
        return file.stdout === "served by lab_http/server.ts\n" &&
          /^HTTP\/1\.1 301/.test(head.stdout) &&
          follow.stdout.includes('<a href="notes.md">notes.md</a>') && missing.code === 22;
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  },
];

const started = performance.now();
let failures = 0;
for (const demo of demos) {
  console.log(`\n== ${demo.lab}: ${demo.title}`);
  let ok = false;
  try {
    ok = await demo.run(new Transcript());
  } catch (error) {
    console.log(`  demo error: ${error instanceof Error ? error.message : error}`);
  }
  console.log(ok ? "  -> ok" : "  -> FAILED");
  if (!ok) failures++;
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`\n${demos.length - failures} of ${demos.length} labs ok in ${seconds} s`);
Deno.exit(failures === 0 ? 0 : 1);
