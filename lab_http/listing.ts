/**
 * The directory listing page: valid HTML5, folders first, names escaped,
 * links percent-encoded; and what it lists, read so that a name swapped for
 * a symlink shows nothing of where the link points unless that is served too.
 *
 * @module
 */

import { join } from "node:path";
import type { Root } from "./confine.ts";

/** One listed entry. */
export interface ListingEntry {
  name: string;
  isDirectory: boolean;
  size: number;
  mtime: Date | null;
}

/**
 * The entries of `dir` (a folder inside `root`) that a listing shows: no
 * hidden names (unless the root serves them), and a symlink only if following
 * it leads to a place the server would serve. Each entry is `lstat`ed, not
 * `stat`ed, so an entry swapped for a link after the folder was read shows as
 * a link (and is looked at as one), never with the size or time of its target.
 *
 * @example
 * ```ts
 * import { Root } from "./confine.ts";
 * const root = new Root(".");
 * folderEntries(root, root.path).length;
 * ```
 */
export function folderEntries(root: Root, dir: string): ListingEntry[] {
  const entries: ListingEntry[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    try {
      let path = join(dir, entry.name);
      if (!root.contains(path)) continue; // A hidden name.
      let info = Deno.lstatSync(path);
      if (info.isSymlink) {
        path = Deno.realPathSync(path);
        if (!root.contains(path)) continue;
        info = Deno.lstatSync(path);
      }
      if (!info.isFile && !info.isDirectory) continue; // FIFOs, sockets, devices, links.
      entries.push({
        name: entry.name,
        isDirectory: info.isDirectory,
        size: info.size,
        mtime: info.mtime,
      });
    } catch {
      // A dangling symlink or an entry removed meanwhile: not listed.
    }
  }
  return entries;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

/** Sorts folders first, then by name. */
export function sortEntries(entries: ListingEntry[]): ListingEntry[] {
  return entries.sort((a, b) =>
    a.isDirectory !== b.isDirectory
      ? (a.isDirectory ? -1 : 1)
      : collator.compare(a.name, b.name) || (a.name < b.name ? -1 : 1)
  );
}

function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function formatTime(d: Date | null): string {
  return d ? d.toISOString().replace("T", " ").slice(0, 16) : "-";
}

/**
 * Renders the listing of `urlPath` (decoded, ending in `/`).
 *
 * @example
 * ```ts
 * renderListing("/docs/", [{ name: "a b.txt", isDirectory: false, size: 3, mtime: null }]);
 * ```
 */
export function renderListing(urlPath: string, entries: ListingEntry[]): string {
  const title = `Index of ${escapeHtml(urlPath)}`;
  const rows = sortEntries(entries).map((e) => {
    const href = encodeURIComponent(e.name) + (e.isDirectory ? "/" : "");
    const label = escapeHtml(e.name) + (e.isDirectory ? "/" : "");
    const size = e.isDirectory ? "-" : formatSize(e.size);
    return `<tr><td><a href="${href}">${label}</a></td><td>${size}</td><td>${
      formatTime(e.mtime)
    }</td></tr>`;
  });
  if (urlPath !== "/") rows.unshift(`<tr><td><a href="../">../</a></td><td>-</td><td>-</td></tr>`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.2em 1.5em .2em 0}th{text-align:left}</style>
</head>
<body>
<h1>${title}</h1>
<table>
<thead><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody>
</table>
</body>
</html>
`;
}
