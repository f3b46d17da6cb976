// `imx-memsim size` computes its answers by bisection over real runs. Shown on the tiny board (it
// loses records in a 30-minute outage): the compiled CLI finds the longest outage it survives, and
// the smallest disk quota and RAM budget that survive the 30 minutes; the test then checks each
// answer with runs of its own — the longest outage survives and the next step loses, a quota or a
// sector count one resolution smaller loses — and runs the board file it wrote (loadBoard accepts
// it) to see that it really discards nothing. A board without a disk tier is sized by its RAM
// alone. Bad input exits 2 with one line and writes nothing.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { runLikeSettings } from "../../host/cli/run-like-options.js";
import { compareRunOne, type CompareRow } from "../../host/compare/compare-run.js";
import { compareInput } from "../../host/compare/compare.js";
import { outageSpecParse } from "../../host/run/outage-schedule.js";
import { boardVariant, durationText, outageWithLength, type SizeReport } from "../../host/size/size.js";
import type { Board } from "../../host/boards.js";
import { refused } from "../cli/helpers.js";
import { cli, ROOT } from "../run/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-size-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OUTAGE = "30m at 10m";
const BASE = { uploadEvery: "1m", latency: "250" };

/** One run of `board` under `outage` for `duration`, as size makes them. */
async function runOf(board: string | Board, outage: string, duration: string): Promise<CompareRow> {
  const settings = runLikeSettings(typeof board === "string" ? board : "tiny", { ...BASE, outage: [outage] }, duration);
  if (typeof board !== "string") settings.board = board;
  return (await compareRunOne(compareInput(settings))).row;
}

describe("size", () => {
  it("durations and outages of another length read back", () => {
    expect(durationText(0)).toBe("0");
    expect(durationText(90_061_001)).toBe("1d1h1m1s1ms");
    const single = outageSpecParse("30m at 10m");
    const repeating = outageSpecParse("6h every 1d");
    const placed = outageSpecParse("6h every 1d at 2h");
    if (single === null || repeating === null || placed === null) throw new Error("unreachable");
    expect(outageWithLength(single, 45 * 60_000)).toMatchObject({ durationMs: 45 * 60_000, offsetMs: 10 * 60_000 });
    // A repeating outage keeps its period, and its place: by default the end of each period.
    expect(outageWithLength(repeating, 3 * 3600_000)).toMatchObject({ periodMs: 86_400_000, offsetMs: 21 * 3600_000 });
    expect(outageWithLength(placed, 3 * 3600_000)).toMatchObject({ offsetMs: 2 * 3600_000 });
  });

  it("finds the longest outage and the smallest quota and RAM by bisection; the board it writes loses nothing", async () => {
    const boardPath = join(dir, "tiny-sized.json");
    const jsonPath = join(dir, "size.json");
    const result = await cli([
      "size",
      "--board",
      "tiny",
      "--outage",
      OUTAGE,
      "--write-board",
      boardPath,
      "--json",
      jsonPath,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(readFileSync(jsonPath, "utf8")) as SizeReport;
    const runLines = result.stderr.split("\n").filter((line) => /^size: run \d+: /.test(line));
    expect(report.runs).toBe(runLines.length);
    expect(result.stdout).toContain(`${report.runs} real runs`);
    expect(result.stdout).toMatch(/bisection to 00:01:00/);
    expect(result.stdout).toMatch(/bisection to 192 B \(one full \.imx file\)/);
    expect(result.stdout).toMatch(/bisection to 1 sector/);
    expect(report.boardSurvives).toBe(false);
    const duration = durationText(report.durationMs);
    expect(report.durationMs).toBe((10 + 30 + 60) * 60_000);

    // The longest outage survives; one resolution longer loses.
    const o = report.longestOutage;
    expect(o.survivedMs).toBeGreaterThan(0);
    expect(o.survivedMs).toBeLessThan(30 * 60_000);
    expect(o.lostMs).not.toBeNull();
    expect((o.lostMs ?? 0) - o.survivedMs).toBeLessThanOrEqual(o.resolutionMs);
    const longestDuration = durationText(o.survivedMs + (10 + 60) * 60_000);
    expect((await runOf("tiny", `${durationText(o.survivedMs)} at 10m`, longestDuration)).lost).toBe(0);
    expect((await runOf("tiny", `${durationText(o.lostMs ?? 0)} at 10m`, longestDuration)).lost).toBeGreaterThan(0);

    // The board file: loadBoard accepts it, and under the outage it discards nothing.
    const sized = loadBoard(boardPath);
    expect(sized.name).toBe("tiny-sized");
    expect(sized).toEqual(report.variant);
    const d = report.disk;
    const r = report.ram;
    if (d === null || r === null) throw new Error("tiny has a disk tier: both answers expected");
    expect(sized.disk?.quotaBytes).toBe(d.quotaBytes);
    expect(sized.memory.sectorCount).toBe(r.sectorCount);
    expect(sized.memory.ramBytes).toBe(r.ramBytes);
    const again = await runOf(sized, OUTAGE, duration);
    expect(again.written).toBeGreaterThan(0);
    expect(again.discarded).toBe(0);
    expect(again.refusedNewest).toBe(0);
    expect(again.written).toBe(again.delivered + again.stored);

    // Smallest to within the resolution: a quota or a sector count one step smaller loses.
    const tiny = loadBoard("tiny");
    const lessQuota = boardVariant(tiny, { quotaBytes: d.quotaBytes - d.resolutionBytes }, true);
    expect((await runOf(lessQuota, OUTAGE, duration)).lost).toBeGreaterThan(0);
    const lessRam = boardVariant(tiny, { sectorCount: r.sectorCount - 1, quotaBytes: d.quotaBytes }, false);
    expect((await runOf(lessRam, OUTAGE, duration)).lost).toBeGreaterThan(0);
  }, 180_000);

  it("sizes a board without a disk tier by its RAM, under a repeating outage", async () => {
    const raw = JSON.parse(readFileSync(join(ROOT, "boards", "tiny.json"), "utf8")) as Record<string, unknown>;
    const boardPath = join(dir, "tiny-ram.json");
    writeFileSync(boardPath, JSON.stringify({ ...raw, name: "tiny-ram", disk: null }));
    const jsonPath = join(dir, "ram.json");
    const result = await cli(["size", "--board", boardPath, "--outage", "10m every 1h", "--quiet", "--json", jsonPath]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    const report = JSON.parse(readFileSync(jsonPath, "utf8")) as SizeReport;
    expect(report.disk).toBeNull();
    expect(report.variant?.disk).toBeNull();
    expect(report.variant?.name).toBe("tiny-ram-sized");
    expect(report.longestOutage.capMs).toBeLessThan(3600_000);
    expect(report.ram?.sectorCount).toBeGreaterThan(0);
    expect(result.stdout).toMatch(/disk {7}none: the board has no disk tier/);
  }, 120_000);

  it("refuses bad input with one line, exit 2, and writes nothing", async () => {
    const json = join(dir, "never.json");
    const board = join(dir, "never-board.json");
    const outputs = ["--json", json, "--write-board", board];
    const cases: Array<[string[], RegExp]> = [
      [["size", "--board", "tiny", ...outputs], /--outage must be given once/],
      [
        ["size", "--board", "tiny", "--outage", "1h at 1h", "--outage", "2h at 1h", ...outputs],
        /--outage must be given once/,
      ],
      [["size", "--board", "tiny", "--outage", "none", ...outputs], /has nothing to size for/],
      [["size", "--board", "tiny", "--outage", "1h", ...outputs], /expected "DURATION every PERIOD/],
      [["size", "--board", "nosuch", "--outage", "1h at 1h", ...outputs], /unknown board "nosuch"/],
      [
        ["size", "--board", "tiny", "--outage", "1h at 1h", "--duration", "5", ...outputs],
        /--duration must be a duration/,
      ],
      [["size", "--board", "tiny", "--outage", "1h at 1h", "--policy", "never", ...outputs], /--policy must be/],
      [
        ["size", "--board", "tiny", "--outage", "1h at 1h", "--write-board", join(dir, "Tiny.json")],
        /--write-board .*named <name>\.json/,
      ],
      [
        ["size", "--board", "tiny", "--outage", "1h at 1h", "--json", join(dir, "no", "s.json")],
        /--json .*does not exist/,
      ],
    ];
    await Promise.all(cases.map(([args, pattern]) => refused(args, pattern)));
    expect(existsSync(json)).toBe(false);
    expect(existsSync(board)).toBe(false);
  }, 120_000);

  it("has a --help that names its flags", async () => {
    const result = await cli(["size", "--help"]);
    expect(result.code).toBe(0);
    for (const flag of ["--workload", "--tsd", "--outage", "--board", "--write-board", "--json"])
      expect(result.stdout).toContain(flag);
  });
});
