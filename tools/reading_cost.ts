/**
 * `deno task reading-cost`: what a student must read to trust each lab. For each lab, the code
 * lines (not blank, not a comment) of its scripts plus every module of this project they import,
 * transitively: the count of `../shared/tools/reading_cost.py`, with the bound issue 29 set.
 *
 * @module
 */

import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** One row of the table: a lab's scripts and the most code lines a reader should meet. */
export interface Lab {
  name: string;
  scripts: string[];
  atMost: number;
}

/** The labs, as the issue's table lists them. */
export const LABS: Lab[] = [
  { name: "lab1_echo", scripts: ["lab1_echo/server.ts", "lab1_echo/client.ts"], atMost: 400 },
  { name: "lab2_sum", scripts: ["lab2_sum/server.ts", "lab2_sum/client.ts"], atMost: 500 },
  { name: "lab3_file", scripts: ["lab3_file/server.ts", "lab3_file/client.ts"], atMost: 1000 },
  { name: "lab_udp", scripts: ["lab_udp/server.ts", "lab_udp/client.ts"], atMost: 600 },
  { name: "lab_http client", scripts: ["lab_http/client.ts"], atMost: 1000 },
  { name: "lab_http server", scripts: ["lab_http/server.ts"], atMost: 1450 },
];

// The same imports the Python counter follows: static `import`/`export ... from "./..."`.
const IMPORT = /(?:import|export)\s[^'"]*?from\s+["'](\.[^"']+)["']|import\s+["'](\.[^"']+)["']/gs;

/**
 * The code lines of a module: not blank, not a `//` line, not inside or on a `/* ... *\/` block
 * that starts its line, not a line starting with `*`.
 * @example
 * ```ts
 * codeLines("// a comment\nconst x = 1;\n\n/**\n * doc\n *\/\nexport { x };\n"); // 2
 * ```
 */
export function codeLines(text: string): number {
  let n = 0;
  let inBlock = false;
  for (const line of text.split("\n")) {
    const s = line.trim();
    if (inBlock) {
      if (s.includes("*/")) inBlock = false;
      continue;
    }
    if (s === "" || s.startsWith("//")) continue;
    if (s.startsWith("/*")) {
      if (!s.includes("*/")) inBlock = true;
      continue;
    }
    if (s.startsWith("*")) continue;
    n++;
  }
  return n;
}

/** Every project module `scripts` import, transitively, themselves included (paths from `root`). */
function modulesOf(root: string, scripts: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const m of Deno.readTextFileSync(join(root, path)).matchAll(IMPORT)) {
      const next = normalize(join(dirname(path), m[1] ?? m[2]));
      try {
        Deno.statSync(join(root, next));
      } catch {
        continue; // Not a file of this project.
      }
      visit(next);
    }
  };
  for (const script of scripts) visit(script);
  return seen;
}

/** A lab's count: its scripts' own code lines, and with every module they import. */
export interface Cost {
  lab: Lab;
  scripts: number;
  total: number;
  files: number;
}

/**
 * Counts every lab under `root`.
 * @example
 * ```ts
 * for (const { lab, total } of readingCosts(".")) console.log(lab.name, total);
 * ```
 */
export function readingCosts(root: string): Cost[] {
  const count = (path: string) => codeLines(Deno.readTextFileSync(join(root, path)));
  return LABS.map((lab) => {
    const modules = modulesOf(root, lab.scripts);
    const total = [...modules].reduce((sum, path) => sum + count(path), 0);
    const scripts = lab.scripts.reduce((sum, path) => sum + count(path), 0);
    return { lab, scripts, total, files: modules.size };
  });
}

if (import.meta.main) {
  const root = relative(Deno.cwd(), fileURLToPath(new URL("..", import.meta.url))) || ".";
  let over = 0;
  console.log("lab              scripts  with imports  files  at most");
  for (const { lab, scripts, total, files } of readingCosts(root)) {
    const verdict = total <= lab.atMost ? "met" : `NOT MET (${total - lab.atMost} over)`;
    if (total > lab.atMost) over++;
    console.log(
      `${lab.name.padEnd(16)} ${String(scripts).padStart(7)}  ${String(total).padStart(12)}  ${
        String(files).padStart(5)
      }  ${String(lab.atMost).padStart(7)}  ${verdict}`,
    );
  }
  Deno.exit(over > 0 ? 1 : 0);
}
