// Cleanup, the seed's subject: once every record in a `.imx` file has been read and acknowledged,
// the physical file is deleted, by the policy in force — immediate (inside the ACK call), batched
// (by processMemory, at most filesDeletedPerTickMax per tick) or lazy (queued by the ACK, started
// off the main loop by processMemory with at most tier.deletesInFlightMax in flight, done when
// device.settle() resolves). Every case runs on a fresh temporary directory on the real filesystem
// and counts the files there with fs.readdirSync, not only through the device. It also shows the
// cleanup-complete flag, getCleanupProgress(), getPendingDiskWriteCount() covering all pending work,
// that a partly acknowledged file stays, forceCleanupAllDiskFiles() (strays included), the seed's
// iteration loop with ensureCleanupComplete(), batched deletions keeping pace with a spill that
// spends its budget every tick, and flushAllToDisk() reaching progress 101 with every record
// still readable, or being cancelled.

import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CleanupPolicy, loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { ensureCleanupComplete } from "../../host/core/ensure-cleanup.js";
import { FLUSH_PROGRESS_COMPLETE } from "../../host/core/flush.js";
import { HalWrapper } from "../../host/hal/hal-wrapper.js";
import { MemoryHal } from "../../host/hal/memory.js";
import {
  flushToDisk,
  imxFilesUnder,
  readAll,
  SAMPLE_RATE_MS,
  spillFiles,
  storageDirMake,
  storageDirRemove,
  TickClock,
  tsdPerSector,
  tsdWrite,
  uploadAll,
  UTC_BASE_MS,
  valueOf,
} from "../support/tier-helpers.js";

const POLICIES: CleanupPolicy[] = ["immediate", "batched", "lazy"];
const tiny = loadBoard("tiny");
const fc1 = loadBoard("fc1-imx6");

let dir: string;
beforeEach(() => {
  dir = storageDirMake();
});
afterEach(() => storageDirRemove(dir));

/** Bytes of the .imx files really in the directory. */
function imxBytes(): number {
  return imxFilesUnder(dir).reduce((sum, file) => sum + fs.statSync(path.join(dir, file)).size, 0);
}

/** Lets the policy finish: nothing for immediate, ticks for batched, settle() for lazy. */
async function cleanupFinish(device: Device, clock: TickClock, policy: CleanupPolicy): Promise<void> {
  if (policy === "batched") clock.tickUntil(device, () => device.isCleanupComplete(), 100);
  if (policy === "lazy") await device.settle();
}

describe.each(POLICIES)("cleanup policy %s", (policy) => {
  it("deletes the files for real once every record has been read and acknowledged", async () => {
    const device = Device.create({ board: tiny, storageDir: dir, policy });
    const clock = new TickClock(tiny);
    const written = spillFiles(device, clock, 4);
    const created = device.stats().filesCreated;
    expect(imxFilesUnder(dir)).toHaveLength(created);

    const records = uploadAll(device, 1, 10);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: written }, (_, i) => i));
    await cleanupFinish(device, clock, policy);

    expect(imxFilesUnder(dir)).toEqual([]);
    expect(device.countDiskFiles()).toBe(0);
    expect(device.isCleanupComplete()).toBe(true);
    expect(device.getPendingDiskWriteCount()).toBe(0);
    expect(device.countRamSectorsWithData()).toBe(0);
    const stats = device.stats();
    expect(stats.filesDeleted).toBe(created);
    expect(stats.filesLive).toBe(0);
    expect(stats.diskBytesUsed).toBe(0);
    expect(stats.bytesDeleted).toBe(stats.bytesWritten);
    const progress = device.getCleanupProgress();
    expect(progress).toMatchObject({ filesPending: 0, bytesPending: 0, filesInFlight: 0, filesDeleted: created });
    expect(progress.complete).toBe(true);
    expect(progress.etaMs).toBe(0);
  });

  it("does not delete a partly acknowledged file", async () => {
    const device = Device.create({ board: tiny, storageDir: dir, policy });
    const clock = new TickClock(tiny);
    spillFiles(device, clock, 2);
    const filesBefore = imxFilesUnder(dir);
    const firstFileRecords = 4 * tsdPerSector(tiny);
    expect(readAll(device, 1, 10).length).toBeGreaterThan(firstFileRecords);
    device.revert(1, 10);
    const read = [];
    while (read.length < firstFileRecords) read.push(...device.readBulk(1, 10, firstFileRecords - read.length));
    expect(read.every((r) => r.tier === "disk")).toBe(true);

    device.ack(1, 10, firstFileRecords - 1);
    await cleanupFinish(device, clock, policy);
    for (let i = 0; i < 5; i++) clock.tick(device);
    await device.settle();
    expect(imxFilesUnder(dir)).toEqual(filesBefore);
    expect(device.stats().filesDeleted).toBe(0);
    expect(device.counts(1, 10).diskFiles).toBe(filesBefore.length);

    // The last record of the file acknowledged: now it goes.
    device.ack(1, 10, 1);
    await cleanupFinish(device, clock, policy);
    expect(imxFilesUnder(dir)).toHaveLength(filesBefore.length - 1);
    expect(device.stats().filesDeleted).toBe(1);
    expect(device.isCleanupComplete()).toBe(true);
  });

  it("forceCleanupAllDiskFiles deletes every file, strays included, and leaves every stream consistent", async () => {
    const device = Device.create({ board: tiny, storageDir: dir, policy });
    device.configureStream(2, 20, { type: "evt" });
    const clock = new TickClock(tiny);
    const written = spillFiles(device, clock, 3);
    // Upload the first file, so a deletion is queued (batched) or in flight (lazy) during the force.
    const firstFileRecords = 4 * tsdPerSector(tiny);
    const uploaded = [];
    while (uploaded.length < firstFileRecords)
      uploaded.push(...device.readBulk(1, 10, firstFileRecords - uploaded.length));
    device.ack(1, 10, firstFileRecords);
    // Records pending on disk, and a RAM-only stream.
    device.readBulk(1, 10, 5);
    for (let i = 0; i < 3; i++) device.writeEvt(2, 20, 100 + i, UTC_BASE_MS + i);
    const before = device.counts(1, 10);
    expect(before.disk).toBeGreaterThan(0);
    expect(before.ram).toBeGreaterThan(0);
    expect(before.pending).toBe(5);
    const discardedBefore = device.stats().recordsDiscarded;
    // Strays: .imx files the core never wrote; and a file that is not an .imx file.
    fs.mkdirSync(path.join(dir, "history", "3"), { recursive: true });
    fs.mkdirSync(path.join(dir, "history", "7"), { recursive: true });
    fs.writeFileSync(path.join(dir, "history", "3", `99_99_${"1".padStart(20, "0")}.imx`), "stray");
    fs.writeFileSync(path.join(dir, "history", "7", "left-over.imx"), "stray");
    fs.writeFileSync(path.join(dir, "history", "notes.txt"), "not an .imx file");

    const result = device.forceCleanupAllDiskFiles();

    expect(result.failed).toBe(0);
    expect(result.strays).toBe(2);
    expect(result.recordsDiscarded).toBe(before.disk);
    expect(imxFilesUnder(dir)).toEqual([]);
    expect(fs.existsSync(path.join(dir, "history", "notes.txt"))).toBe(true);
    expect(device.isCleanupComplete()).toBe(true);
    const after = device.counts(1, 10);
    expect(after).toMatchObject({ disk: 0, diskFiles: 0, ram: before.ram, total: before.ram, pending: 0 });
    expect(device.stats().recordsDiscarded - discardedBefore).toBe(before.disk);
    expect(device.stats().filesLive).toBe(0);

    // The RAM records are still there, in order, and the stream goes on working.
    const rest = readAll(device, 1, 10);
    expect(rest.map((r) => r.seq)).toEqual(Array.from({ length: before.ram }, (_, i) => written - before.ram + i));
    rest.forEach((r) => expect(r.value).toBe(valueOf(r.seq)));
    expect(rest.every((r) => r.tier === "ram")).toBe(true);
    device.ack(1, 10, rest.length);
    expect(readAll(device, 2, 20).map((r) => r.value)).toEqual([100, 101, 102]);
    device.ack(2, 20, 3);
    tsdWrite(device, 1, 10, written, 3);
    expect(readAll(device, 1, 10).map((r) => r.seq)).toEqual([written, written + 1, written + 2]);

    // A lazy deletion that was in flight settles without counting its file twice.
    await device.settle();
    for (let i = 0; i < 5; i++) clock.tick(device);
    const stats = device.stats();
    expect(stats.filesDeleted).toBe(stats.filesCreated);
    expect(stats.filesLive).toBe(0);
    expect(device.isCleanupComplete()).toBe(true);
    expect(imxFilesUnder(dir)).toEqual([]);
  });

  it("the seed's iteration loop: 20 × (write 100 sectors, spill, upload, ensureCleanupComplete) accumulates no file", async () => {
    const device = Device.create({ board: fc1, storageDir: dir, policy });
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const perIteration = 100 * tsdPerSector(fc1);
    let nowMs = 1000;
    for (let i = 0; i < 20; i++) {
      tsdWrite(device, 1, 10, i * perIteration, perIteration);
      const clock = new TickClock(fc1, nowMs);
      flushToDisk(device, clock, 20);
      expect(imxFilesUnder(dir).length, `iteration ${i}`).toBeGreaterThan(0);
      const records = uploadAll(device, 1, 10);
      expect(records.map((r) => r.seq)).toEqual(Array.from({ length: perIteration }, (_, k) => i * perIteration + k));
      const result = await ensureCleanupComplete(device, { nowMs: clock.nowMs });
      nowMs = result.nowMs;
      expect(result, `iteration ${i}`).toMatchObject({ complete: true, filesLeft: 0, ramSectorsLeft: 0 });
      expect(imxFilesUnder(dir), `iteration ${i}`).toEqual([]);
    }
    expect(device.stats().filesDeleted).toBe(device.stats().filesCreated);
  });

  it("flushAllToDisk on an empty device reports 101 at once", () => {
    const device = Device.create({ board: fc1, storageDir: dir, policy });
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    device.flushAllToDisk();
    expect(device.getFlushProgress()).toBe(FLUSH_PROGRESS_COMPLETE);
    expect(device.getPendingDiskWriteCount()).toBe(0);
    new TickClock(fc1).tick(device);
    expect(device.getFlushProgress()).toBe(FLUSH_PROGRESS_COMPLETE);
    expect(imxFilesUnder(dir)).toEqual([]);
  });

  it("flushAllToDisk moves every RAM sector to disk with progress rising to 101, and every record reads back", () => {
    const device = Device.create({ board: fc1, storageDir: dir, policy });
    const sensors = [10, 11, 12, 13];
    for (const sensor of sensors) device.configureStream(1, sensor, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const perStream = 250 * tsdPerSector(fc1) + 3; // a partly filled newest sector in each stream
    for (const sensor of sensors) tsdWrite(device, 1, sensor, 0, perStream);
    device.readBulk(1, 10, 7); // pending records are flushed too
    const ramSectors = sensors.reduce((sum, sensor) => sum + device.counts(1, sensor).ramSectors, 0);
    expect(device.getPendingDiskWriteCount()).toBe(0); // below the spill threshold: nothing to do yet

    device.flushAllToDisk();
    expect(device.getPendingDiskWriteCount()).toBe(ramSectors);
    const clock = new TickClock(fc1);
    const progress = [device.getFlushProgress()];
    for (let i = 0; i < 100 && progress[progress.length - 1] !== FLUSH_PROGRESS_COMPLETE; i++) {
      clock.tick(device);
      progress.push(device.getFlushProgress());
      expect(device.getPendingDiskWriteCount()).toBe(device.stats().sectorsUsed);
    }
    expect(progress[0]).toBeLessThan(FLUSH_PROGRESS_COMPLETE);
    expect(progress[progress.length - 1]).toBe(FLUSH_PROGRESS_COMPLETE);
    expect(progress.length).toBeGreaterThan(2);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1] as number);
    expect(progress.every((p) => p >= 0 && p <= FLUSH_PROGRESS_COMPLETE)).toBe(true);
    expect(device.stats().sectorsUsed).toBe(0);
    expect(device.countRamSectorsWithData()).toBe(0);
    expect(device.getPendingDiskWriteCount()).toBe(0);
    expect(device.stats().sectorsSpilled).toBe(ramSectors);
    expect(imxFilesUnder(dir)).toHaveLength(device.stats().filesCreated);

    device.revert(1, 10);
    for (const sensor of sensors) {
      const records = readAll(device, 1, sensor);
      expect(records.map((r) => r.seq)).toEqual(Array.from({ length: perStream }, (_, i) => i));
      records.forEach((r) => {
        expect(r.value).toBe(valueOf(r.seq));
        expect(r.utcMs).toBe(UTC_BASE_MS + r.seq * SAMPLE_RATE_MS);
        expect(r.tier).toBe("disk");
      });
    }
  });

  it("cancelMemoryFlush passes through cancelling-flush to idle and the flush goes no further", () => {
    const device = Device.create({ board: fc1, storageDir: dir, policy });
    const sensors = [10, 11, 12, 13];
    for (const sensor of sensors) device.configureStream(1, sensor, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const perStream = 300 * tsdPerSector(fc1);
    for (const sensor of sensors) tsdWrite(device, 1, sensor, 0, perStream);
    device.flushAllToDisk();
    const clock = new TickClock(fc1);
    clock.tick(device);
    const progressAtCancel = device.getFlushProgress();
    expect(progressAtCancel).toBeGreaterThan(0);
    expect(progressAtCancel).toBeLessThan(100);

    device.cancelMemoryFlush();
    expect(device.tierState).toBe("cancelling-flush");
    expect(clock.tick(device)).toBe("idle");
    const spilled = device.stats().sectorsSpilled;
    const files = imxFilesUnder(dir);
    const progressAfter = device.getFlushProgress();
    expect(progressAfter).toBeLessThanOrEqual(progressAtCancel);
    for (let i = 0; i < 10; i++) {
      clock.tick(device);
      expect(device.getFlushProgress()).toBe(progressAfter);
    }
    expect(device.stats().sectorsSpilled).toBe(spilled);
    expect(imxFilesUnder(dir)).toEqual(files);
    expect(device.stats().sectorsUsed).toBeGreaterThan(0);

    // Nothing was lost: disk then RAM, every record in order.
    for (const sensor of sensors) {
      const records = readAll(device, 1, sensor);
      expect(records.map((r) => r.seq)).toEqual(Array.from({ length: perStream }, (_, i) => i));
      records.forEach((r) => expect(r.value).toBe(valueOf(r.seq)));
    }
  });
});

describe("immediate policy", () => {
  it("deletes a file inside the ACK call that acknowledges its last record", () => {
    const device = Device.create({ board: tiny, storageDir: dir, policy: "immediate" });
    const clock = new TickClock(tiny);
    spillFiles(device, clock, 3);
    const files = imxFilesUnder(dir);
    const firstFileRecords = 4 * tsdPerSector(tiny);
    const read = [];
    while (read.length < firstFileRecords) read.push(...device.readBulk(1, 10, firstFileRecords - read.length));

    device.ack(1, 10, firstFileRecords); // no processMemory call from here on
    // The file that held sequence numbers 0 … 23 is gone, the others stay.
    expect(imxFilesUnder(dir)).toEqual(files.filter((file) => !file.endsWith(`_${"0".padStart(20, "0")}.imx`)));
    expect(imxFilesUnder(dir)).toHaveLength(files.length - 1);
    expect(device.isCleanupComplete()).toBe(true);
    expect(device.getCleanupProgress()).toMatchObject({ filesPending: 0, filesInFlight: 0, filesDeleted: 1 });
    expect(device.getPendingDiskWriteCount()).toBe(0);
  });
});

describe("batched policy", () => {
  it("deletes only in processMemory, at most filesDeletedPerTickMax per tick, with progress and ETA", () => {
    const device = Device.create({ board: tiny, storageDir: dir, policy: "batched" });
    const clock = new TickClock(tiny);
    spillFiles(device, clock, 4);
    const created = device.stats().filesCreated;
    const bytes = imxBytes();
    uploadAll(device, 1, 10);

    // Acknowledged, queued, still on disk.
    expect(imxFilesUnder(dir)).toHaveLength(created);
    expect(device.isCleanupComplete()).toBe(false);
    expect(device.getCleanupProgress()).toMatchObject({ filesPending: created, bytesPending: bytes, filesDeleted: 0 });
    expect(device.getPendingDiskWriteCount()).toBe(created);
    // Queries and further uploads delete nothing either: only processMemory does.
    device.getCleanupProgress();
    device.stats();
    expect(device.readBulk(1, 10, tiny.memory.bulkRecordsMax)).toEqual([]);
    device.revert(1, 10);
    expect(imxFilesUnder(dir)).toHaveLength(created);

    const perTickMax = tiny.tier.filesDeletedPerTickMax;
    let deletedTotal = 0;
    for (let tick = 0; tick < 50 && !device.isCleanupComplete(); tick++) {
      const filesBefore = imxFilesUnder(dir).length;
      const bytesBefore = imxBytes();
      const progressBefore = device.getCleanupProgress();
      clock.tick(device);
      const progress = device.getCleanupProgress();
      const deleted = filesBefore - imxFilesUnder(dir).length;
      expect(deleted).toBeGreaterThan(0);
      expect(deleted).toBeLessThanOrEqual(perTickMax);
      deletedTotal += deleted;
      expect(progress.filesDeleted - progressBefore.filesDeleted).toBe(deleted);
      expect(progressBefore.filesPending - progress.filesPending).toBe(deleted);
      expect(progressBefore.bytesPending - progress.bytesPending).toBe(bytesBefore - imxBytes());
      expect(progress.filesPending).toBe(created - deletedTotal);
      expect(device.getPendingDiskWriteCount()).toBe(progress.filesPending);
      expect(device.isCleanupComplete()).toBe(progress.filesPending === 0);
      expect(progress.complete).toBe(progress.filesPending === 0);
      if (progress.filesPending > 0) expect(progress.etaMs).toBeGreaterThan(0);
    }
    expect(deletedTotal).toBe(created);
    expect(imxFilesUnder(dir)).toEqual([]);
    expect(device.getCleanupProgress()).toMatchObject({ filesPending: 0, bytesPending: 0, etaMs: 0, complete: true });
  });

  it("on fc1-imx6 deletes 16 files per tick from a queue of 40", () => {
    const device = Device.create({ board: fc1, storageDir: dir, policy: "batched" });
    const sensors = [10, 11, 12, 13];
    for (const sensor of sensors) device.configureStream(1, sensor, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const clock = new TickClock(fc1);
    const perSector = tsdPerSector(fc1);
    for (let round = 0; round < 10; round++) {
      for (const sensor of sensors) tsdWrite(device, 1, sensor, round * perSector, perSector);
      flushToDisk(device, clock, 10);
    }
    expect(imxFilesUnder(dir)).toHaveLength(40);
    for (const sensor of sensors) uploadAll(device, 1, sensor);
    expect(device.getPendingDiskWriteCount()).toBe(40);
    // No deletion timed yet in this device life: the time remaining is unknown, not 0.
    expect(device.getCleanupProgress().etaMs).toBeNull();

    const deletedPerTick: number[] = [];
    const etas: Array<number | null> = [];
    while (!device.isCleanupComplete() && deletedPerTick.length < 10) {
      const before = imxFilesUnder(dir).length;
      clock.tick(device);
      deletedPerTick.push(before - imxFilesUnder(dir).length);
      etas.push(device.getCleanupProgress().etaMs);
    }
    expect(fc1.tier.filesDeletedPerTickMax).toBe(16);
    expect(deletedPerTick).toEqual([16, 16, 8]);
    // The estimate counts the ticks left at 16 per 100 ms tick (each at least the tick interval),
    // here 24 files = 2 ticks, then 8 files = 1 tick, with the measured deletion time on top where
    // a tick's deletions would take longer than the interval.
    const latencyMaxMs = device.getCleanupProgress().deleteLatencyMs.max;
    expect(etas[0]).toBeGreaterThanOrEqual(2 * fc1.tier.tickIntervalMs);
    expect(etas[0]).toBeLessThanOrEqual(2 * fc1.tier.tickIntervalMs + 24 * latencyMaxMs);
    expect(etas[1]).toBeGreaterThanOrEqual(fc1.tier.tickIntervalMs);
    expect(etas[1]).toBeLessThanOrEqual(fc1.tier.tickIntervalMs + 8 * latencyMaxMs);
    expect(etas[2]).toBe(0);
  });

  it("keeps deleting while spills use their whole budget every tick, so an uplink that keeps up loses nothing", () => {
    // tiny takes 3 sectors a tick; its spill budget of 4 sectors (one file) a tick is spent on most
    // ticks. The uplink acknowledges everything on disk after every tick. Acknowledged files waiting
    // in the queue still count against the 2 KiB quota, so if they were not deleted on the ticks
    // that spill, the quota would fill, spills would be refused and RAM would discard records.
    const device = Device.create({ board: tiny, hal: new MemoryHal(), policy: "batched" });
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const clock = new TickClock(tiny);
    const perTick = 3 * tsdPerSector(tiny);
    let budgetSpentTicks = 0;
    for (let tick = 0; tick < 200; tick++) {
      tsdWrite(device, 1, 10, tick * perTick, perTick);
      const spilledBefore = device.stats().sectorsSpilled;
      clock.tick(device);
      if (device.stats().sectorsSpilled - spilledBefore === tiny.tier.spillSectorsPerTickMax) budgetSpentTicks++;
      for (let disk = device.counts(1, 10).disk; disk > 0;) {
        const batch = device.readBulk(1, 10, Math.min(disk, device.bulkCapacity));
        device.ack(1, 10, batch.length);
        disk -= batch.length;
      }
      expect(device.getCleanupProgress().filesPending, `tick ${tick}`).toBeLessThanOrEqual(
        tiny.tier.filesWrittenPerTickMax + tiny.tier.filesDeletedPerTickMax,
      );
    }
    expect(budgetSpentTicks).toBeGreaterThan(100);
    const stats = device.stats();
    expect(stats.spillsRefused).toBe(0);
    expect(stats.recordsDiscarded).toBe(0);
    expect(stats.filesCreated - stats.filesDeleted).toBeLessThanOrEqual(2);
  });

  it("counts queued deletions and RAM sectors still to flush together as pending work", () => {
    const device = Device.create({ board: tiny, storageDir: dir, policy: "batched" });
    const clock = new TickClock(tiny);
    spillFiles(device, clock, 2);
    uploadAll(device, 1, 10);
    const queued = device.getCleanupProgress().filesPending;
    expect(queued).toBeGreaterThan(0);
    tsdWrite(device, 1, 10, 10_000, 2 * tsdPerSector(tiny) + 1);
    device.flushAllToDisk();
    expect(device.getPendingDiskWriteCount()).toBe(queued + device.counts(1, 10).ramSectors);
    expect(device.getPendingDiskWriteCount()).toBe(queued + 3);
  });
});

describe("lazy policy", () => {
  it("queues in the ACK, starts deletions from processMemory, and is complete once they settle", async () => {
    const device = Device.create({ board: tiny, storageDir: dir, policy: "lazy" });
    const clock = new TickClock(tiny);
    spillFiles(device, clock, 4);
    const created = device.stats().filesCreated;
    uploadAll(device, 1, 10);

    // The ACK starts nothing: every file waits for the next tick.
    expect(device.isCleanupComplete()).toBe(false);
    expect(device.getCleanupProgress()).toMatchObject({
      filesPending: created,
      filesInFlight: 0,
      filesDeleted: 0,
      complete: false,
      etaMs: null,
    });
    expect(device.getPendingDiskWriteCount()).toBe(created);
    expect(imxFilesUnder(dir)).toHaveLength(created);

    clock.tick(device);
    expect(created).toBeLessThanOrEqual(tiny.tier.deletesInFlightMax);
    expect(device.getCleanupProgress()).toMatchObject({ filesPending: 0, filesInFlight: created, complete: false });
    expect(device.getPendingDiskWriteCount()).toBe(created);

    await device.settle();
    expect(device.isCleanupComplete()).toBe(true);
    expect(imxFilesUnder(dir)).toEqual([]);
    expect(device.getCleanupProgress()).toMatchObject({ filesInFlight: 0, filesPending: 0, filesDeleted: created });
    expect(device.getPendingDiskWriteCount()).toBe(0);

    // With deletions measured, the next files pending come with an estimate; settle() starts and
    // finishes them without a tick.
    const written = device.counts(1, 10).nextSeq;
    tsdWrite(device, 1, 10, written, 4 * tsdPerSector(tiny));
    flushToDisk(device, clock, 10);
    uploadAll(device, 1, 10);
    expect(device.getCleanupProgress().filesPending).toBe(1);
    expect(device.getCleanupProgress().etaMs).toBeGreaterThan(0);
    await device.settle();
    expect(device.getCleanupProgress()).toMatchObject({ filesPending: 0, filesInFlight: 0, etaMs: 0, complete: true });
    expect(imxFilesUnder(dir)).toEqual([]);
  });

  it("never has more than tier.deletesInFlightMax deletions in flight, from ticks or settle()", async () => {
    const hal = new ConcurrencyHal();
    const board = { ...tiny, tier: { ...tiny.tier, deletesInFlightMax: 2 } };
    const device = Device.create({ board, hal, policy: "lazy" });
    const clock = new TickClock(board);
    spillFiles(device, clock, 7);
    const created = device.stats().filesCreated;
    uploadAll(device, 1, 10);
    expect(device.getCleanupProgress().filesPending).toBe(created);

    clock.tick(device);
    expect(device.getCleanupProgress()).toMatchObject({ filesInFlight: 2, filesPending: created - 2 });
    // A tick with the bound reached starts nothing more.
    clock.tick(device);
    expect(device.getCleanupProgress()).toMatchObject({ filesInFlight: 2, filesPending: created - 2 });
    expect(hal.inFlight).toBe(2);

    await device.settle();
    expect(device.getCleanupProgress()).toMatchObject({ filesInFlight: 0, filesPending: 0, filesDeleted: created });
    expect(hal.inFlightMaxSeen).toBe(2);
    expect(hal.removesAsync).toBe(created);
    expect(device.isCleanupComplete()).toBe(true);
  });
});

/** A MemoryHal that counts the asynchronous removals in flight at once. */
class ConcurrencyHal extends HalWrapper {
  inFlight = 0;
  inFlightMaxSeen = 0;
  removesAsync = 0;
  constructor() {
    const inner = new MemoryHal();
    super(inner, inner.kind);
  }
  override async removeAsync(path: string): Promise<void> {
    this.inFlight++;
    this.removesAsync++;
    this.inFlightMaxSeen = Math.max(this.inFlightMaxSeen, this.inFlight);
    try {
      await super.removeAsync(path);
    } finally {
      this.inFlight--;
    }
  }
}
