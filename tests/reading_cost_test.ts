import assert from "node:assert/strict";
import { codeLines, LABS, readingCosts } from "../tools/reading_cost.ts";
import { hasPython, ROOT } from "../harness/process.ts";

const python = await hasPython();
const SHARED_TOOL = new URL("../../shared/tools/reading_cost.py", import.meta.url).pathname;
const haveTool = python && (await Deno.stat(SHARED_TOOL).then(() => true, () => false));

Deno.test("codeLines skips blank lines, // lines, /* */ blocks and * lines, and counts code", () => {
  const text = [
    "/**",
    " * A doc comment,",
    " * two lines.",
    " */",
    "import { x } from './x.ts';",
    "",
    "// why",
    "/* one line */",
    "export const y = x; // a trailing comment is code",
    "  * a line starting with a star",
  ].join("\n");
  assert.equal(codeLines(text), 2);
});

Deno.test({
  name: `deno task reading-cost counts as ../shared/tools/reading_cost.py does${
    haveTool ? "" : " (skipped: needs python3 and ../shared/tools/reading_cost.py)"
  }`,
  ignore: !haveTool,
  async fn() {
    const out = await new Deno.Command("python3", { args: [SHARED_TOOL, ROOT], stdout: "piped" })
      .output();
    const rows = new TextDecoder().decode(out.stdout).trim().split("\n");
    const ours = readingCosts(ROOT);
    assert.equal(rows.length, LABS.length);
    for (const [i, row] of rows.entries()) {
      const [, name, scripts, total, files] = row.match(
        /^(.+?)\s+scripts\s+(\d+)\s+with imports\s+(\d+) in\s+(\d+) files$/,
      )!;
      assert.equal(name.trim(), ours[i].lab.name);
      assert.deepEqual(
        [Number(scripts), Number(total), Number(files)],
        [ours[i].scripts, ours[i].total, ours[i].files],
        name,
      );
    }
  },
});

Deno.test("the README's reading-cost table is what deno task reading-cost prints now", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "tools/reading_cost.ts"],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  const table = new TextDecoder().decode(out.stdout);
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  assert.ok(readme.includes(`$ deno task reading-cost\n${table}\`\`\``), table);
});
