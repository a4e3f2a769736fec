/**
 * Content types by file extension, for the static file server.
 *
 * @module
 */

/**
 * `type: extensions`, separated by `;` or a line end; a type marked `+` is text, sent with
 * `charset=utf-8`.
 */
const TABLE = `
  +text/html: html htm; +text/css: css; +text/javascript: js mjs; +text/markdown: md
  +application/json: json map; +application/manifest+json: webmanifest; +application/xml: xml
  +text/plain: txt text log toml ts py c h; +text/csv: csv; +text/tab-separated-values: tsv
  +text/yaml: yaml yml; +text/calendar: ics; application/wasm: wasm
  image/png: png; image/jpeg: jpg jpeg; image/gif: gif; image/webp: webp; image/avif: avif
  image/svg+xml: svg; image/x-icon: ico; image/bmp: bmp; image/tiff: tif tiff
  audio/mpeg: mp3; audio/wav: wav; audio/ogg: ogg oga opus; audio/flac: flac; audio/mp4: m4a
  audio/aac: aac; video/mp4: mp4 m4v; video/webm: webm; video/ogg: ogv; video/quicktime: mov
  video/x-matroska: mkv; video/x-msvideo: avi; font/woff: woff; font/woff2: woff2; font/ttf: ttf
  font/otf: otf; application/vnd.ms-fontobject: eot; application/zip: zip
  application/gzip: gz tgz; application/x-tar: tar; application/x-bzip2: bz2; application/x-xz: xz
  application/x-7z-compressed: 7z; application/vnd.rar: rar; application/pdf: pdf
  application/rtf: rtf; application/epub+zip: epub; application/msword: doc
  application/vnd.ms-excel: xls; application/vnd.ms-powerpoint: ppt
  application/vnd.openxmlformats-officedocument.wordprocessingml.document: docx
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: xlsx
  application/vnd.openxmlformats-officedocument.presentationml.presentation: pptx
  application/vnd.oasis.opendocument.text: odt; application/vnd.oasis.opendocument.spreadsheet: ods
  application/vnd.oasis.opendocument.presentation: odp
`;

const TYPES = new Map<string, string>();
for (const entry of TABLE.split(/[;\n]/)) {
  const [type, extensions] = entry.split(":").map((part) => part.trim());
  if (extensions === undefined) continue; // The empty first and last lines.
  const full = type.startsWith("+") ? `${type.slice(1)}; charset=utf-8` : type;
  for (const extension of extensions.split(" ")) TYPES.set(extension, full);
}

/**
 * The Content-Type for a file name; `application/octet-stream` when unknown.
 *
 * @example
 * ```ts
 * contentType("index.HTML"); // "text/html; charset=utf-8"
 * ```
 */
export function contentType(name: string): string {
  const dot = name.lastIndexOf(".");
  const type = dot > 0 ? TYPES.get(name.slice(dot + 1).toLowerCase()) : undefined;
  return type ?? "application/octet-stream";
}
