// Why lab_http stats the file on every request instead of trusting a `Deno.watchFs` watcher: a
// child process serves a 1 KiB file from a cache the watcher empties on any change; this process
// replaces the file and then asks for it, N times, while 10 more connections keep the server busy,
// and counts the answers that are still the old file. The watcher's events come from another
// thread and reach JavaScript when the event loop gets to them, which can be after the request
// that follows the edit.
// deno run -A deno_http_watch_race.ts [N]
const [role, portText, dir] = Deno.args;

if (role === "serve") {
  const file = `${dir}/a.txt`;
  let cached: Uint8Array<ArrayBuffer> | undefined;
  (async () => {
    for await (const _ of Deno.watchFs(dir)) cached = undefined;
  })();
  Deno.serve({
    hostname: "127.0.0.1",
    port: Number(portText),
    onListen: () => console.log("ready"),
  }, () => {
    cached ??= Deno.readFileSync(file);
    return new Response(cached);
  });
} else {
  const n = Number(role ?? 1000);
  const folder = await Deno.makeTempDir();
  const file = `${folder}/a.txt`;
  Deno.writeTextFileSync(file, "0");
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "serve", `${port}`, folder],
    stdout: "piped",
  }).spawn();
  await server.stdout.pipeThrough(new TextDecoderStream()).values().next(); // "ready"
  const url = `http://127.0.0.1:${port}/`;
  let checking = true;
  const load = Array.from({ length: 10 }, async () => {
    while (checking) await (await fetch(url)).arrayBuffer();
  });
  let stale = 0;
  for (let i = 0; i < n; i++) {
    const body = String(i).padStart(8, "0").repeat(128);
    Deno.writeTextFileSync(`${file}.new`, body);
    Deno.renameSync(`${file}.new`, file);
    if ((await (await fetch(url)).text()) !== body) stale++;
  }
  checking = false;
  await Promise.all(load);
  server.kill();
  await server.status;
  await Deno.remove(folder, { recursive: true });
  console.log(`stale=${stale} of ${n} requests made right after an edit`);
}
