// `imx-memsim compare` runs every board × policy combination on worker threads and writes one row
// per run that adds up: written = delivered + discarded + stored, under those key names. Shown here
// with the compiled CLI on the tiny board (4 stream slots: it takes the default workload's first 4
// of 12 streams and says so) beside esp32, under an outage long enough for tiny to discard its
// oldest records and, under refuse-new, to refuse the newest; the --html page is self-contained (no
// request to anything: uPlot is inlined). Bad input exits 2 with one line and writes nothing.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CompareDocument } from "../../host/compare/compare-report.js";
import { compareInputs } from "../../host/compare/compare.js";
import { runLikeSettings } from "../../host/cli/run-like-options.js";
import { refused } from "../cli/helpers.js";
import { cli } from "../run/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-compare-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (path: string): CompareDocument => JSON.parse(readFileSync(path, "utf8")) as CompareDocument;

describe("compare", () => {
  it("runs every board × policy, and each row adds up under its key names", async () => {
    const json = join(dir, "c.json");
    const html = join(dir, "c.html");
    const result = await cli([
      "compare",
      "--board",
      "tiny,esp32",
      "--policy",
      "immediate,lazy",
      "--duration",
      "2h",
      "--outage",
      "1h at 30m",
      "--json",
      json,
      "--html",
      html,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const document = read(json);
    expect(document.runs.map((r) => `${r.board}/${r.policy}`)).toEqual([
      "tiny/immediate",
      "tiny/lazy",
      "esp32/immediate",
      "esp32/lazy",
    ]);
    for (const row of document.runs) {
      const r = row as unknown as Record<string, number>;
      expect(r["written"], row.board).toBe((r["delivered"] ?? NaN) + (r["discarded"] ?? NaN) + (r["stored"] ?? NaN));
      expect(row.written).toBeGreaterThan(0);
      expect(row.delivered).toBeGreaterThan(0);
      expect(row.addsUp).toBe(true);
      expect(row.simulatedMs).toBe(2 * 3600_000);
    }
    const tiny = document.runs.filter((r) => r.board === "tiny");
    const esp32 = document.runs.filter((r) => r.board === "esp32");
    // tiny holds about half an hour of the workload: the hour's outage makes it discard, the oldest.
    for (const row of tiny) {
      expect(row.streams).toBe(4);
      expect(row.streamsNote).toMatch(/first 4 of 12 streams/);
      expect(row.discarded).toBeGreaterThan(0);
      expect(row.discardedOldest).toBe(row.discarded);
      expect(row.filesCreated).toBeGreaterThan(0);
      expect(row.diskBytesWritten).toBeGreaterThan(0);
      expect(row.diskPeakBytes).toBeLessThanOrEqual(row.diskQuotaBytes ?? 0);
    }
    for (const row of esp32) {
      expect(row.streams).toBe(12);
      expect(row.streamsNote).toBeNull();
      expect(row.lost).toBe(0);
    }
    expect(result.stderr).toMatch(/board tiny has 4 stream slots: it runs the workload's first 4 of 12 streams/);
    expect(result.stdout).toMatch(/tiny\s+immediate/);
    expect(result.stdout).toMatch(/lost nothing: esp32\/immediate, esp32\/lazy/);

    const page = readFileSync(html, "utf8");
    expect(page.match(/<tr data-run=/g)).toHaveLength(4);
    expect(page).toContain("new uPlot(");
    expect(page).toMatch(/var uPlot|uPlot=/);
    // Offline: nothing is fetched (no src or href attribute, no URL but the SVG namespace).
    expect(page).not.toMatch(/\s(src|href)=/i);
    expect(page).not.toMatch(/@import|url\(\s*['"]?https?:/i);
  }, 120_000);

  it("tells the discarded oldest from the refused newest (refuse-new keeps the oldest)", async () => {
    const json = join(dir, "refuse.json");
    const result = await cli([
      "compare",
      "--board",
      "tiny",
      "--disk-full",
      "refuse-new",
      "--duration",
      "2h",
      "--outage",
      "1h at 30m",
      "--quiet",
      "--json",
      json,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    const [row] = read(json).runs;
    expect(row?.diskFull).toBe("refuse-new");
    expect(row?.refusedNewest).toBeGreaterThan(0);
    expect(row?.discarded).toBe(0);
    expect(row?.lost).toBe(row?.refusedNewest);
    expect(row?.written).toBe((row?.delivered ?? NaN) + (row?.stored ?? NaN));
    expect(result.stdout).toMatch(/\d newest/);
  }, 60_000);

  // MM2's direct tiered allocation beside the spill it replaced: the direct board holds RAM at its
  // threshold and allocates sectors on disk, the spill board allocates none there, and both add up.
  it("compares spill and direct mode (esp32 and esp32-direct)", async () => {
    const json = join(dir, "direct.json");
    const result = await cli([
      "compare",
      "--board",
      "esp32,esp32-direct",
      "--policy",
      "batched",
      "--duration",
      "6h",
      "--outage",
      "5h at 30m",
      "--quiet",
      "--json",
      json,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const [spill, direct] = read(json).runs;
    expect(spill?.tierMode).toBe("spill");
    expect(spill?.directSectors).toBe(0);
    expect(direct?.tierMode).toBe("direct");
    expect(direct?.directSectors).toBeGreaterThan(0);
    expect(direct?.filesCreated).toBeGreaterThan(0);
    // At most the threshold (820 of 1,024 sectors), one direct batch (8) and a sector per stream
    // opened between two ticks (12 streams): 840 sectors.
    expect(direct?.ramPeakSectors).toBeGreaterThanOrEqual(820);
    expect(direct?.ramPeakSectors).toBeLessThanOrEqual(820 + 8 + 12);
    for (const row of [spill, direct]) {
      expect(row?.addsUp, row?.board).toBe(true);
      expect(row?.written).toBe((row?.delivered ?? NaN) + (row?.discarded ?? NaN) + (row?.stored ?? NaN));
    }
    expect(result.stdout).toMatch(/esp32-direct\s.*direct [\d,]+/);
  }, 120_000);

  it("a board's own policy when --policy is not given; the workload's first streams on a small board", () => {
    const settings = ["tiny", "esp32"].map((board) =>
      runLikeSettings(
        board,
        { uploadEvery: "1m", latency: "250", tsd: ["1:1m", "2:1m", "3:1m", "4:1m", "5:1m"] },
        "1h",
      ),
    );
    const inputs = compareInputs(settings, null);
    expect(inputs.map((i) => i.settings.policy)).toEqual([null, null]);
    expect(inputs[0]?.settings.workload?.streams.map((s) => s.sensor)).toEqual([1, 2, 3, 4]);
    expect(inputs[0]?.streamsNote).toMatch(/first 4 of 5 streams/);
    expect(inputs[1]?.settings.workload?.streams).toHaveLength(5);
    expect(inputs[1]?.streamsNote).toBeNull();
  });

  it("refuses bad input with one line, exit 2, and writes nothing", async () => {
    const json = join(dir, "never.json");
    const html = join(dir, "never.html");
    const outputs = ["--json", json, "--html", html];
    const base = ["compare", "--duration", "1h", ...outputs];
    const cases: Array<[string[], RegExp]> = [
      [[...base, "--board", "tiny,nosuch"], /unknown board "nosuch"/],
      [[...base, "--board", "tiny", "--policy", "immediate,sometimes"], /--policy must list .*got "sometimes"/],
      [[...base, "--board", "tiny,tiny"], /--board names tiny twice/],
      [[...base, "--board", "tiny,"], /--board must be a comma-separated list/],
      [["compare", "--board", "tiny", "--duration", "1 day", ...outputs], /--duration must be a duration/],
      [["compare", "--board", "tiny", "--duration", "0", ...outputs], /--duration must be a duration/],
      [[...base, "--board", "tiny", "--outage", "6h every 1h"], /must be shorter than its period/],
      [
        ["compare", "--board", "tiny", "--duration", "1h", "--json", join(dir, "no", "c.json")],
        /--json .*does not exist/,
      ],
      [["compare", "--board", "tiny", "--duration", "1h", "--json", json, "--html", dir], /--html .*is not a file/],
      [["compare", "--board", "tiny"], /required option '--duration <time>'/],
    ];
    await Promise.all(cases.map(([args, pattern]) => refused(args, pattern)));
    expect(existsSync(json)).toBe(false);
    expect(existsSync(html)).toBe(false);
  }, 120_000);

  it("has a --help that names its flags", async () => {
    const result = await cli(["compare", "--help"]);
    expect(result.code).toBe(0);
    for (const flag of ["--board", "--policy", "--workload", "--tsd", "--outage", "--duration", "--json", "--html"])
      expect(result.stdout).toContain(flag);
  });
});
