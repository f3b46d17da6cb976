// The dashboard in a real browser: `run --ui 0` on fc1-imx6 serves the page; headless Chromium
// (Debian's `chromium`, driven by puppeteer-core, never downloaded) loads it and finds one
// data-sector cell per RAM sector (2048), the charts drawn, at least two distinct cell states,
// text that changes between two reads a few seconds apart, and a pause that stops the clock and
// a resume that starts it again. A screenshot goes to test-output/ui/dashboard.png.
// Where no Chromium is installed the test is skipped and says so.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chromiumPath } from "../helpers/chromium.js";
import { ROOT, spawnCli } from "../run/helpers.js";

const CHROMIUM = chromiumPath();
if (CHROMIUM === null) {
  console.warn(
    "test/ui/dashboard-browser.test.ts: SKIPPED: no Chromium found (install Debian's `chromium`, or set CHROMIUM_PATH)",
  );
}

const OUTPUT_DIR = join(ROOT, "test-output", "ui");
const SECTORS_FC1_IMX6 = 2048;

describe.skipIf(CHROMIUM === null)("the dashboard in headless Chromium", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("shows the SAT map, the charts, live values, and pauses", { timeout: 90_000 }, async () => {
    const child = spawnCli([
      "run",
      "--board",
      "fc1-imx6",
      "--ui",
      "0",
      "--duration",
      "2d",
      "--speed",
      "5000",
      "--quiet",
    ]);
    cleanups.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    const url = await new Promise<string>((resolve, reject) => {
      let seen = "";
      const timer = setTimeout(() => reject(new Error(`no dashboard address on stderr: ${seen}`)), 20_000);
      child.stderr?.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(seen);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    });

    const puppeteer = (await import("puppeteer-core")).default;
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM ?? "",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    cleanups.push(() => browser.close());
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    await page.goto(url, { waitUntil: "load" });

    await page.waitForFunction(
      (n: number) => document.querySelectorAll("[data-sector]").length === n,
      { timeout: 20_000 },
      SECTORS_FC1_IMX6,
    );
    expect(await page.$$eval("[data-sector]", (cells) => cells.length)).toBe(SECTORS_FC1_IMX6);
    // Every data-sector element is a cell of the map, numbered 0 … n−1.
    const ids = await page.$$eval("[data-sector]", (cells) =>
      cells.map((cell) => (cell.parentElement?.id === "map" ? Number(cell.getAttribute("data-sector")) : -1)),
    );
    expect(ids).toEqual(Array.from({ length: SECTORS_FC1_IMX6 }, (_, i) => i));

    // The charts: six uPlot charts with a drawn canvas.
    await page.waitForFunction(() => document.querySelectorAll(".uplot canvas").length >= 6, { timeout: 10_000 });
    const canvases = await page.$$eval("canvas", (list) =>
      list.filter((canvas) => canvas.closest(".uplot") !== null).map((canvas) => canvas.width * canvas.height),
    );
    expect(canvases.length).toBeGreaterThanOrEqual(6);
    expect(canvases.every((area) => area > 0)).toBe(true);

    // At least two distinct cell states (free, and the sectors of some stream).
    await page.waitForFunction(
      () => {
        const states = new Set<string>();
        for (const cell of document.querySelectorAll<HTMLElement>("[data-sector]"))
          states.add(`${cell.className}/${cell.style.background}`);
        return states.size >= 2;
      },
      { timeout: 20_000 },
    );

    // Values change between two reads a few seconds apart.
    const text = (): Promise<string> => page.$eval("#clock", (el) => el.textContent);
    const series = (): Promise<string> => page.$eval("#sat-text", (el) => el.textContent);
    const first = `${await text()}|${await series()}`;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const second = `${await text()}|${await series()}`;
    expect(second).not.toBe(first);

    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, "dashboard.png"), fullPage: true });

    // Pause: the simulated clock stops; resume: it moves again.
    await page.click("#pause");
    await page.waitForFunction(() => (document.getElementById("clock")?.textContent ?? "").includes("paused"), {
      timeout: 10_000,
    });
    const pausedA = await text();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const pausedB = await text();
    expect(pausedB).toBe(pausedA);
    await page.click("#resume");
    await page.waitForFunction(
      (before: string) => {
        const now = document.getElementById("clock")?.textContent ?? "";
        return !now.includes("paused") && now !== before;
      },
      { timeout: 10_000 },
      pausedA,
    );

    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(0);
  });
});
