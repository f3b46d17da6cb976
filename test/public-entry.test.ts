// The public entry, dist/host/index.js (built from host/index.ts): it exports exactly the library's
// surface — the device, boards, the cleanup step, the HALs, the error classes — and nothing of the
// command line. The test imports the built file, as a user of the package would, and runs a device
// through write, spill, read, ACK and cleanup with it.

import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

type Entry = typeof import("../host/index.js");

const ENTRY_PATH = fileURLToPath(new URL("../dist/host/index.js", import.meta.url));

/** Every value the entry exports (types leave no trace in the built file). */
const EXPORTED_VALUES = [
  "BoardError",
  "CLEANUP_POLICIES",
  "ConfigImageError",
  "CoreAssertionError",
  "CoreError",
  "CoreLogger",
  "DEFAULT_BOARD_NAME",
  "Device",
  "DeviceClosedError",
  "DeviceWorker",
  "ENSURE_CLEANUP_TICKS_MAX",
  "FLUSH_PROGRESS_COMPLETE",
  "HalError",
  "LOCK_FILE",
  "MemoryHal",
  "NodeFsHal",
  "Outbox",
  "RecoveryIoError",
  "SnapshotError",
  "StorageError",
  "UsageError",
  "UserError",
  "ensureCleanupComplete",
  "errorCodeName",
  "flushDrain",
  "SHUTDOWN_DEADLINE_MS_DEFAULT",
  "shutdownFlush",
  "isCleanupPolicy",
  "listBoards",
  "loadBoard",
  "withOverrides",
];

let entry: Entry;

beforeAll(async () => {
  expect(existsSync(ENTRY_PATH), `${ENTRY_PATH} (run npm run build first)`).toBe(true);
  entry = (await import(pathToFileURL(ENTRY_PATH).href)) as Entry;
});

describe("the public entry dist/host/index.js", () => {
  it("exports the library's surface and nothing else", () => {
    expect(Object.keys(entry).sort()).toEqual([...EXPORTED_VALUES].sort());
  });

  it("runs a device: configure, write, spill to disk, read, ACK, clean up", async () => {
    const { Device, MemoryHal, ensureCleanupComplete, flushDrain, loadBoard } = entry;
    const board = loadBoard("tiny");
    const hal = new MemoryHal();
    const device = Device.create({ board, hal, nowMs: 1000 });
    device.configureStream(0, 7, { type: "evt", dataType: "uint32" });
    const written = 4 * board.memory.sectorCount;
    for (let i = 0; i < written; i++) device.writeEvt(0, 7, i, 1000 + i);
    device.flushAllToDisk();
    let nowMs = 1000;
    const tickMs = Math.max(1, board.tier.tickIntervalMs);
    expect(flushDrain(device, () => device.processMemory((nowMs += tickMs)), 1000)).toBeGreaterThanOrEqual(0);
    expect(device.getFlushProgress()).toBe(entry.FLUSH_PROGRESS_COMPLETE);
    expect(device.countDiskFiles()).toBeGreaterThan(0);
    const values: number[] = [];
    for (let guard = 0; guard < written; guard++) {
      const records = device.readBulk(0, 7, device.bulkCapacity);
      if (records.length === 0) break;
      for (const record of records) values.push(record.value);
      device.ack(0, 7, records.length);
    }
    const kept = device.counts(0, 7);
    // Whatever RAM could not hold was discarded (counted); every record delivered is in order.
    expect(values.length + device.stats().recordsDiscarded).toBe(written);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(kept.total).toBe(0);
    const cleanup = await ensureCleanupComplete(device, { nowMs });
    expect(cleanup.complete).toBe(true);
    expect(cleanup.filesLeft).toBe(0);
  });

  it("exports the error classes a caller catches: bad input is a UserError", () => {
    const { BoardError, CoreError, Device, UserError, loadBoard } = entry;
    let thrown: unknown = null;
    try {
      loadBoard("no-such-board");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BoardError);
    expect(thrown).toBeInstanceOf(UserError);
    const device = Device.create({ board: loadBoard("tiny") });
    expect(() => device.writeEvt(9, 9, 1, 0)).toThrow(CoreError);
  });
});
