// The --html page of `compare` in a real browser, offline: headless Chromium (Debian's `chromium`,
// driven by puppeteer-core) opens the file with every network request refused, and finds the table
// (one row per run), the five uPlot charts drawn and the bar charts, with no script error and no
// request made. A screenshot goes to test-output/compare/compare.png. Where no Chromium is
// installed the test is skipped and says so.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runLikeSettings } from "../../host/cli/run-like-options.js";
import { compareHtml } from "../../host/compare/compare-html.js";
import { compareDocument } from "../../host/compare/compare-report.js";
import { compareRunOne } from "../../host/compare/compare-run.js";
import { compareInputs } from "../../host/compare/compare.js";
import { chromiumPath } from "../helpers/chromium.js";
import { ROOT } from "../run/helpers.js";

const CHROMIUM = chromiumPath();
if (CHROMIUM === null) {
  console.warn(
    "test/compare/compare-browser.test.ts: SKIPPED: no Chromium found (install Debian's `chromium`, or set CHROMIUM_PATH)",
  );
}

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-compare-page-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(CHROMIUM === null)("compare --html in headless Chromium", () => {
  it("draws the table and the charts offline", { timeout: 90_000 }, async () => {
    const settings = runLikeSettings("tiny", { uploadEvery: "1m", latency: "250", outage: ["30m at 10m"] }, "1h");
    const inputs = compareInputs([settings], ["immediate", "batched"]);
    const results = [];
    for (const input of inputs) results.push(await compareRunOne(input));
    const doc = compareDocument(results, {
      durationMs: 3600_000,
      outages: ["30m at 10m"],
      workload: { origin: "default", streams: 12 },
      seed: null,
    });
    const path = join(dir, "compare.html");
    writeFileSync(path, compareHtml(doc, results));

    const puppeteer = (await import("puppeteer-core")).default;
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM ?? "",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("pageerror", (error) => errors.push(String(error)));
      await page.setRequestInterception(true);
      const url = pathToFileURL(path).href;
      page.on("request", (request) => {
        if (request.url() === url) void request.continue();
        else {
          requests.push(request.url());
          void request.abort();
        }
      });
      await page.setViewport({ width: 1300, height: 900 });
      await page.goto(url, { waitUntil: "load" });
      await page.waitForFunction(() => document.querySelectorAll(".uplot canvas").length >= 5, { timeout: 10_000 });
      const areas = await page.$$eval(".uplot canvas", (list) => list.map((canvas) => canvas.width * canvas.height));
      expect(areas).toHaveLength(5);
      expect(areas.every((area) => area > 0)).toBe(true);
      expect(await page.$$eval("#runs tbody tr", (rows) => rows.length)).toBe(2);
      expect(await page.$$eval("figure.bars rect", (bars) => bars.length)).toBeGreaterThanOrEqual(2 * 10);
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      const out = join(ROOT, "test-output", "compare");
      mkdirSync(out, { recursive: true });
      await page.screenshot({ path: join(out, "compare.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
