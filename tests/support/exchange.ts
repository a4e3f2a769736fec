/**
 * The attacker's swapper, as a program of its own: exchanges two names atomically
 * (`renameat2(..., RENAME_EXCHANGE)`, Linux 3.15+, through FFI) as fast as it can until a time
 * is up, then prints how many exchanges it made. A folder exchanged with a symlink to elsewhere
 * is, at every instant, either the folder or the link: there is no moment without either, as
 * there is between two plain renames.
 *
 * Run: `deno run --allow-ffi tests/support/exchange.ts A B MS`
 *
 * @module
 */

/** Whether this system can run the swapper (Linux, whose libc has `renameat2`). */
export const canExchange = Deno.build.os === "linux";

/** `deno run` arguments that start the swapper on `a` and `b` for `ms` milliseconds. */
export function exchangeArgs(a: string, b: string, ms: number): string[] {
  return ["run", "--allow-ffi", new URL(import.meta.url).pathname, a, b, `${ms}`];
}

if (import.meta.main) {
  const libc = Deno.dlopen("libc.so.6", {
    renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
  });
  const AT_FDCWD = -100;
  const RENAME_EXCHANGE = 2;
  const encoder = new TextEncoder();
  const [a, b, ms] = Deno.args;
  const pathA = encoder.encode(`${a}\0`);
  const pathB = encoder.encode(`${b}\0`);
  const end = Date.now() + Number(ms);
  let exchanges = 0;
  while (Date.now() < end) {
    if (libc.symbols.renameat2(AT_FDCWD, pathA, AT_FDCWD, pathB, RENAME_EXCHANGE) !== 0) {
      throw new Error(`renameat2 failed on ${a} and ${b}`);
    }
    exchanges++;
  }
  // An even count leaves the names as they were.
  if (exchanges % 2 === 1) libc.symbols.renameat2(AT_FDCWD, pathA, AT_FDCWD, pathB, 2);
  console.log(exchanges);
}
