// Real free space (SPEC.md 4.1): the disk tier's spill limit is the smaller of the quota's and what
// the filesystem can still take less a margin of diskFreeMarginFiles files' worth, read through
// Hal.freeBytes() at a bounded rate. Shown on `tiny` over a MemoryHal with a capacity (a filesystem
// smaller than the quota, and one "another process" fills from outside): the limit follows the free
// space, spills stop before any write meets ENOSPC, a flush never takes more than the filesystem
// can, and the number of freeBytes() calls is fixed by device time, not by records or ticks. Then
// on a real 1 MiB tmpfs through NodeFsHal when the test runs as root (skipped with a printed reason
// otherwise): spills follow statfs(2) and never meet ENOSPC.

import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Board, loadBoard, withOverrides } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { CoreError } from "../../host/core/errors.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";
import { imxFileBytes } from "../../host/format/imx.js";
import { ACK_LOG_PATH, positionsFileBytes } from "../../host/format/positions.js";
import { DISK_FREE_READ_INTERVAL_MS } from "../../host/core/abi.generated.js";
import { storageDirMake, storageDirRemove, tsdPerSector, tsdWrite } from "../support/tier-helpers.js";
import { Tmpfs, tmpfsAvailable } from "../support/tmpfs.js";

const tiny = loadBoard("tiny");
// Where a test shows spills stopping at the limit: under refuse-new the disk tier keeps what it has
// (under evict-oldest, the default, it would give up old files to make room instead).
const tinyRefuseNew = withOverrides(tiny, { diskFullPolicy: "refuse-new" });
const T0 = 1_000_000;

/** The board's margin in bytes: diskFreeMarginFiles × the I/O buffer (largest file the core writes). */
function marginBytes(board: Board): number {
  const disk = board.disk;
  if (disk === null) return 0;
  const ioBytes = Math.max(
    imxFileBytes(disk.sectorsPerFileMax, board.memory.sectorBytes),
    positionsFileBytes(board.memory.streamsMax),
  );
  return disk.freeMarginFiles * ioBytes;
}

function quotaLimit(board: Board): number {
  const disk = board.disk;
  return disk === null ? 0 : Math.floor((disk.quotaBytes * disk.thresholdPercent) / 100);
}

/** A device on `hal` with one TSD stream (1/1), and a clock that moves one read interval per tick. */
function deviceOn(board: Board, hal: MemoryHal | NodeFsHal, storageDir?: string) {
  const device = Device.create({ board, hal, storageDir, nowMs: T0 });
  device.configureStream(1, 1, { type: "tsd", sampleRateMs: 1000 });
  let seq = 0;
  let nowMs = T0;
  return {
    device,
    /** Writes `count` more records (under refuse-new, until a write is refused with E_DISK_FULL). */
    write(count: number): void {
      for (let i = 0; i < count; i++) {
        try {
          tsdWrite(device, 1, 1, seq, 1);
        } catch (e) {
          if (e instanceof CoreError && e.codeName === "E_DISK_FULL") return;
          throw e;
        }
        seq++;
      }
    },
    /** Moves device time by `stepMs` and runs one tick. */
    tick(stepMs = DISK_FREE_READ_INTERVAL_MS): void {
      nowMs += stepMs;
      device.processMemory(nowMs);
    },
    get nowMs(): number {
      return nowMs;
    },
  };
}

describe("the disk limit follows the filesystem's free space (tiny, MemoryHal with a capacity)", () => {
  const perSector = tsdPerSector(tiny);
  const sectorsPerFile = tiny.disk?.sectorsPerFileMax ?? 0;
  const fileBytes = imxFileBytes(sectorsPerFile, tiny.memory.sectorBytes);

  it("a filesystem smaller than the quota: spills stop at its free space less the margin, never at ENOSPC", () => {
    const capacityBytes = 1000; // below tiny's 1638-byte quota limit
    const hal = new MemoryHal({ capacityBytes });
    const run = deviceOn(tinyRefuseNew, hal);
    for (let round = 0; round < 40; round++) {
      run.write(sectorsPerFile * perSector);
      run.tick();
    }
    const stats = run.device.stats();
    // What the filesystem holds besides the .imx files the core counts: the ACK log.
    const otherBytes = hal.usedBytes() - stats.diskBytesUsed;
    expect(otherBytes).toBe(hal.readFile(ACK_LOG_PATH).byteLength);
    expect(otherBytes).toBe(stats.ackLogBytes);
    const limit = Math.min(quotaLimit(tiny), capacityBytes - otherBytes - marginBytes(tiny));
    expect(stats.diskBytesLimit).toBe(limit);
    expect(stats.diskBytesUsed).toBeLessThanOrEqual(limit);
    expect(stats.diskBytesUsed + fileBytes).toBeGreaterThan(limit); // full up to the limit
    expect(stats.spillsRefused).toBeGreaterThan(0);
    expect(stats.spillsFailed).toBe(0); // no write ever met ENOSPC
    expect(hal.freeBytes()).toBeGreaterThanOrEqual(marginBytes(tiny) - fileBytes);
    expect(stats.diskFreeBytes).toBe(capacityBytes - otherBytes - stats.diskBytesUsed);

    // Under evict-oldest the same limit holds; old files are given up to stay under it.
    const ringHal = new MemoryHal({ capacityBytes });
    const ring = deviceOn(tiny, ringHal);
    for (let round = 0; round < 40; round++) {
      ring.write(sectorsPerFile * perSector);
      ring.tick();
    }
    const ringStats = ring.device.stats();
    expect(ringStats.diskBytesUsed).toBeLessThanOrEqual(ringStats.diskBytesLimit);
    expect(ringStats.spillsFailed).toBe(0);
    expect(ringStats.filesDiscarded).toBeGreaterThan(0);
  });

  it("filled from outside: the next read lowers the limit and spills stop before ENOSPC; freed, they resume", () => {
    const hal = new MemoryHal({ capacityBytes: 64 * 1024 });
    const run = deviceOn(tiny, hal);
    run.write(sectorsPerFile * perSector * 3);
    run.tick();
    const before = run.device.stats();
    expect(before.spills).toBeGreaterThan(0);
    expect(before.diskBytesLimit).toBe(quotaLimit(tiny)); // the quota binds on a roomy filesystem
    expect(before.diskFreeBytes).toBe(hal.freeBytes());

    // Another process takes all but 500 bytes of the filesystem.
    hal.writeFile("other-process.bin", new Uint8Array(hal.freeBytes() - 500));
    const logAtFillBytes = run.device.stats().ackLogBytes;
    // Until the next read the core does not know (it reads at most once per interval) ...
    expect(run.device.stats().diskBytesLimit).toBe(quotaLimit(tiny));
    // ... and at the next check it does: room for 500 − margin bytes, which is no file at all.
    for (let round = 0; round < 10; round++) {
      run.write(sectorsPerFile * perSector);
      run.tick();
    }
    const full = run.device.stats();
    // The 500 bytes less what the ACK log has taken of them since (its records reserve numbers).
    const freeBytes = 500 - (full.ackLogBytes - logAtFillBytes);
    expect(full.diskBytesLimit).toBe(Math.max(0, full.diskBytesUsed + freeBytes - marginBytes(tiny)));
    expect(full.diskBytesLimit).toBeLessThan(full.diskBytesUsed + fileBytes);
    expect(full.diskFreeBytes).toBe(freeBytes);
    expect(hal.freeBytes()).toBe(freeBytes);
    expect(full.spills).toBe(before.spills);
    expect(full.spillsRefused).toBeGreaterThan(before.spillsRefused);
    expect(full.spillsFailed).toBe(0);
    expect(full.recordsWritten).toBe(full.recordsLive + full.recordsDiscarded + full.recordsAcked);

    // The other process goes away: at the next read the quota binds again and spills resume.
    hal.remove("other-process.bin");
    run.write(sectorsPerFile * perSector);
    run.tick();
    const freed = run.device.stats();
    expect(freed.diskBytesLimit).toBe(quotaLimit(tiny));
    expect(freed.spills).toBeGreaterThan(full.spills);
    expect(freed.spillsFailed).toBe(0);
  });

  it("a flush may use the whole quota but never more than the filesystem can take", () => {
    const capacityBytes = 1200;
    const hal = new MemoryHal({ capacityBytes });
    const run = deviceOn(tinyRefuseNew, hal);
    run.write(tiny.memory.sectorCount * perSector - 1);
    run.device.flushAllToDisk();
    for (let round = 0; round < 20; round++) run.tick();
    const stats = run.device.stats();
    const flushLimit = capacityBytes - (hal.usedBytes() - stats.diskBytesUsed) - marginBytes(tiny);
    expect(stats.spillsFailed).toBe(0);
    expect(stats.diskBytesUsed).toBeLessThanOrEqual(flushLimit);
    expect(stats.diskBytesUsed + fileBytes).toBeGreaterThan(flushLimit);
    expect(run.device.getFlushProgress()).toBeLessThan(101); // the filesystem is full: not all of RAM fits

    // On a filesystem as large as the quota the same flush goes past the spill threshold.
    const roomy = deviceOn(tiny, new MemoryHal({ capacityBytes: 1 << 20 }));
    roomy.write(tiny.memory.sectorCount * perSector - 1);
    roomy.device.setDiskUsagePercent(70);
    roomy.device.flushAllToDisk();
    for (let round = 0; round < 20; round++) roomy.tick();
    const quotaBytes = tiny.disk?.quotaBytes ?? 0;
    const offset = Math.floor(quotaBytes * 0.7);
    expect(roomy.device.stats().diskBytesUsed + offset).toBeGreaterThan(quotaLimit(tiny));
    expect(roomy.device.stats().diskBytesUsed + offset).toBeLessThanOrEqual(quotaBytes);
  });
});

describe("free space is read at a bounded rate (HAL freeBytes() calls counted)", () => {
  it("at most once per read interval of device time, however many ticks and records", () => {
    const hal = new MemoryHal({ capacityBytes: 1 << 20 });
    const run = deviceOn(tiny, hal);
    const perSector = tsdPerSector(tiny);
    expect(hal.stats().calls.freeBytes).toBe(0); // boot does not read
    // 5 s of device time in 1 ms ticks, RAM over its spill threshold on every tick.
    for (let tick = 0; tick < 5000; tick++) {
      run.write(perSector);
      run.tick(1);
      // Read back and acknowledge now and then so the disk tier keeps taking spills.
      if (tick % 50 === 49) {
        const pending = run.device.readBulk(1, 1, 8).length;
        run.device.ack(1, 1, pending);
      }
    }
    // The first check reads, then one read per 1000 ms: at T0+1, +1001, +2001, +3001, +4001
    // (ACK-log appends keep to those reads).
    expect(run.device.stats().ticks).toBe(5000);
    expect(hal.stats().calls.freeBytes).toBe(5);
  });

  it("records written between ticks read it at most once; a board with a longer tick reads once per tick", () => {
    const hal = new MemoryHal();
    const run = deviceOn(tiny, hal);
    // 3000 records overfill RAM: the writes spill on their own and check the limit, which reads
    // once; device time does not move between ticks, so no more reads follow.
    run.write(3000);
    expect(hal.stats().calls.freeBytes).toBe(1);
    run.tick(1);
    expect(hal.stats().calls.freeBytes).toBe(1);
    run.write(3000);
    run.tick(1);
    expect(hal.stats().calls.freeBytes).toBe(1);

    const slow: Board = { ...tiny, tier: { ...tiny.tier, tickIntervalMs: 5000 } };
    const slowHal = new MemoryHal();
    const slowRun = deviceOn(slow, slowHal);
    for (let tick = 0; tick < 10; tick++) {
      slowRun.write(100);
      slowRun.tick(5000);
    }
    // One read per tick, and one before the first: the first write that spilled checked the limit.
    expect(slowHal.stats().calls.freeBytes).toBe(11);
  });

  it("changing the usage offset forces a read at the next check", () => {
    const hal = new MemoryHal();
    const run = deviceOn(tiny, hal);
    run.write(1000);
    run.tick(1);
    expect(hal.stats().calls.freeBytes).toBe(1);
    run.device.setDiskUsagePercent(10);
    run.write(1000);
    run.tick(1);
    expect(hal.stats().calls.freeBytes).toBe(2);
  });
});

describe.skipIf(!tmpfsAvailable("disk-space: the real small-filesystem test"))(
  "on a real 1 MiB tmpfs (root): NodeFsHal reads statfs(2)",
  () => {
    let root: string;
    let mount: string;
    let tmpfs: Tmpfs | null = null;
    beforeEach(() => {
      root = storageDirMake();
      mount = path.join(root, "tmpfs");
      tmpfs = new Tmpfs(mount);
      tmpfs.mount("1m");
    });
    afterEach(() => {
      tmpfs?.unmount();
      storageDirRemove(root);
    });

    it("fc1-imx6 (a 256 MiB quota) spills until the filesystem is nearly full and never meets ENOSPC", () => {
      const board = withOverrides(loadBoard("fc1-imx6"), { diskFullPolicy: "refuse-new" });
      const storageDir = path.join(mount, "st");
      const hal = new NodeFsHal(storageDir);
      const run = deviceOn(board, hal, storageDir);
      // 100 ms ticks, 1,000 samples between two: RAM keeps reaching its spill threshold.
      for (let tick = 0; tick < 250; tick++) {
        run.write(1000);
        run.tick(board.tier.tickIntervalMs);
      }
      const stats = run.device.stats();
      const freeReal = fs.statfsSync(mount).bavail * fs.statfsSync(mount).bsize;
      expect(stats.spills).toBeGreaterThan(10);
      expect(stats.spillsFailed).toBe(0);
      expect(stats.spillsRefused).toBeGreaterThan(0);
      expect(stats.diskBytesLimit).toBeLessThan(1 << 20);
      expect(stats.diskBytesUsed).toBeLessThanOrEqual(stats.diskBytesLimit);
      expect(freeReal).toBeGreaterThan(0);
      expect(hal.stats().calls.freeBytes).toBeLessThanOrEqual(1 + (250 * board.tier.tickIntervalMs) / 1000);
    });
  },
);
