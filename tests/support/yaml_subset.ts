/**
 * A parser for the block YAML GitHub Actions workflows are written in, enough to read the
 * starter's without a dependency: mappings, sequences, plain and quoted scalars, comments and
 * empty values. Anything outside that subset (flow collections, anchors, tags, block scalars,
 * tabs, a `: ` or ` #` inside a plain scalar) is an error, so a workflow that leaves it fails the
 * test instead of being misread. `on` is a string, as in YAML 1.2 and on GitHub.
 *
 * @module
 */

/** A parsed YAML value. */
export type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

interface Line {
  indent: number;
  text: string;
  number: number;
}

/** The line without its comment: a `#` that starts it, or follows a space outside quotes. */
function withoutComment(raw: string): string {
  let quote: string | undefined;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(raw[i - 1]))) {
      return raw.slice(0, i).trimEnd();
    }
  }
  return raw.trimEnd();
}

/**
 * Parses `text`; throws an `Error` naming the line for anything outside the subset.
 *
 * @example
 * ```ts
 * parseYaml("on:\n  push:\njobs:\n  a:\n    steps:\n      - run: echo hi\n");
 * // { on: { push: null }, jobs: { a: { steps: [{ run: "echo hi" }] } } }
 * ```
 */
export function parseYaml(text: string): Yaml {
  const lines: Line[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.includes("\t")) throw new Error(`line ${i + 1}: a tab (YAML indents with spaces)`);
    const content = withoutComment(raw);
    const trimmed = content.trimStart();
    if (trimmed !== "") {
      lines.push({ indent: content.length - trimmed.length, text: trimmed, number: i + 1 });
    }
  });
  let at = 0;
  const fail = (line: Line, why: string): never => {
    throw new Error(`line ${line.number}: ${why}: ${line.text}`);
  };
  const isItem = (line: Line) => line.text === "-" || line.text.startsWith("- ");

  function scalar(text: string, line: Line): Yaml {
    if (text.startsWith('"')) {
      if (!text.endsWith('"') || text.length < 2) fail(line, "an unterminated string");
      return JSON.parse(text) as string;
    }
    if (text.startsWith("'")) {
      if (!text.endsWith("'") || text.length < 2) fail(line, "an unterminated string");
      return text.slice(1, -1).replaceAll("''", "'");
    }
    if (/^[[{&*!|>%@`]/.test(text)) fail(line, "outside the subset (flow, anchor, tag, block)");
    if (/: | #/.test(text)) fail(line, "a plain scalar with ': ' or ' #' in it");
    if (text === "true" || text === "false") return text === "true";
    if (text === "null" || text === "~") return null;
    if (/^[-+]?(\d+|\d*\.\d+)$/.test(text)) return Number(text);
    return text;
  }

  // A value after `key:` or `-` with nothing on its line: what is indented below it, or null.
  function below(indent: number, afterKey: boolean): Yaml {
    const next = lines[at];
    if (next && next.indent > indent) return block(next.indent);
    // A sequence may sit at its key's own indentation.
    if (afterKey && next && next.indent === indent && isItem(next)) return sequence(indent);
    return null;
  }

  function block(indent: number): Yaml {
    return isItem(lines[at]) ? sequence(indent) : mapping(indent);
  }

  function sequence(indent: number): Yaml[] {
    const out: Yaml[] = [];
    while (at < lines.length && lines[at].indent === indent && isItem(lines[at])) {
      const line = lines[at];
      const rest = line.text.slice(1).trimStart();
      if (rest === "") {
        at++;
        out.push(below(indent, false));
      } else if (/^[^'"][^:]*:( |$)/.test(rest)) {
        // `- key: value` opens a mapping whose keys line up with this first one.
        const column = indent + line.text.length - rest.length;
        lines[at] = { ...line, indent: column, text: rest };
        out.push(mapping(column));
      } else {
        at++;
        out.push(scalar(rest, line));
      }
    }
    return out;
  }

  function mapping(indent: number): { [key: string]: Yaml } {
    const out: { [key: string]: Yaml } = {};
    while (at < lines.length && lines[at].indent === indent && !isItem(lines[at])) {
      const line = lines[at];
      const m = line.text.match(/^([^'"\s][^:]*?|"[^"]*"|'[^']*'):(?: +(.*))?$/);
      if (!m) fail(line, "not a `key: value` line");
      const key = String(scalar(m![1], line));
      if (Object.hasOwn(out, key)) fail(line, `the key ${key} twice`);
      at++;
      out[key] = m![2] === undefined ? below(indent, true) : scalar(m![2], line);
    }
    const next = lines[at];
    if (next && next.indent > indent) fail(next, "indented more than its mapping");
    return out;
  }

  if (lines.length === 0) return null;
  const value = block(lines[0].indent);
  if (at < lines.length) fail(lines[at], "indented less than the document");
  return value;
}
