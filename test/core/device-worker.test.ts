// DeviceWorker: a Device on a worker thread, with the same methods returning promises. Shown here:
// every forwarded method exists with the Device's parameters; records written, flushed, read and
// acknowledged through the thread come back as a Device in this thread reads them after close();
// an error thrown in the thread is rejected here as the same class with the same message and
// properties (CoreError and its code, StorageError, DeviceClosedError); events and log lines reach
// the caller's listeners and logger, events before the promise of the call that caused them; the
// storage lock holds between the thread and this thread, another DeviceWorker and a child process;
// close() flushes, releases the lock and ends the thread. The thread runs the compiled package
// (dist/, built by `npm test`'s pretest).

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device, type DeviceEvents } from "../../host/core/device.js";
import { DeviceWorker } from "../../host/core/device-worker.js";
import { DEVICE_WORKER_METHODS, type DeviceWorkerForwarded } from "../../host/core/device-worker-protocol.js";
import { CoreError, DeviceClosedError } from "../../host/core/errors.js";
import * as abi from "../../host/core/abi.generated.js";
import { LOCK_FILE, StorageError } from "../../host/hal/storage-lock.js";

const root = mkdtempSync(join(tmpdir(), "imx-memsim-device-worker-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const board = loadBoard("esp32");
const entry = pathToFileURL(resolve("dist/host/index.js")).href;

/** The error `promise` rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("the promise resolved");
}

describe("DeviceWorker", () => {
  it("forwards every Device method it lists, with the Device's parameters", () => {
    // A compile-time check: each listed method takes the Device method's parameters and returns a
    // promise of its result (a missing or mistyped one fails `npm run typecheck`).
    const forwarded: (worker: DeviceWorker) => DeviceWorkerForwarded = (worker) => worker;
    expect(typeof forwarded).toBe("function");
    for (const method of DEVICE_WORKER_METHODS) {
      expect(typeof (DeviceWorker.prototype as unknown as Record<string, unknown>)[method], method).toBe("function");
      expect(typeof (Device.prototype as unknown as Record<string, unknown>)[method], method).toBe("function");
    }
  });

  it("writes, ticks, reads and acknowledges through the thread; close() flushes what is left", async () => {
    const dir = join(root, "records");
    const device = await DeviceWorker.create({ board, storageDir: dir });
    expect(device.hasDiskTier).toBe(true);
    expect(device.ramBytes).toBe(board.memory.ramBytes);
    expect(device.recovery).not.toBeNull();
    expect(await device.configureStream(2, 9, { type: "evt", dataType: "int32" })).toBe(0);
    await device.writeEvtMany(
      2,
      9,
      [...Array(100).keys()],
      [...Array(100).keys()].map((i) => 1_000 + i),
    );
    for (let i = 100; i < 120; i++) await device.writeEvt(2, 9, i, 1_000 + i);
    expect(await device.processMemory(2_000)).toBe(device.tierState);
    const first = await device.readBulk(2, 9, 30);
    expect(first.map((r) => r.value)).toEqual([...Array(30).keys()]);
    await device.ack(2, 9, 30);
    expect(await device.counts(2, 9)).toMatchObject({ total: 90, pending: 0 });
    const result = await device.close();
    expect(result).toMatchObject({ flushed: true, ramSectorsLeft: 0 });
    expect(device.closed).toBe(true);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

    // The records left are on the disk tier, for the next device (in this thread) to read.
    const next = Device.create({ board, storageDir: dir });
    next.configureStream(2, 9, { type: "evt", dataType: "int32" });
    expect(next.counts(2, 9)).toMatchObject({ total: 90, disk: 90 });
    expect(next.readBulk(2, 9, 90).map((r) => r.value)).toEqual([...Array(90).keys()].map((i) => 30 + i));
    await next.close();
  });

  it("rejects with the thread's error as the same class, message and properties", async () => {
    const device = await DeviceWorker.create({ board });
    const inThread = await rejection(device.writeEvt(4, 4, 1, 1));
    // The same call on a Device in this thread throws the same error.
    const local = Device.create({ board });
    let here: unknown = null;
    try {
      local.writeEvt(4, 4, 1, 1);
    } catch (error) {
      here = error;
    }
    expect(here).toBeInstanceOf(CoreError);
    expect(inThread).toBeInstanceOf(CoreError);
    expect(inThread).toBeInstanceOf(Error);
    expect(inThread.name).toBe("CoreError");
    expect(inThread.message).toBe((here as CoreError).message);
    expect(inThread).toMatchObject({
      code: abi.E_STREAM_UNKNOWN,
      codeName: "E_STREAM_UNKNOWN",
      operation: (here as CoreError).operation,
    });
    // Its stack shows the thread's frames and then this caller's.
    expect(inThread.stack).toContain("called from:");
    expect(inThread.stack).toContain("device-worker.test.ts");
    // A failed call leaves the device usable.
    await device.configureStream(4, 4, { type: "evt" });
    await device.writeEvt(4, 4, 1, 1);
    expect((await device.counts(4, 4)).total).toBe(1);
    await device.close();
    await local.close();

    // After close() every method rejects with DeviceClosedError.
    const closed = await rejection(device.counts(4, 4));
    expect(closed).toBeInstanceOf(DeviceClosedError);
    expect(closed.message).toMatch(/used after close\(\) \(counts\)/);
  });

  it("delivers events on this thread before the call that caused them resolves, and log lines to the logger", async () => {
    const lines: string[] = [];
    const push =
      (level: string) =>
      (line: string): void => {
        lines.push(`${level} ${line}`);
      };
    const device = await DeviceWorker.create({
      board,
      storageDir: join(root, "events"),
      log: "info",
      logger: { error: push("error"), warn: push("warn"), info: push("info"), debug: push("debug") },
    });
    const discards: Array<DeviceEvents["discard"]> = [];
    const spills: Array<DeviceEvents["spill"]> = [];
    device.on("discard", (payload) => discards.push(payload));
    device.on("spill", (payload) => spills.push(payload));
    await device.configureStream(1, 1, { type: "evt" });
    await device.writeEvtMany(1, 1, [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]);
    expect(await device.resetSensor(1, 1)).toBe(5);
    expect(discards).toEqual([{ source: 1, sensor: 1, reason: "reset", records: 5 }]);

    await device.writeEvtMany(
      1,
      1,
      [...Array(50).keys()],
      [...Array(50).keys()].map((i) => 10 + i),
    );
    await device.flushAllToDisk();
    for (let tick = 1; (await device.getFlushProgress()) !== abi.FLUSH_PROGRESS_COMPLETE && tick < 1000; tick++) {
      await device.processMemory(1_000 + tick * board.tier.tickIntervalMs);
    }
    const stats = await device.stats();
    expect(stats.spills).toBeGreaterThan(0);
    expect(spills.length).toBe(stats.spills);
    expect(spills.reduce((sum, s) => sum + s.sectors, 0)).toBe(stats.sectorsSpilled);
    expect(lines).toContainEqual(expect.stringMatching(/^info .*flush complete/));

    // A listener removed with off() hears nothing more.
    const removed: Array<DeviceEvents["discard"]> = [];
    const listener = (payload: DeviceEvents["discard"]): void => {
      removed.push(payload);
    };
    device.on("discard", listener).off("discard", listener);
    await device.writeEvt(1, 1, 1, 100);
    expect(await device.resetSensor(1, 1)).toBeGreaterThan(0);
    expect(removed).toEqual([]);
    expect(discards.length).toBe(2);
    await device.close();
  });

  it("holds the storage lock against this thread, another DeviceWorker and another process, until close()", async () => {
    const dir = join(root, "lock");
    const device = await DeviceWorker.create({ board, storageDir: dir });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    expect(() => Device.create({ board, storageDir: dir })).toThrow(StorageError);
    const second = await rejection(DeviceWorker.create({ board, storageDir: dir }));
    expect(second).toBeInstanceOf(StorageError);
    expect(second.message).toBe(
      `storage ${dir} is already open in this process (a Device or a run holds its lock: close() it first)`,
    );

    const script = `
      import { Device, loadBoard } from ${JSON.stringify(entry)};
      try {
        Device.create({ board: loadBoard("esp32"), storageDir: ${JSON.stringify(dir)} });
        process.stdout.write("opened");
      } catch (error) {
        process.stdout.write(error.name + ": " + error.message);
      }
    `;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(child.stdout).toBe(
      `StorageError: storage ${dir} is in use by another process (pid ${process.pid}): two processes never open one storage`,
    );

    await device.close();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const after = await DeviceWorker.create({ board, storageDir: dir });
    await after.close();
  });
});
