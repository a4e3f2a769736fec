/**
 * The outside tools the benchmarks compare against: wrk as the load
 * generator and a single-worker nginx as the reference server.
 *
 * @module
 */

import { join } from "node:path";
import { freePort } from "../harness/free_port.ts";

/** Whether a command can be run (it answers `-v`). */
export async function has(command: string): Promise<boolean> {
  try {
    await new Deno.Command(command, { args: ["-v"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/** What one wrk run measured. */
export interface WrkResult {
  rps: number;
  bps: number;
  /** Non-2xx answers plus connect, read, write and timeout errors. */
  errors: number;
}

/**
 * Runs `wrk -t1 -cCONNECTIONS -dSECONDS URL` and reads its figures; with `cpu`, pinned to that
 * core (`taskset`).
 *
 * @example
 * ```ts
 * const { rps } = await wrk("http://127.0.0.1:8080/", 5);
 * ```
 */
export async function wrk(
  url: string,
  seconds: number,
  connections = 10,
  cpu?: number,
): Promise<WrkResult> {
  const wrkArgs = ["wrk", "-t1", `-c${connections}`, `-d${seconds}s`, url];
  const [command, args] = pinned(cpu ?? 0, wrkArgs, cpu !== undefined);
  const out = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const m = text.match(/Transfer\/sec:\s+([\d.]+)([KMG]?B)/);
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m?.[2] ?? "B"] ?? 1;
  const errors = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0) +
    [...text.matchAll(/(connect|read|write|timeout) (\d+)/g)].reduce((a, x) => a + Number(x[2]), 0);
  return { rps, bps: m ? Number(m[1]) * unit : NaN, errors };
}

/**
 * `command` (program and arguments) as run pinned to core `cpu` with taskset, when `taskset`.
 *
 * @example
 * ```ts
 * pinned(1, ["wrk", "http://127.0.0.1:8080/"], true); // ["taskset", ["-c", "1", "wrk", "http://127.0.0.1:8080/"]]
 * ```
 */
export function pinned(cpu: number, command: string[], taskset: boolean): [string, string[]] {
  return taskset ? ["taskset", ["-c", `${cpu}`, ...command]] : [command[0], command.slice(1)];
}

/**
 * Starts `command` with the arguments `args(port)` gives for a free loopback port, waits until it
 * accepts connections, and stops it with SIGKILL.
 *
 * @example
 * ```ts
 * const py = await startOnFreePort("python3", (port) => ["-m", "http.server", `${port}`]);
 * await py.stop();
 * ```
 */
export async function startOnFreePort(
  command: string,
  args: (port: number) => string[],
): Promise<Started> {
  const port = freePort();
  const child = new Deno.Command(command, {
    args: args(port),
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitForPort(port);
  return { port, stop: async () => (child.kill("SIGKILL"), await child.status) };
}

/**
 * Pins this process, every thread of it, to `cpus` (`taskset` syntax, as `0` or `0-1`), so that
 * the servers it starts next run there too; `false` where there is no `taskset`.
 *
 * @example
 * ```ts
 * if (await pinSelf("0")) await pinSelf(`0-${navigator.hardwareConcurrency - 1}`);
 * ```
 */
export async function pinSelf(cpus: string): Promise<boolean> {
  if (Deno.build.os !== "linux" || !(await has("taskset"))) return false;
  const { success } = await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", cpus, `${Deno.pid}`],
    stdout: "null",
    stderr: "null",
  }).output();
  return success;
}

/** Waits until something accepts connections on 127.0.0.1:`port`. */
export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listening on ${port}`);
}

/** A process listening on a port, and how to stop it. */
export interface Started {
  port: number;
  stop: () => Promise<unknown>;
}

/**
 * Starts a single-worker nginx on a free loopback port, with `http` as the
 * inside of its `http { }` block (`PORT` in it is replaced by the port).
 * Its files (config, pid, logs) go to `dir`.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const nginx = await startNginx(dir, `server { listen 127.0.0.1:PORT; root ${dir}; }`);
 * await nginx.stop();
 * ```
 */
export async function startNginx(dir: string, http: string): Promise<Started> {
  const port = freePort();
  const conf = join(dir, "nginx.conf");
  await Deno.writeTextFile(
    conf,
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http { client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  ${http.replaceAll("PORT", `${port}`)} }`,
  );
  const child = new Deno.Command("nginx", {
    args: ["-c", conf, "-p", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitForPort(port);
  // SIGTERM: the master stops its worker too (SIGKILL would orphan it).
  return { port, stop: async () => (child.kill("SIGTERM"), await child.status) };
}
