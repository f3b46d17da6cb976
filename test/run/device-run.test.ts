// The device engine of `imx-memsim run` in process, on the default board (fc1-imx6) and real
// files: days of simulated time with a 6-hour outage each day spill RAM to `.imx` files and upload
// them afterwards; every record written is uploaded, stored or discarded (the summary adds up);
// the upload log never holds a record twice and each stream's seqs in it only grow — also across
// a graceful stop, a kill (the next life is numbered above what the cloud has), and a kill
// between the log's fsync and the ACK (the record comes again and is recognised, not appended).

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { recordsPerSector } from "../../host/format/imx.js";
import { devicePreflight, type RunSettings } from "../../host/run/device-preflight.js";
import type { DeviceSummary } from "../../host/run/device-report.js";
import { DeviceRun } from "../../host/run/device-run.js";
import { drive } from "../../host/run/drive.js";
import { outageSpecParse, type OutageSpec } from "../../host/run/outage-schedule.js";
import { imxRecords, logCheck, recordId, runSettings, seqStepMax, uploadLogRecords } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "imx-memsim-run-device-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const H = 3_600_000;
const D = 24 * H;
const board = loadBoard("fc1-imx6");

const settings = (name: string, overrides: Partial<RunSettings> = {}): RunSettings =>
  runSettings(root, name, overrides);

const outage = (text: string): OutageSpec[] => [outageSpecParse(text)].filter((x): x is OutageSpec => x !== null);

async function life(
  s: RunSettings,
  until?: (run: DeviceRun) => boolean,
): Promise<{ run: DeviceRun; summary: DeviceSummary }> {
  const run = DeviceRun.start(s, devicePreflight(s));
  await drive([run], {
    speed: "max",
    stopRequested: () => (until ? until(run) : false),
    statusEveryMs: Infinity,
    onStatus: () => undefined,
  });
  await run.stop();
  return { run, summary: run.summary() };
}

function expectBalanced(summary: DeviceSummary): void {
  const r = summary.records;
  expect(r.storedAtStart + r.written).toBe(r.uploaded + r.stored + r.discarded);
  expect(r.unaccounted).toBe(0);
  expect(r.balanced).toBe(true);
  expect(summary.uplink.redeliveryMismatches).toBe(0);
}

describe("a device over simulated days", () => {
  it("spills through a 6-hour outage each day, uploads it afterwards, and every record ends up in the log once", async () => {
    const first = await life(settings("days", { durationMs: 2 * D, outages: outage("6h every 1d at 6h") }));
    const s = first.summary;
    expectBalanced(s);
    expect(s.uplink.outagesSeen).toBe(2);
    expect(s.ram.sectorsUsedPeak).toBeGreaterThanOrEqual(
      Math.floor((board.memory.sectorCount * board.tier.spillThresholdPercent) / 100),
    );
    expect(s.disk.filesCreated).toBeGreaterThan(10);
    expect(s.disk.filesDeleted).toBeGreaterThan(10);
    expect(s.records.discarded).toBe(0);
    expect(s.stop.flushComplete).toBe(true);
    expect(s.records.redelivered).toBe(0);

    // The next life drains what is stored: then the log holds every record written, once.
    const second = await life(settings("days", { durationMs: 2 * D + H, drain: true }));
    expectBalanced(second.summary);
    expect(second.summary.resumed).toBe(true);
    expect(second.summary.records.storedAtStart).toBe(s.records.stored);
    expect(second.summary.stop.reason).toBe("drained");
    expect(second.summary.records.stored).toBe(0);
    const log = uploadLogRecords(settings("days").uploadLogPath ?? "");
    const check = logCheck(log);
    expect(check.duplicates).toBe(0);
    expect(check.outOfOrder).toBe(0);
    expect(log).toHaveLength(s.records.written + second.summary.records.written);
    // The second life's clock starts right after the first stopped.
    expect(Date.parse(second.summary.simulated.lifeStartUtc)).toBe(Date.parse(s.simulated.endUtc) + 1);
  });

  it("reverts lost and late answers and still delivers everything once", async () => {
    const s = settings("lossy", {
      durationMs: 12 * H,
      tracePath: join(root, "lossy.trace.ndjson"),
      drain: true,
      outages: outage("2h every 4h"),
      uplink: {
        packetRecords: 64,
        everyMs: 30_000,
        latencyMinMs: 100,
        latencyMaxMs: 40_000,
        timeoutMs: 30_000,
        ackLossPpm: 200_000,
      },
    });
    const { summary } = await life(s);
    expectBalanced(summary);
    expect(summary.uplink.packetsLost).toBeGreaterThan(0);
    expect(summary.uplink.recordsReverted).toBeGreaterThan(0);
    expect(summary.records.stored).toBe(0);
    const log = uploadLogRecords(s.uploadLogPath ?? "");
    expect(logCheck(log)).toMatchObject({ duplicates: 0, outOfOrder: 0 });
    expect(log).toHaveLength(summary.records.written);
    // One trace line a simulated minute, the link going down every 4 hours.
    const trace = readFileSync(join(root, "lossy.trace.ndjson"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(trace.length).toBeGreaterThanOrEqual(12 * 60);
    expect(trace.filter((t) => t["linkUp"] === false).length).toBeGreaterThanOrEqual(6 * 60 - 3);
    expect(Object.keys(trace[0] ?? {})).toEqual(
      expect.arrayContaining([
        "simMs",
        "usagePercent",
        "state",
        "filesLive",
        "backlog",
        "written",
        "uploaded",
        "discarded",
      ]),
    );
  });
});

describe("--speed", () => {
  it("never lets simulated time run ahead of speed × real time", async () => {
    const s = settings("paced", { uploadLogPath: null });
    const run = DeviceRun.start(s, devicePreflight(s));
    const started = performance.now();
    await drive([run], {
      speed: 3600,
      stopRequested: () => performance.now() - started > 300,
      statusEveryMs: Infinity,
      onStatus: () => undefined,
    });
    const realMs = performance.now() - started;
    await run.stop();
    const simMs = run.summary().simulated.lifeMs - run.summary().stop.flushTicks * run.tickMs;
    expect(simMs).toBeGreaterThan(0);
    expect(simMs).toBeLessThanOrEqual(3600 * realMs + run.tickMs);
  });
});

describe("a kill", () => {
  it("loses RAM, and the next life numbers its records above what the cloud already has", async () => {
    const s = settings("killed", { durationMs: 12 * H });
    // Life 1 dies at +3h30m without a graceful stop: nothing flushed, the positions file never written.
    const run = DeviceRun.start(s, devicePreflight(s));
    await drive([run], {
      speed: "max",
      stopRequested: () => run.nowMs >= Date.UTC(2025, 0, 10) + 3.5 * H,
      statusEveryMs: Infinity,
      onStatus: () => undefined,
    });
    const uploadedBeforeKill = run.summary().records.uploaded;
    const lastCheckpointMs = run.lifeStartMs + Math.floor((run.nowMs - run.lifeStartMs) / H) * H;
    expect(uploadedBeforeKill).toBeGreaterThan(1000);

    const second = await life({ ...s, drain: true });
    expectBalanced(second.summary);
    // Resumed one checkpoint interval after the last checkpoint, as if the device had been off till then.
    expect(Date.parse(second.summary.simulated.lifeStartUtc)).toBe(lastCheckpointMs + H + 1);
    const log = uploadLogRecords(s.uploadLogPath ?? "");
    expect(logCheck(log)).toMatchObject({ duplicates: 0, outOfOrder: 0 });
    expect(log).toHaveLength(uploadedBeforeKill + second.summary.records.uploaded);
    // The device resumed its numbering above every number it handed out before the kill, so the
    // log's numbering only grows without any remapping; the numbers skipped are at most what RAM
    // could hold of one stream.
    const ramStreamMax = board.memory.sectorCount * recordsPerSector("tsd", board.memory.sectorBytes);
    expect(seqStepMax(log) - 1).toBeLessThanOrEqual(ramStreamMax);
    expect(second.summary.recovery?.recordsLostRam).toBe(0);
    expect(second.summary.recovery?.recordsLostRamMax).toBeGreaterThan(0);
  });

  it("between the log's fsync and the ACK: the records come again, are acknowledged and not appended twice", async () => {
    const s = settings("redelivered", { durationMs: 12 * H, outages: outage("4h at 1h") });
    const run = DeviceRun.start(s, devicePreflight(s));
    const device = run.device;
    const ackMany = device.ackMany.bind(device);
    class Killed extends Error {}
    // Dies in the first ACK of records read from disk (the uploader's one ackMany per cycle), after
    // the log has them.
    device.ackMany = (entries) => {
      if (entries.some((e) => device.counts(e.source, e.sensor).disk > 0)) throw new Killed("killed");
      ackMany(entries);
    };
    await expect(
      drive([run], { speed: "max", stopRequested: () => false, statusEveryMs: Infinity, onStatus: () => undefined }),
    ).rejects.toThrow(Killed);
    const onDisk = new Set(imxRecords(s.storageDir).map(recordId));
    const loggedBefore = uploadLogRecords(s.uploadLogPath ?? "");
    const inBoth = loggedBefore.filter((r) => onDisk.has(recordId(r)));
    expect(inBoth.length).toBeGreaterThan(0);

    const second = await life({ ...s, drain: true });
    expectBalanced(second.summary);
    expect(second.summary.records.redelivered).toBeGreaterThanOrEqual(inBoth.length);
    expect(second.summary.uplink.redeliveryUnchecked).toBe(0);
    const log = uploadLogRecords(s.uploadLogPath ?? "");
    const check = logCheck(log);
    expect(check).toMatchObject({ duplicates: 0, outOfOrder: 0 });
    // Everything that had reached disk is in the log.
    for (const id of onDisk) expect(check.byId.get(id)).toBe(1);
  });
});
