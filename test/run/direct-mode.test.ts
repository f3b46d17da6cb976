// MM2's direct tiered allocation (tier.mode "direct", SPEC.md 4.2) on a real run: the esp32-direct
// board through a 20-hour outage. RAM holds at the spill threshold (peak ≤ 81%) because past it the
// new sectors go to disk, in files, instead of RAM spilling its oldest; every record adds up
// (written = uploaded + stored + discarded, none discarded); the upload log is in order, without a
// duplicate and with every stream's sequence numbers stepping by 1, although the stream's files are
// newer than its RAM data; and the same workload on the spill board (esp32) spills instead.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { DeviceSummary } from "../../host/run/device-report.js";
import { cli, logCheck, seqStepMax, uploadLogRecords } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "imx-direct-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const WORKLOAD = ["--tsd", "1:10s", "--evt", "2:2/m", "--duration", "22h", "--outage", "20h at 1h"];

async function runOn(board: string): Promise<{ summary: DeviceSummary; log: string }> {
  const log = join(root, `${board}.ndjson`);
  const out = join(root, `${board}.json`);
  const result = await cli([
    "run",
    "--board",
    board,
    ...WORKLOAD,
    "--storage",
    join(root, board),
    "--upload-log",
    log,
    "--speed",
    "max",
    "--quiet",
    "--json",
    out,
  ]);
  expect(result.code, result.stderr).toBe(0);
  return { summary: JSON.parse(readFileSync(out, "utf8")) as DeviceSummary, log };
}

describe("tier.mode direct through a 20-hour outage", () => {
  it("holds RAM at the threshold, allocates sectors on disk, writes files, and adds up in order", async () => {
    const { summary, log } = await runOn("esp32-direct");
    expect(summary.ram.usagePercentPeak).toBeGreaterThanOrEqual(80);
    expect(summary.ram.usagePercentPeak).toBeLessThanOrEqual(81);
    expect(summary.disk.directSectors).toBeGreaterThan(0);
    expect(summary.disk.filesCreated).toBeGreaterThan(0);
    // Outside the final flush nothing spilled: the disk took new sectors instead.
    expect(summary.disk.sectorsSpilled).toBeLessThan(summary.disk.directSectors / 100);
    expect(summary.records.balanced).toBe(true);
    expect(summary.records.unaccounted).toBe(0);
    expect(summary.records.discarded).toBe(0);
    expect(summary.records.written).toBe(summary.records.uploaded + summary.records.stored);
    const records = uploadLogRecords(log);
    expect(records).toHaveLength(summary.records.uploaded);
    expect(logCheck(records)).toMatchObject({ duplicates: 0, outOfOrder: 0 });
    expect(seqStepMax(records)).toBe(1);
  });

  it("the same workload on the spill board spills and allocates nothing on disk directly", async () => {
    const { summary, log } = await runOn("esp32");
    expect(summary.disk.directSectors).toBe(0);
    expect(summary.disk.sectorsSpilled).toBeGreaterThan(0);
    expect(summary.records.balanced).toBe(true);
    expect(seqStepMax(uploadLogRecords(log))).toBe(1);
  });
});
