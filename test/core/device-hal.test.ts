// The device's HAL: the one the caller passes is used as it is (even with a storage directory
// named); without one, a storage directory gets a NodeFsHal on it and no directory a MemoryHal.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";

const board = loadBoard("tiny");
const dir = mkdtempSync(join(tmpdir(), "imx-memsim-device-hal-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("the device's HAL", () => {
  it("is the one passed in, used as it is", () => {
    const hal = new MemoryHal();
    const device = Device.create({ board, hal, storageDir: dir });
    expect(device.hal).toBe(hal);
  });

  it("is a NodeFsHal on the storage directory by default", () => {
    const device = Device.create({ board, storageDir: dir });
    expect(device.hal).toBeInstanceOf(NodeFsHal);
  });

  it("is a MemoryHal without a storage directory", () => {
    expect(Device.create({ board }).hal).toBeInstanceOf(MemoryHal);
  });
});
