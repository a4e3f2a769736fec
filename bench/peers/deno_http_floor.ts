// The floor for lab_http in Deno: `Deno.serve` answering every request with the same 1 KiB body,
// no file system at all. With `--lstat FILE`, one `Deno.lstatSync(FILE)` per request as well: the
// least a server that sees every edit on the next request must do.
// deno run --allow-net [--allow-read=FILE] deno_http_floor.ts PORT [--lstat FILE]
const [port, flag, file] = Deno.args;
const body = new Uint8Array(1024).fill(97);
const headers = { "content-type": "application/octet-stream" };
Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen() {} }, () => {
  if (flag === "--lstat") Deno.lstatSync(file);
  return new Response(body, { headers });
});
