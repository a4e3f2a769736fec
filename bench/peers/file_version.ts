// The version of a file as the floor programs with duties see it, from one lstat per request (the
// lstat that makes every edit visible on the next request): its ETag, and the mtime behind its
// Last-Modified, which a program formats only when the ETag changes.

/** `lstat`s `file`: the ETag of this version and its mtime. */
export function fileVersion(file: string): { etag: string; mtime: Date } {
  const stat = Deno.lstatSync(file);
  const mtime = stat.mtime ?? new Date(0);
  return { etag: `"${stat.ino}-${stat.size}-${mtime.getTime()}"`, mtime };
}
