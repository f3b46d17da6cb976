// Cleanup and spill when the disk fails. A FailingHal (test/support/failing-hal.ts) wraps a NodeFsHal
// on a fresh temporary directory and throws HalError from the next N removals or writes. Shown, for
// every cleanup policy on `tiny` (whose deleteRetryBaseMs is 1 ms and whose ticks run on every
// call): a failed deletion is retried with exponential back-off (the attempt times are recorded
// tick by tick) capped at 2^10 × the base, failedAttempts counts each failure, each processMemory
// call makes a bounded number of attempts and returns, and the file goes once the fault clears; a
// file that vanished behind the core's back counts as deleted; a spill whose write fails (ENOSPC,
// EIO, or a failed rename) leaves RAM exactly as it was, is counted, leaves no file behind and
// succeeds on a later tick.

import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CleanupPolicy, loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import type { HalErrorCode } from "../../host/hal/hal.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";
import { FailingHal, type FaultOp } from "../support/failing-hal.js";
import {
  filesUnder,
  flushToDisk,
  imxFilesUnder,
  oneFileOnDisk,
  readAll,
  SAMPLE_RATE_MS,
  sectorsAtThreshold,
  spillFiles,
  storageDirMake,
  storageDirRemove,
  TickClock,
  tsdPerSector,
  tsdWrite,
  uploadAll,
  valueOf,
} from "../support/tier-helpers.js";

const POLICIES: CleanupPolicy[] = ["immediate", "batched", "lazy"];
const tiny = loadBoard("tiny");
const RETRY_SHIFT_MAX = 10;

let dir: string;
let hal: FailingHal;
beforeEach(() => {
  dir = storageDirMake();
  hal = new FailingHal(new NodeFsHal(dir));
});
afterEach(() => storageDirRemove(dir));

function removeOpOf(policy: CleanupPolicy): FaultOp {
  return policy === "lazy" ? "removeAsync" : "remove";
}

describe.each(POLICIES)("deletion failures under the %s policy", (policy) => {
  const removeOp = removeOpOf(policy);
  const baseMs = tiny.tier.deleteRetryBaseMs;

  it.each(["EBUSY", "EIO", "EACCES"] as HalErrorCode[])(
    "retries a deletion that fails with %s, backing off exponentially up to the cap, until it succeeds",
    async (code) => {
      expect(tiny.tier.tickIntervalMs).toBe(0);
      const device = Device.create({ board: tiny, hal, policy });
      const clock = new TickClock(tiny);
      oneFileOnDisk(device, clock, 4);
      const file = imxFilesUnder(dir)[0] as string;
      const failures = RETRY_SHIFT_MAX + 3;
      hal.failNext(removeOp, code, failures);

      // Attempt times: immediate tries in the ACK call and lazy in the settle() after it (at the last
      // tick's time); batched on the next tick.
      const attemptsAt: number[] = [];
      let seen = 0;
      const noteAttempts = (): void => {
        for (; seen < hal.calls[removeOp]; seen++) attemptsAt.push(clock.nowMs);
      };
      uploadAll(device, 1, 10);
      if (policy === "lazy") await device.settle();
      noteAttempts();
      for (let tick = 0; tick < 10_000 && !device.isCleanupComplete(); tick++) {
        clock.tick(device);
        if (policy === "lazy") await device.settle();
        noteAttempts();
        // Until it succeeds, each failure is counted and the file is still there.
        if (!device.isCleanupComplete()) {
          expect(device.getCleanupProgress().failedAttempts).toBe(hal.failures[removeOp]);
          expect(fs.existsSync(path.join(dir, file))).toBe(true);
        }
      }

      expect(hal.failures[removeOp]).toBe(failures);
      expect(attemptsAt).toHaveLength(failures + 1);
      const gapsMs = attemptsAt.slice(1).map((t, i) => t - (attemptsAt[i] as number));
      const expectedGapsMs = Array.from({ length: failures }, (_, i) => baseMs * 2 ** Math.min(i, RETRY_SHIFT_MAX));
      expect(gapsMs).toEqual(expectedGapsMs);
      expect(new Set(hal.removeAttempts)).toEqual(new Set([file]));

      expect(imxFilesUnder(dir)).toEqual([]);
      expect(device.isCleanupComplete()).toBe(true);
      expect(device.getCleanupProgress()).toMatchObject({ failedAttempts: failures, filesDeleted: 1, filesPending: 0 });
      expect(device.stats().deleteFailures).toBe(failures);
      expect(device.stats().filesLive).toBe(0);
    },
  );

  it("under a lasting fault, every processMemory call returns after a bounded number of attempts", async () => {
    // Lazy deletions are bounded by the deletions in flight (tier.deletesInFlightMax), the others by
    // the tick's budget (tier.filesDeletedPerTickMax): both 1 here.
    const board = { ...tiny, tier: { ...tiny.tier, deletesInFlightMax: 1 } };
    const device = Device.create({ board, hal, policy });
    const clock = new TickClock(board);
    spillFiles(device, clock, 3);
    const files = imxFilesUnder(dir);
    hal.failNext(removeOp, "EIO", Number.MAX_SAFE_INTEGER);
    uploadAll(device, 1, 10);
    if (policy === "lazy") await device.settle();

    const perTickMax = policy === "lazy" ? board.tier.deletesInFlightMax : board.tier.filesDeletedPerTickMax;
    expect(perTickMax).toBe(1);
    const ticks = 3000;
    for (let tick = 0; tick < ticks; tick++) {
      const before = hal.calls[removeOp];
      clock.tick(device); // returns: no call loops on a failing disk
      expect(hal.calls[removeOp] - before).toBeLessThanOrEqual(perTickMax);
      if (policy === "lazy") await device.settle();
    }
    expect(device.isCleanupComplete()).toBe(false);
    expect(imxFilesUnder(dir)).toEqual(files);
    const failed = device.getCleanupProgress().failedAttempts;
    expect(failed).toBe(hal.failures[removeOp]);
    // Back-off: per file about log2(cap) attempts, then one per capped interval — far fewer than one per tick.
    const perFileMax = RETRY_SHIFT_MAX + 2 + Math.ceil(ticks / (2 ** RETRY_SHIFT_MAX * tiny.tier.deleteRetryBaseMs));
    expect(failed).toBeGreaterThanOrEqual(files.length * (RETRY_SHIFT_MAX + 1));
    expect(failed).toBeLessThanOrEqual(files.length * perFileMax);
    expect(device.getPendingDiskWriteCount()).toBe(files.length);

    // The fault clears: every file is deleted within one capped back-off interval.
    hal.clearFaults();
    for (let tick = 0; tick < 2 * 2 ** RETRY_SHIFT_MAX && !device.isCleanupComplete(); tick++) {
      clock.tick(device);
      if (policy === "lazy") await device.settle();
    }
    expect(device.isCleanupComplete()).toBe(true);
    expect(imxFilesUnder(dir)).toEqual([]);
    expect(device.stats().filesDeleted).toBe(files.length);
    expect(device.getPendingDiskWriteCount()).toBe(0);
  });

  it("counts a file that vanished behind the core's back as deleted", async () => {
    const device = Device.create({ board: tiny, hal, policy });
    const clock = new TickClock(tiny);
    const written = oneFileOnDisk(device, clock, 4);
    const records = readAll(device, 1, 10);
    expect(records).toHaveLength(written);
    const file = imxFilesUnder(dir)[0] as string;
    fs.unlinkSync(path.join(dir, file));

    device.ack(1, 10, written);
    if (policy === "batched") clock.tickUntil(device, () => device.isCleanupComplete(), 10);
    if (policy === "lazy") await device.settle();

    expect(device.isCleanupComplete()).toBe(true);
    expect(device.getCleanupProgress()).toMatchObject({ filesDeleted: 1, failedAttempts: 0, filesPending: 0 });
    expect(device.stats().filesLive).toBe(0);
    expect(device.stats().diskBytesUsed).toBe(0);
    expect(hal.removeAttempts).toEqual([file]);
  });
});

describe("forced cleanup on a failing disk", () => {
  it("keeps a file it could not delete queued, reports it as failed, and deletes it later", () => {
    const device = Device.create({ board: tiny, hal, policy: "batched" });
    const clock = new TickClock(tiny);
    oneFileOnDisk(device, clock, 4);
    const file = imxFilesUnder(dir)[0] as string;
    // Both the core's deletion and the host's sweep for strays hit the fault.
    hal.failNext("remove", "EBUSY", 2, ".imx");

    const result = device.forceCleanupAllDiskFiles();
    expect(result).toEqual({ failed: 1, strays: 0, recordsDiscarded: 4 * tsdPerSector(tiny) });
    expect(imxFilesUnder(dir)).toEqual([file]);
    expect(device.counts(1, 10)).toMatchObject({ disk: 0, diskFiles: 0, total: 0 });
    expect(device.isCleanupComplete()).toBe(false);
    expect(device.getCleanupProgress()).toMatchObject({ filesPending: 1, failedAttempts: 1 });

    clock.tickUntil(device, () => device.isCleanupComplete(), 20);
    expect(imxFilesUnder(dir)).toEqual([]);
    expect(device.stats()).toMatchObject({ filesDeleted: 1, filesLive: 0, diskBytesUsed: 0 });
  });
});

describe("spill write failures", () => {
  const faults: Array<[FaultOp, HalErrorCode]> = [
    ["writeFile", "ENOSPC"],
    ["writeFile", "EIO"],
    ["rename", "EIO"],
  ];

  it.each(faults)("a spill whose %s fails with %s leaves RAM unchanged, is counted, and succeeds later", (op, code) => {
    const device = Device.create({ board: tiny, hal });
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const written = sectorsAtThreshold(tiny) * tsdPerSector(tiny);
    tsdWrite(device, 1, 10, 0, written);
    const countsBefore = device.counts(1, 10);
    const sectorsBefore = device.stats().sectorsUsed;
    const clock = new TickClock(tiny);

    hal.failNext(op, code, 1);
    clock.tick(device);
    expect(hal.failures[op]).toBe(1);
    const stats = device.stats();
    expect(stats.spillsFailed).toBe(1);
    expect(stats.filesCreated).toBe(0);
    expect(stats.sectorsSpilled).toBe(0);
    expect(stats.sectorsUsed).toBe(sectorsBefore);
    expect(device.counts(1, 10)).toEqual(countsBefore);
    expect(filesUnder(dir, ".imx")).toEqual([]);
    expect(filesUnder(dir, ".tmp")).toEqual([]);
    const peeked = device.peek(1, 10, device.bulkCapacity);
    expect(peeked.map((r) => [r.seq, r.value, r.tier])).toEqual(peeked.map((_, i) => [i, valueOf(i), "ram"]));

    clock.tickUntil(device, () => device.stats().filesCreated > 0, 5);
    expect(device.stats().spillsFailed).toBe(1);
    expect(imxFilesUnder(dir)).toHaveLength(device.stats().filesCreated);
    expect(filesUnder(dir, ".tmp")).toEqual([]);
    const records = readAll(device, 1, 10);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: written }, (_, i) => i));
    records.forEach((r) => expect(r.value).toBe(valueOf(r.seq)));
    expect(records[0]?.tier).toBe("disk");
  });

  it("a flush whose writes fail several times still completes, with every record", () => {
    const device = Device.create({ board: tiny, hal });
    device.configureStream(1, 10, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const written = 8 * tsdPerSector(tiny) + 2;
    tsdWrite(device, 1, 10, 0, written);
    hal.failNext("writeFile", "EIO", 3);
    const clock = new TickClock(tiny);
    flushToDisk(device, clock, 20);
    expect(device.stats().spillsFailed).toBe(3);
    expect(device.stats().sectorsUsed).toBe(0);
    expect(filesUnder(dir, ".tmp")).toEqual([]);
    const records = readAll(device, 1, 10);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: written }, (_, i) => i));
    expect(records.every((r) => r.tier === "disk")).toBe(true);
  });
});
