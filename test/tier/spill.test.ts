// Spill: once RAM usage reaches the board's spill threshold, processMemory moves the oldest
// non-pending sectors of each stream into `.imx` files, many sectors per file, a bounded amount per
// tick, and only while the disk tier has room (or, under evict-oldest, can make it by deleting its
// oldest files); when the disk tier cannot take data at all RAM discards its oldest data and counts
// it, and under refuse-new a write into full RAM is refused. Shown on `tiny` (edge cases within a few dozen writes) and `fc1-imx6` (the
// default gateway, 100 ms ticks): files are counted in a real temporary directory with
// fs.readdirSync, records are read back across both tiers and compared with what was written, and
// the per-tick bounds are checked as stats deltas around every single processMemory call.

import fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Board, loadBoard, withOverrides } from "../../host/boards.js";
import { Device, type UploadRecord } from "../../host/core/device.js";
import { CoreError } from "../../host/core/errors.js";
import { MemoryHal } from "../../host/hal/memory.js";
import {
  flushToDisk,
  imxFilesUnder,
  readAll,
  SAMPLE_RATE_MS,
  sectorsAtThreshold,
  storageDirMake,
  storageDirRemove,
  TickClock,
  tsdPerSector,
  tsdWrite,
  UTC_BASE_MS,
  valueOf,
} from "../support/tier-helpers.js";
import { flushDrain } from "../../host/core/flush.js";

const BOARDS = ["tiny", "fc1-imx6"] as const;

/** The tier of each record, with runs collapsed: ["disk", "ram"] means all disk records come first. */
function tierRuns(records: UploadRecord[]): string[] {
  const runs: string[] = [];
  for (const record of records) if (runs[runs.length - 1] !== record.tier) runs.push(record.tier);
  return runs;
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (e) {
    if (e instanceof CoreError) return e.codeName;
    throw e;
  }
  return undefined;
}

describe.each(BOARDS)("spill on %s", (boardName) => {
  const board: Board = loadBoard(boardName);
  const perSector = tsdPerSector(board);
  const thresholdRecords = sectorsAtThreshold(board) * perSector;
  let dir: string;

  beforeEach(() => {
    dir = storageDirMake();
  });
  afterEach(() => storageDirRemove(dir));

  it("moves the oldest sectors to .imx files, many sectors per file, until usage is below the threshold", () => {
    const device = Device.create({ board, storageDir: dir });
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    tsdWrite(device, 1, 10, 0, thresholdRecords);
    expect(device.stats().usagePercent).toBeGreaterThanOrEqual(board.tier.spillThresholdPercent);
    expect(imxFilesUnder(dir)).toEqual([]); // writing alone never spills

    const clock = new TickClock(board);
    clock.tickUntil(device, () => device.stats().filesCreated > 0 && device.tierState === "idle", 50);

    const stats = device.stats();
    expect(stats.usagePercent).toBeLessThan(board.tier.spillThresholdPercent);
    expect(stats.sectorsSpilled / stats.filesCreated).toBeGreaterThan(1);
    expect(imxFilesUnder(dir)).toHaveLength(stats.filesCreated);
    expect(stats.filesLive).toBe(stats.filesCreated);
    const counts = device.counts(1, 10);
    expect(counts.diskFiles).toBe(stats.filesCreated);
    expect(counts.disk).toBe(stats.sectorsSpilled * perSector);
    expect(counts.disk + counts.ram).toBe(thresholdRecords);
    expect(stats.recordsDiscarded).toBe(0);

    // The oldest records are the ones that moved: sequence numbers 0 … disk−1 come from disk.
    const records = readAll(device, 1, 10);
    expect(records.filter((r) => r.tier === "disk").map((r) => r.seq)).toEqual(
      Array.from({ length: counts.disk }, (_, i) => i),
    );
  });

  it("keeps order and content across the tiers: disk records first, then RAM, every value as written", () => {
    const device = Device.create({ board, storageDir: dir });
    device.configureStream(2, 20, { type: "tsd", dataType: "float32", sampleRateMs: 500 });
    device.configureStream(3, 30, { type: "evt", dataType: "int32" });
    const floatOf = (seq: number): number => seq * 1.37 - 500.25;
    const intOf = (seq: number): number => -(seq * 7919) | 0;
    const evtUtcOf = (seq: number): number => UTC_BASE_MS + seq * 37 + (seq % 5);
    let written = 0;
    while (device.countRamSectorsWithData() < sectorsAtThreshold(board)) {
      device.writeTsd(2, 20, floatOf(written), UTC_BASE_MS + written * 500);
      device.writeEvt(3, 30, intOf(written), evtUtcOf(written));
      written++;
    }
    const clock = new TickClock(board);
    clock.tickUntil(device, () => device.stats().filesCreated > 0 && device.tierState === "idle", 50);
    expect(device.counts(2, 20).disk).toBeGreaterThan(0);
    expect(device.counts(3, 30).disk).toBeGreaterThan(0);
    expect(device.stats().recordsDiscarded).toBe(0);

    const tsd = readAll(device, 2, 20);
    const evt = readAll(device, 3, 30);
    expect(tierRuns(tsd)).toEqual(["disk", "ram"]);
    expect(tierRuns(evt)).toEqual(["disk", "ram"]);
    expect(tsd.map((r) => r.seq)).toEqual(Array.from({ length: written }, (_, i) => i));
    expect(evt.map((r) => r.seq)).toEqual(Array.from({ length: written }, (_, i) => i));
    tsd.forEach((r) => {
      expect(r.value).toBe(Math.fround(floatOf(r.seq)));
      expect(r.utcMs).toBe(UTC_BASE_MS + r.seq * 500);
    });
    evt.forEach((r) => {
      expect(r.value).toBe(intOf(r.seq));
      expect(r.utcMs).toBe(evtUtcOf(r.seq));
    });
    device.ack(2, 20, tsd.length);
    device.ack(3, 30, evt.length);
    expect(device.counts(2, 20).total).toBe(0);
    expect(device.counts(3, 30).total).toBe(0);
  });

  it("does not spill a stream whose oldest sector holds pending records", () => {
    const device = Device.create({ board, storageDir: dir });
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    tsdWrite(device, 1, 10, 0, thresholdRecords);
    expect(device.readBulk(1, 10, 1).map((r) => r.seq)).toEqual([0]);
    const clock = new TickClock(board);
    for (let i = 0; i < 5; i++) clock.tick(device);
    expect(device.stats().filesCreated).toBe(0);
    expect(imxFilesUnder(dir)).toEqual([]);
    expect(device.counts(1, 10).disk).toBe(0);
    expect(device.stats().usagePercent).toBeGreaterThanOrEqual(board.tier.spillThresholdPercent);

    // Once the pending record is acknowledged the oldest sector is no longer pending: it spills.
    device.ack(1, 10, 1);
    clock.tickUntil(device, () => device.stats().filesCreated > 0, 5);
    expect(imxFilesUnder(dir)).toHaveLength(device.stats().filesCreated);
    expect(device.counts(1, 10).total).toBe(thresholdRecords - 1);
  });

  it("spills the other streams while one stream's oldest sector is pending", () => {
    const device = Device.create({ board, storageDir: dir });
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    device.configureStream(1, 11, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    let seq = 0;
    while (device.countRamSectorsWithData() < sectorsAtThreshold(board)) {
      tsdWrite(device, 1, 10, seq, 1);
      tsdWrite(device, 1, 11, seq, 1);
      seq++;
    }
    device.readBulk(1, 10, 2);
    const clock = new TickClock(board);
    clock.tickUntil(device, () => device.stats().filesCreated > 0 && device.tierState === "idle", 50);
    expect(device.counts(1, 10).diskFiles).toBe(0);
    expect(device.counts(1, 11).diskFiles).toBeGreaterThan(0);
    expect(device.counts(1, 10).pending).toBe(2);
  });

  it("never creates more than filesWrittenPerTickMax files nor moves more than spillSectorsPerTickMax sectors in one call", () => {
    const device = Device.create({ board, hal: new MemoryHal() });
    const streams = [10, 11, 12, 13];
    for (const sensor of streams) device.configureStream(1, sensor, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const fill = Math.floor(board.memory.sectorCount * 0.95);
    let seq = 0;
    while (device.countRamSectorsWithData() < fill) {
      for (const sensor of streams) tsdWrite(device, 1, sensor, seq, 1);
      seq++;
    }
    const { filesWrittenPerTickMax, spillSectorsPerTickMax } = board.tier;
    const clock = new TickClock(board);
    let ticks = 0;
    let filesPerTickMax = 0;
    let sectorsPerTickMax = 0;
    const tickChecked = (): void => {
      const before = device.stats();
      clock.tick(device);
      ticks++;
      const after = device.stats();
      const files = after.filesCreated - before.filesCreated;
      const sectors = after.sectorsSpilled - before.sectorsSpilled;
      expect(files, `files created in tick ${ticks}`).toBeLessThanOrEqual(filesWrittenPerTickMax);
      expect(sectors, `sectors moved in tick ${ticks}`).toBeLessThanOrEqual(spillSectorsPerTickMax);
      filesPerTickMax = Math.max(filesPerTickMax, files);
      sectorsPerTickMax = Math.max(sectorsPerTickMax, sectors);
    };
    // The threshold spill, then a flush of everything that is left (tails and all).
    for (let i = 0; i < 10; i++) tickChecked();
    expect(device.stats().usagePercent).toBeLessThan(board.tier.spillThresholdPercent);
    device.flushAllToDisk();
    expect(flushDrain(device, tickChecked, 200)).toBeGreaterThanOrEqual(0);
    expect(device.stats().sectorsUsed).toBe(0);
    // The work needed several ticks, so the bounds were what limited it.
    const stats = device.stats();
    expect(stats.sectorsSpilled).toBeGreaterThan(spillSectorsPerTickMax);
    expect(stats.filesCreated).toBeGreaterThan(filesWrittenPerTickMax);
    expect(filesPerTickMax === filesWrittenPerTickMax || sectorsPerTickMax === spillSectorsPerTickMax).toBe(true);
  });

  it("never writes more than bytesWrittenPerTickMax bytes in one call, and cuts files to fit", () => {
    // A byte budget of a header and a few sectors, and a file count that would allow far more.
    const sectorsInBudget = boardName === "tiny" ? 2 : 100;
    const bytesBudget = 64 + sectorsInBudget * board.memory.sectorBytes;
    const budgeted: Board = {
      ...board,
      tier: { ...board.tier, bytesWrittenPerTickMax: bytesBudget, filesWrittenPerTickMax: 8 },
    };
    const hal = new MemoryHal();
    const device = Device.create({ board: budgeted, hal });
    const streams = [10, 11, 12, 13];
    for (const sensor of streams) device.configureStream(1, sensor, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const fill = Math.floor(board.memory.sectorCount * 0.95);
    let seq = 0;
    while (device.countRamSectorsWithData() < fill) {
      for (const sensor of streams) tsdWrite(device, 1, sensor, seq, 1);
      seq++;
    }
    const clock = new TickClock(budgeted);
    let ticks = 0;
    let bytesPerTickMax = 0;
    const tickChecked = (): void => {
      const before = hal.stats();
      clock.tick(device);
      ticks++;
      const after = hal.stats();
      const bytes = after.bytesWritten - before.bytesWritten;
      // A flush's closing records larger than the whole budget (a record per stream) go alone.
      if (after.calls.writeFile === before.calls.writeFile) return;
      expect(bytes, `bytes written in tick ${ticks}`).toBeLessThanOrEqual(bytesBudget);
      bytesPerTickMax = Math.max(bytesPerTickMax, bytes);
    };
    for (let i = 0; i < 10; i++) tickChecked();
    device.flushAllToDisk();
    expect(flushDrain(device, tickChecked, 2000)).toBeGreaterThanOrEqual(0);
    expect(device.stats().sectorsUsed).toBe(0);
    // The budget is what limited the ticks: some tick wrote a file cut to exactly what fits.
    expect(bytesPerTickMax).toBeGreaterThan(bytesBudget / 2);
    expect(device.stats().sectorsSpilled).toBeGreaterThan(sectorsInBudget);
    // Every record comes back, in order, across the files the budget cut (tiny's 2 KiB disk tier
    // evicts its oldest files on the way, so there only the count of files is judged).
    if (boardName === "tiny") return;
    for (const sensor of streams) {
      const values = readAll(device, 1, sensor).map((record) => record.value);
      expect(values, `stream ${sensor}`).toEqual(Array.from({ length: seq }, (_, i) => valueOf(i)));
    }
  });

  // The original test's --disk-usage cases: at 50% and 79% of the quota a spill goes ahead, at 81%
  // and 95% it is refused. On tiny the 2 KiB quota is so small that at 79% one full 192-byte file
  // would itself cross the 80% threshold, so there the spill is refused at 79% too.
  const allowed = boardName === "tiny" ? [50] : [50, 79];
  const refused = boardName === "tiny" ? [79, 81, 95] : [81, 95];

  it.each(allowed)("spills with the disk tier at %i percent of its quota", (percent) => {
    const device = Device.create({ board, storageDir: dir });
    device.setDiskUsagePercent(percent);
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    tsdWrite(device, 1, 10, 0, thresholdRecords);
    new TickClock(board).tick(device);
    expect(device.stats().spillsRefused).toBe(0);
    expect(device.stats().filesCreated).toBeGreaterThan(0);
    expect(imxFilesUnder(dir)).toHaveLength(device.stats().filesCreated);
  });

  it.each(refused)(
    "refuses to spill with the disk tier at %i percent of its quota and discards the oldest RAM data, counted",
    (percent) => {
      const device = Device.create({ board, storageDir: dir });
      device.setDiskUsagePercent(percent);
      device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
      tsdWrite(device, 1, 10, 0, thresholdRecords);
      const clock = new TickClock(board);
      let refusals = 0;
      for (let i = 0; i < 3; i++) {
        clock.tick(device);
        expect(device.stats().spillsRefused).toBeGreaterThan(refusals);
        refusals = device.stats().spillsRefused;
      }
      expect(device.stats().filesCreated).toBe(0);
      expect(imxFilesUnder(dir)).toEqual([]);

      // RAM keeps taking writes by dropping its oldest sectors, and says how many records it dropped.
      const written = board.memory.sectorCount * perSector * 2;
      tsdWrite(device, 1, 10, thresholdRecords, written - thresholdRecords);
      clock.tick(device);
      const stats = device.stats();
      expect(stats.filesCreated).toBe(0);
      expect(stats.sectorsDiscarded).toBeGreaterThan(0);
      expect(stats.recordsDiscarded).toBe(stats.sectorsDiscarded * perSector);
      const counts = device.counts(1, 10);
      expect(counts.total + stats.recordsDiscarded).toBe(written);
      const records = readAll(device, 1, 10);
      expect(records.map((r) => r.seq)).toEqual(
        Array.from({ length: counts.total }, (_, i) => stats.recordsDiscarded + i),
      );
      records.forEach((r) => expect(r.value).toBe(valueOf(r.seq)));
      expect(imxFilesUnder(dir)).toEqual([]);
    },
  );
});

describe("file table", () => {
  // One-sector files (96 B each) fill tiny's 16 slots long before the 2 KiB quota.
  function fullTable(board: Board): { device: Device; clock: TickClock; seq: number } {
    const filesMax = board.disk?.filesMax ?? 0;
    const device = Device.create({ board, hal: new MemoryHal() });
    for (const sensor of [10, 11, 12, 13])
      device.configureStream(1, sensor, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const clock = new TickClock(board);
    const perSector = tsdPerSector(board);
    let seq = 0;
    while (device.stats().filesLive < filesMax) {
      for (const sensor of [10, 11, 12, 13]) tsdWrite(device, 1, sensor, seq, perSector);
      seq += perSector;
      flushToDisk(device, clock, 20);
    }
    expect(device.stats().filesLive).toBe(filesMax);
    expect(device.stats().diskBytesUsed).toBeLessThan((board.disk?.quotaBytes ?? 0) * 0.8);
    return { device, clock, seq };
  }

  it("on tiny under refuse-new, a full file table refuses the spill, counted, and a write into full RAM is refused with E_DISK_FULL, counted", () => {
    const board = withOverrides(loadBoard("tiny"), { diskFullPolicy: "refuse-new" });
    const filesMax = board.disk?.filesMax ?? 0;
    const perSector = tsdPerSector(board);
    const { device, clock, seq } = fullTable(board);
    tsdWrite(device, 1, 10, seq, sectorsAtThreshold(board) * perSector);
    const refusedBefore = device.stats().spillsRefused;
    clock.tick(device);
    clock.tick(device);
    expect(device.stats().spillsRefused).toBeGreaterThan(refusedBefore);
    expect(device.stats().filesCreated).toBe(filesMax);
    // Fill RAM to the last record, then one more write: refused, nothing discarded, nothing changed.
    let next = seq + sectorsAtThreshold(board) * perSector;
    while (device.stats().sectorsFree > 0 || device.counts(1, 10).ram % perSector !== 0) {
      tsdWrite(device, 1, 10, next, 1);
      next++;
    }
    const before = device.counts(1, 10);
    expect(codeOf(() => tsdWrite(device, 1, 10, next, 1))).toBe("E_DISK_FULL");
    expect(device.counts(1, 10)).toEqual(before);
    expect(device.stats().recordsRefused).toBe(1);
    expect(device.stats().recordsDiscarded).toBe(0);
    expect(device.stats().filesCreated).toBe(filesMax);
  });

  it("on tiny under evict-oldest (the default), a full file table gives up the oldest file, counted, and the spill goes ahead", () => {
    const board = loadBoard("tiny");
    expect(board.tier.diskFullPolicy).toBe("evict-oldest");
    const filesMax = board.disk?.filesMax ?? 0;
    const perSector = tsdPerSector(board);
    const { device, clock, seq } = fullTable(board);
    expect(device.peek(1, 10, 1)[0]?.seq).toBe(0);
    tsdWrite(device, 1, 10, seq, sectorsAtThreshold(board) * perSector);
    clock.tick(device);
    const stats = device.stats();
    expect(stats.filesCreated).toBeGreaterThan(filesMax);
    expect(stats.filesDiscarded).toBeGreaterThan(0);
    expect(stats.filesLive).toBeLessThanOrEqual(filesMax);
    // The files given up were the oldest ones: one sector of each stream per round, oldest round first.
    expect(stats.recordsDiscarded).toBe(stats.filesDiscarded * perSector);
    expect(stats.recordsDiscardedFiles).toBe(stats.recordsDiscarded);
    const discarded = [10, 11, 12, 13].map((sensor) => device.counts(1, sensor).discarded);
    expect(discarded.reduce((a, b) => a + b, 0)).toBe(stats.recordsDiscarded);
    const records = readAll(device, 1, 10);
    const firstKept = records[0]?.seq ?? -1;
    expect(firstKept).toBe(device.counts(1, 10).discarded);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: records.length }, (_, i) => firstKept + i));
  });
});

describe("tick interval", () => {
  it("on fc1-imx6 (100 ms), calls closer than the interval to the last tick that ran do no work", () => {
    const board = loadBoard("fc1-imx6");
    expect(board.tier.tickIntervalMs).toBe(100);
    const device = Device.create({ board, hal: new MemoryHal() });
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    device.processMemory(1000);
    expect(device.stats().ticks).toBe(1);
    tsdWrite(device, 1, 10, 0, sectorsAtThreshold(board) * tsdPerSector(board));

    for (const nowMs of [1000, 1001, 1050, 1099, 1099.9]) {
      device.processMemory(nowMs);
      expect(device.stats().ticks, `processMemory(${nowMs})`).toBe(1);
      expect(device.stats().filesCreated, `processMemory(${nowMs})`).toBe(0);
    }
    device.processMemory(1100);
    expect(device.stats().ticks).toBe(2);
    expect(device.stats().filesCreated).toBe(1);
    device.processMemory(1150);
    expect(device.stats().ticks).toBe(2);
    expect(device.stats().filesCreated).toBe(1);
    device.processMemory(1200);
    expect(device.stats().ticks).toBe(3);
    expect(device.stats().filesCreated).toBe(2);
  });

  it("a clock that went backwards starts a new interval", () => {
    const board = loadBoard("fc1-imx6");
    const device = Device.create({ board, hal: new MemoryHal() });
    device.processMemory(5000);
    device.processMemory(4000);
    expect(device.stats().ticks).toBe(2);
    device.processMemory(4050);
    expect(device.stats().ticks).toBe(2);
    device.processMemory(4100);
    expect(device.stats().ticks).toBe(3);
  });

  it("on tiny (0 ms), every call does work, even at the same time", () => {
    const board = loadBoard("tiny");
    const device = Device.create({ board, hal: new MemoryHal() });
    for (let i = 1; i <= 5; i++) {
      device.processMemory(1000);
      expect(device.stats().ticks).toBe(i);
    }
  });
});

describe.each(["nrf52840", "rp2040", "stm32f405-wiced"])("RAM-only board %s", (boardName) => {
  const board = loadBoard(boardName);
  let dir: string;
  beforeEach(() => {
    dir = storageDirMake();
  });
  afterEach(() => storageDirRemove(dir));

  it("keeps working when RAM is full: creates no files and discards the oldest records, counted", () => {
    expect(board.disk).toBeNull();
    const device = Device.create({ board, storageDir: dir });
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const perSector = tsdPerSector(board);
    const written = board.memory.sectorCount * perSector * 3;
    const clock = new TickClock(board);
    for (let seq = 0; seq < written; seq += perSector * 8) {
      tsdWrite(device, 1, 10, seq, Math.min(perSector * 8, written - seq));
      clock.tick(device);
    }
    const stats = device.stats();
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(stats.filesCreated).toBe(0);
    expect(stats.spills).toBe(0);
    expect(stats.recordsDiscarded).toBeGreaterThan(0);
    const counts = device.counts(1, 10);
    expect(counts.disk).toBe(0);
    expect(counts.total + stats.recordsDiscarded).toBe(written);
    const records = readAll(device, 1, 10);
    expect(records.map((r) => r.seq)).toEqual(
      Array.from({ length: counts.total }, (_, i) => stats.recordsDiscarded + i),
    );
    records.forEach((r) => expect(r.value).toBe(valueOf(r.seq)));
    expect(codeOf(() => device.flushAllToDisk())).toBe("E_NO_DISK_TIER");
    expect(codeOf(() => device.setDiskUsagePercent(50))).toBe("E_NO_DISK_TIER");
  });
});
