import assert from "node:assert/strict";
import { join } from "node:path";
import { serveHttp } from "../lab_http/server.ts";
import { findChromium, openPage } from "./support/chromium.ts";
import { ROOT } from "../harness/process.ts";

const chromium = findChromium();

Deno.test({
  name: "a real browser: the listing renders, its links work, a screenshot is saved",
  // .ci/run installs Debian's chromium; elsewhere this test says it was skipped.
  ignore: chromium === undefined,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "browser_" });
    await Deno.mkdir(join(root, "photos"));
    await Deno.writeTextFile(join(root, "photos", "list.txt"), "one\ntwo\n");
    await Deno.writeTextFile(join(root, "read me #1.txt"), "spaces and a hash\n");
    await Deno.writeTextFile(
      join(root, "café.html"),
      "<!DOCTYPE html><title>Café</title><p id=x>au lait</p>",
    );
    const server = serveHttp({ hostname: "127.0.0.1", port: 0, root, log: () => {} });
    const base = `http://127.0.0.1:${server.addr.port}`;
    try {
      await using page = await openPage(chromium!);
      await page.goto(`${base}/`);
      assert.equal(await page.evaluate<string>("document.title"), "Index of /");
      const links = await page.evaluate<string[]>(
        "[...document.querySelectorAll('a')].map((a) => a.href)",
      );
      assert.deepEqual(links, [
        `${base}/photos/`,
        `${base}/caf%C3%A9.html`,
        `${base}/read%20me%20%231.txt`,
      ]);
      // Every link answers 200 in the browser itself.
      const statuses = await page.evaluate<number[]>(
        "Promise.all([...document.querySelectorAll('a')].map((a) => fetch(a.href).then((r) => r.status)))",
      );
      assert.deepEqual(statuses, [200, 200, 200]);

      const shot = await page.send("Page.captureScreenshot", { format: "png" });
      const png = Uint8Array.from(atob(shot.data as string), (c) => c.charCodeAt(0));
      assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      await Deno.mkdir(join(ROOT, "tests", "artifacts"), { recursive: true });
      await Deno.writeFile(join(ROOT, "tests", "artifacts", "listing.png"), png);

      // Click through: a folder, then its parent link, then a page.
      await page.waitForLoad(() =>
        page.evaluate("document.querySelector('a[href=\"photos/\"]').click()")
      );
      assert.equal(await page.evaluate<string>("location.pathname"), "/photos/");
      assert.equal(
        await page.evaluate<string>("document.querySelector('a[href=\"list.txt\"]').textContent"),
        "list.txt",
      );
      await page.waitForLoad(() =>
        page.evaluate("document.querySelector('a[href=\"../\"]').click()")
      );
      assert.equal(await page.evaluate<string>("location.pathname"), "/");
      await page.waitForLoad(() =>
        page.evaluate("document.querySelector('a[href=\"caf%C3%A9.html\"]').click()")
      );
      assert.equal(
        await page.evaluate<string>("document.getElementById('x').textContent"),
        "au lait",
      );
      assert.equal(await page.evaluate<string>("document.characterSet"), "UTF-8");
    } finally {
      server.close();
      await server.finished;
      await Deno.remove(root, { recursive: true });
    }
  },
});
