// `imx-memsim run` on a full disk (issue 11's "done when"). Across the lives of a storage every
// record is accounted for exactly:
//
//   Σ records.written = lines of the upload log + Σ records.discarded + Σ records.lostWithRamAtLastKill
//
// (after a drain, with nothing left stored). A graceful stop whose flush the full disk stops
// flushes what the disk takes and counts what it could not: the records left in RAM are
// reported, recorded in the stop's run state, and the next life reports them as lost with RAM.
// And the scenario: a long outage fills a filesystem smaller than the board's quota; the
// device lives through it (exit 0, records discarded and counted, lock released, summary
// written); after the filesystem is enlarged a second life with --drain delivers the rest; and
// the records lost are the oldest (the default disk-full policy, evict-oldest): every gap in a
// stream's sequence numbers in the upload log starts at the outage (the record before it was
// taken no later than ten minutes after the outage began), never in the middle of the backlog.
//
// The cases run in process on the fault-injecting HAL (a small filesystem, FaultyHal
// capacityBytes, over the real storage directory: everywhere), and the scenario also through the
// CLI on a real 1 MiB tmpfs when the test runs as root (skipped with a printed reason otherwise).

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { FaultyHal } from "../../host/hal/faulty.js";
import type { HalErrorCode } from "../../host/hal/hal.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";
import { devicePreflight, type RunSettings } from "../../host/run/device-preflight.js";
import type { DeviceSummary } from "../../host/run/device-report.js";
import { DeviceRun } from "../../host/run/device-run.js";
import { drive } from "../../host/run/drive.js";
import { outageSpecParse } from "../../host/run/outage-schedule.js";
import { LOCK_FILE, RUN_STATE_FILE } from "../../host/run/storage.js";
import { workloadFromFlags } from "../../host/run/workload.js";
import { cli, logCheck, type LoggedRecord, runSettings, uploadLogRecords } from "./helpers.js";
import { Tmpfs, tmpfsAvailable } from "../support/tmpfs.js";

const root = mkdtempSync(join(tmpdir(), "imx-memsim-full-disk-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const MIN = 60_000;
const H = 60 * MIN;
const RUN_START_MS = Date.parse("2025-01-10T00:00:00Z");

// The scenario: four streams at a few records a second (so a filesystem of well under a MiB fills
// within hours, and the run takes seconds), an 8-hour outage from 2 h, 12 h in all.
const TSD = ["1:1s", "2:1s", "3:1s"];
const EVT = ["4:2/s"];
const OUTAGE = "8h at 2h";
const OUTAGE_START_MS = RUN_START_MS + 2 * H;
const DURATION = "12h";

function scenarioSettings(name: string, overrides: Partial<RunSettings> = {}): RunSettings {
  const outage = outageSpecParse(OUTAGE);
  return runSettings(root, name, {
    seed: 9,
    durationMs: 12 * H,
    workload: workloadFromFlags({ tsd: TSD, evt: EVT, replay: [] }),
    outages: outage === null ? [] : [outage],
    ...overrides,
  });
}

async function lifeRun(settings: RunSettings, hal: FaultyHal): Promise<DeviceSummary> {
  const run = DeviceRun.start(settings, devicePreflight(settings), { hal });
  try {
    await drive([run], {
      speed: "max",
      stopRequested: () => false,
      statusEveryMs: Infinity,
      onStatus: () => undefined,
    });
    await run.stop();
  } finally {
    run.release();
  }
  return run.summary();
}

interface Gap {
  stream: string;
  /** The last record before the gap, and the first after it. */
  before: LoggedRecord;
  after: LoggedRecord;
}

/** Every jump in a stream's sequence numbers in the log (the log's seqs only grow: checked apart). */
function seqGaps(records: readonly LoggedRecord[]): Gap[] {
  const last = new Map<string, LoggedRecord>();
  const gaps: Gap[] = [];
  for (const r of records) {
    const stream = `${r.source}/${r.sensor}`;
    const before = last.get(stream);
    if (before !== undefined && r.seq > before.seq + 1) gaps.push({ stream, before, after: r });
    last.set(stream, r);
  }
  return gaps;
}

/** The done-when checks over the two lives' summaries and the upload log. */
function livesCheck(s1: DeviceSummary, s2: DeviceSummary, logPath: string): void {
  const records = uploadLogRecords(logPath);
  const lives = [s1, s2];
  const sum = (f: (s: DeviceSummary) => number): number => lives.reduce((a, s) => a + f(s), 0);
  // Life 1 lived through the full disk and dropped records, counted.
  expect(s1.records.discarded).toBeGreaterThan(0);
  expect(s1.records.balanced).toBe(true);
  // Under evict-oldest the room came from deleting the oldest files, and those records are part of the discards.
  expect(s1.disk.filesEvicted).toBeGreaterThan(0);
  expect(s1.disk.recordsEvicted).toBeGreaterThan(0);
  expect(s1.disk.recordsEvicted).toBeLessThanOrEqual(s1.records.discarded);
  // Life 2 delivered the rest.
  expect(s2.stop.reason).toBe("drained");
  expect(s2.records.stored).toBe(0);
  expect(s2.records.balanced).toBe(true);
  // What life 1 left is what life 2 started with, or lost with RAM in between.
  expect(s2.records.storedAtStart + s2.records.lostWithRamAtLastKill).toBe(s1.records.stored);
  expect(s2.records.lostWithRamAtLastKill).toBe(s1.records.lostWithRamAtStop);
  // The cloud holds every record once, in order.
  expect(logCheck(records)).toMatchObject({ duplicates: 0, outOfOrder: 0 });
  // Nothing uncounted, across both lives.
  const accounted = {
    written: sum((s) => s.records.written),
    logLines: records.length,
    discarded: sum((s) => s.records.discarded),
    lostWithRam: sum((s) => s.records.lostWithRamAtLastKill),
  };
  expect(accounted.written).toBe(accounted.logLines + accounted.discarded + accounted.lostWithRam);
}

/** The oldest went first: every gap starts at the outage. */
function gapsCheck(logPath: string): void {
  const gaps = seqGaps(uploadLogRecords(logPath));
  expect(gaps.length).toBeGreaterThan(0);
  const late = gaps.filter((g) => g.before.utcMs > OUTAGE_START_MS + 10 * MIN);
  expect(
    late.map((g) => `${g.stream}: seq ${g.before.seq} (${new Date(g.before.utcMs).toISOString()}) → ${g.after.seq}`),
  ).toEqual([]);
}

describe("a graceful stop on a full disk", () => {
  it("flushes what the disk takes, counts what it could not, and the next life reports it as lost with RAM", async () => {
    // Every .imx and positions write fails with ENOSPC in the last hour and during the stop; the
    // run's own files still fit, so the stop's run state records what was left in RAM.
    let run: DeviceRun | null = null;
    const full = (): boolean => run !== null && run.nowMs - run.lifeStartMs >= 5 * H;
    const s = scenarioSettings("stopfull", { durationMs: 6 * H, outages: [] });
    const hal = new FaultyHal(new NodeFsHal(s.storageDir), {
      seed: 1,
      failWhen: (op, path): HalErrorCode | null =>
        full() && op === "writeFile" && path.startsWith("history/") ? "ENOSPC" : null,
    });
    run = DeviceRun.start(s, devicePreflight(s), { hal });
    await drive([run], {
      speed: "max",
      stopRequested: () => false,
      statusEveryMs: Infinity,
      onStatus: () => undefined,
    });
    // The stop reverts what is in the air; RAM holds the newest records, which the disk refuses.
    await run.stop();
    const s1 = run.summary();
    expect(s1.stop.flush).toBe("disk-full");
    expect(s1.stop.flushComplete).toBe(false);
    expect(s1.stop.ramRecordsLeft).toBeGreaterThan(0);
    expect(s1.records.lostWithRamAtStop).toBe(s1.stop.ramRecordsLeft);
    expect(s1.records.balanced).toBe(true);
    expect(existsSync(join(s.storageDir, LOCK_FILE))).toBe(false);
    const state = JSON.parse(readFileSync(join(s.storageDir, RUN_STATE_FILE), "utf8")) as {
      cleanStop: boolean;
      ramRecordsLostAtStop: number;
    };
    expect(state).toMatchObject({ cleanStop: true, ramRecordsLostAtStop: s1.stop.ramRecordsLeft });

    // The next life, with room: it starts without those records and says so.
    const s2 = await lifeRun(
      { ...s, drain: true, durationMs: 6 * H },
      new FaultyHal(new NodeFsHal(s.storageDir), { seed: 2 }),
    );
    expect(s2.records.lostWithRamAtLastKill).toBe(s1.stop.ramRecordsLeft);
    livesCheckWithoutDiscards(s1, s2, s.uploadLogPath ?? "");
  });

  it("with no disk tier: what RAM held at the stop is counted the same way", async () => {
    const s = scenarioSettings("ramonly", { board: loadBoard("rp2040"), durationMs: 2 * H, outages: [] });
    const s1 = await lifeRun(s, new FaultyHal(new NodeFsHal(s.storageDir), { seed: 1 }));
    expect(s1.stop.flush).toBe("no-disk-tier");
    expect(s1.stop.ramRecordsLeft).toBeGreaterThan(0);
    expect(s1.records.lostWithRamAtStop).toBe(s1.stop.ramRecordsLeft);
    const s2 = await lifeRun({ ...s, durationMs: 3 * H }, new FaultyHal(new NodeFsHal(s.storageDir), { seed: 2 }));
    expect(s2.records.lostWithRamAtLastKill).toBe(s1.stop.ramRecordsLeft);
    const lines = uploadLogRecords(s.uploadLogPath ?? "").length;
    expect(s1.records.written + s2.records.written).toBe(
      lines + s1.records.discarded + s2.records.discarded + s2.records.lostWithRamAtLastKill + s2.records.stored,
    );
  });

  it("a resumed life uploads on a full filesystem: its run state on disk already holds its offsets", async () => {
    const s = scenarioSettings("resumefull", { durationMs: 2 * H, outages: [] });
    await lifeRun(s, new FaultyHal(new NodeFsHal(s.storageDir), { seed: 1 }));
    // Every write of the run state is refused in the second life: the uploads go on regardless.
    const refused = new FaultyHal(new NodeFsHal(s.storageDir), {
      seed: 2,
      failWhen: (op, path): HalErrorCode | null =>
        op === "writeFile" && path.startsWith(RUN_STATE_FILE) ? "ENOSPC" : null,
    });
    const s2 = await lifeRun({ ...s, durationMs: 4 * H }, refused);
    expect(s2.hostFiles.checkpoints).toBe(s2.hostFiles.checkpointFailures);
    expect(s2.hostFiles.checkpointFailures).toBeGreaterThan(60);
    expect(s2.records.written).toBeGreaterThan(0);
    expect(s2.records.uploaded).toBeGreaterThan(s2.records.written / 2);
    expect(logCheck(uploadLogRecords(s.uploadLogPath ?? ""))).toMatchObject({ duplicates: 0, outOfOrder: 0 });
  });
});

/** The accounting of two lives when nothing was discarded (the stop's losses only). */
function livesCheckWithoutDiscards(s1: DeviceSummary, s2: DeviceSummary, logPath: string): void {
  const records = uploadLogRecords(logPath);
  expect(s2.stop.reason).toBe("drained");
  expect(s2.records.stored).toBe(0);
  expect(s2.records.storedAtStart + s2.records.lostWithRamAtLastKill).toBe(s1.records.stored);
  expect(logCheck(records)).toMatchObject({ duplicates: 0, outOfOrder: 0 });
  expect(s1.records.written + s2.records.written).toBe(
    records.length + s1.records.discarded + s2.records.discarded + s2.records.lostWithRamAtLastKill,
  );
}

describe("an outage longer than the filesystem holds (the issue's done-when scenario)", () => {
  it("on the fault-injecting HAL's small filesystem: survived, the oldest dropped, enlarged and drained, every record accounted for", async () => {
    const s = scenarioSettings("halsmall");
    // 160 KiB of files: the outage's backlog does not fit (the quota, 256 MiB, is no limit here).
    const small = new FaultyHal(new NodeFsHal(s.storageDir), { seed: 1, capacityBytes: 160 * 1024 });
    const s1 = await lifeRun(s, small);
    expect(s1.stop.flush === "flushed" || s1.stop.flush === "disk-full").toBe(true);
    expect(existsSync(join(s.storageDir, LOCK_FILE))).toBe(false);
    // Enlarged: the same filesystem with room, and --drain.
    const large = new FaultyHal(new NodeFsHal(s.storageDir), { seed: 2, capacityBytes: 4 * 1024 * 1024 });
    const s2 = await lifeRun({ ...s, drain: true }, large);
    livesCheck(s1, s2, s.uploadLogPath ?? "");
    gapsCheck(s.uploadLogPath ?? "");
  }, 120_000);

  describe.skipIf(!tmpfsAvailable("full-disk: the real 1 MiB filesystem case"))("on a real 1 MiB tmpfs (root)", () => {
    const mount = join(root, "M");
    const tmpfs = new Tmpfs(mount);
    afterAll(() => {
      tmpfs.unmount();
    });

    it("run exits 0 with records discarded, the oldest first; enlarged, --drain delivers the rest; every record accounted for", async () => {
      tmpfs.mount("1m");
      const storage = join(mount, "st");
      const log = join(root, "up.ndjson");
      const args = (json: string, drain: boolean): string[] => [
        "run",
        "--storage",
        storage,
        "--upload-log",
        log,
        "--duration",
        DURATION,
        "--speed",
        "max",
        "--outage",
        OUTAGE,
        "--seed",
        "9",
        ...TSD.flatMap((t) => ["--tsd", t]),
        ...EVT.flatMap((e) => ["--evt", e]),
        "--quiet",
        "--json",
        json,
        ...(drain ? ["--drain"] : []),
      ];
      const first = await cli(args(join(root, "s1.json"), false), { timeoutMs: 240_000 });
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      expect(existsSync(join(storage, LOCK_FILE))).toBe(false);
      tmpfs.resize("4m");
      const second = await cli(args(join(root, "s2.json"), true), { timeoutMs: 240_000 });
      expect(second.stderr).toBe("");
      expect(second.code).toBe(0);
      const read = (name: string): DeviceSummary => JSON.parse(readFileSync(join(root, name), "utf8")) as DeviceSummary;
      livesCheck(read("s1.json"), read("s2.json"), log);
      gapsCheck(log);
    }, 300_000);
  });
});
