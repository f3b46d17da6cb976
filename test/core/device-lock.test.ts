// Device.create takes the storage lock that `imx-memsim run` takes (imx-memsim.lock), so that two
// Devices never open one storage: a second open in this process, or from a child process, is
// refused with a StorageError that says who holds it; close() flushes RAM to the disk tier and
// releases the lock; a device used after close() throws DeviceClosedError. A lock left by a child
// process killed with SIGKILL does not block: its holder is gone, and the next open takes it over
// with a warning. The child runs the compiled package (dist/, built by `npm test`'s pretest).

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { CoreLogger } from "../../host/core/log.js";
import { Device } from "../../host/core/device.js";
import { DeviceClosedError } from "../../host/core/errors.js";
import { LOCK_FILE, lockCheck, StorageError } from "../../host/hal/storage-lock.js";

const root = mkdtempSync(join(tmpdir(), "imx-memsim-device-lock-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const board = loadBoard("esp32");
const entry = pathToFileURL(resolve("dist/host/index.js")).href;

/** A child process that opens `dir` with Device.create and holds it until killed; resolves once it has. */
async function holder(dir: string): Promise<ChildProcess> {
  const script = `
    import { Device, loadBoard } from ${JSON.stringify(entry)};
    Device.create({ board: loadBoard("esp32"), storageDir: ${JSON.stringify(dir)} });
    process.stdout.write("open\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolveOpen, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("open")) resolveOpen();
    });
    child.on("exit", (code) => reject(new Error(`the child exited (${code}) before opening: ${stderr}`)));
  });
  return child;
}

describe("the storage lock of Device.create", () => {
  it("refuses a second open in this process until close(), which releases it", async () => {
    const dir = join(root, "in-process");
    const device = Device.create({ board, storageDir: dir });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    expect(() => Device.create({ board, storageDir: dir })).toThrow(StorageError);
    expect(() => Device.create({ board, storageDir: dir })).toThrow(/already open in this process.*close\(\) it first/);
    // A run (which checks the lock before it starts) is refused too.
    expect(() => lockCheck(resolve(dir), dir)).toThrow(/open in this process/);

    const result = await device.close();
    expect(result.flushed).toBe(true);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect(await device.close()).toBe(result);
    const again = Device.create({ board, storageDir: dir });
    await again.close();
  });

  it("close() flushes RAM to the disk tier: the next device reads every record back", async () => {
    const dir = join(root, "flush");
    const device = Device.create({ board, storageDir: dir });
    device.configureStream(3, 7, { type: "evt" });
    for (let i = 0; i < 50; i++) device.writeEvt(3, 7, i, 1_000 + i);
    expect(device.counts(3, 7).ram).toBe(50);
    const result = await device.close();
    expect(result).toMatchObject({ flushed: true, ramSectorsLeft: 0 });
    expect(result.ticks).toBeGreaterThan(0);

    const next = Device.create({ board, storageDir: dir });
    expect(next.counts(3, 7)).toMatchObject({ total: 50, disk: 50, ram: 0 });
    expect(next.readBulk(3, 7, 50).map((r) => r.value)).toEqual([...Array(50).keys()]);
    await next.close();
  });

  it("a closed device throws DeviceClosedError, naming its storage", async () => {
    const dir = join(root, "closed");
    const device = Device.create({ board, storageDir: dir });
    device.configureStream(0, 1, { type: "evt" });
    await device.close();
    expect(device.closed).toBe(true);
    expect(() => device.writeEvt(0, 1, 1, 1)).toThrow(DeviceClosedError);
    expect(() => device.processMemory(1)).toThrow(`the device (esp32 on ${dir}) was used after close()`);
    expect(() => device.stats()).toThrow(DeviceClosedError);
    expect(() => device.getCleanupProgress()).toThrow(DeviceClosedError);
  });

  it("refuses a storage that a child process holds, and takes it over once SIGKILL ended that process", async () => {
    const dir = join(root, "child");
    const child = await holder(dir);
    try {
      expect(() => Device.create({ board, storageDir: dir })).toThrow(
        `storage ${dir} is in use by another process (pid ${child.pid})`,
      );
    } finally {
      const exited = new Promise((resolveExit) => child.on("exit", resolveExit));
      child.kill("SIGKILL");
      await exited;
    }
    // The lock is still there, naming a process that no longer runs: the next open takes it over.
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8"))).toMatchObject({ pid: child.pid });
    const lines: string[] = [];
    const device = Device.create({ board, storageDir: dir, log: new CoreLogger("warn", (line) => lines.push(line)) });
    expect(lines).toContainEqual(expect.stringMatching(/taking over a stale lock \(pid \d+ is not running\)/));
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid });
    await device.close();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it("lock: false takes no lock (the caller holds it), and a device given only a HAL takes none", async () => {
    const dir = join(root, "no-lock");
    const device = Device.create({ board, storageDir: dir, lock: false });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    await device.close();
  });
});
